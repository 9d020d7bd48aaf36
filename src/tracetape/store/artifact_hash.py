"""Content addresses of artifacts: ``sha256:`` + 64 hex characters. Pure, no I/O but reads.

What is hashed, per kind of thing logged:

* a file: its bytes.
* a directory: a manifest of every regular file under it, one line per file sorted by
  its POSIX path relative to the directory, ``path NUL sha256-of-bytes NUL size LF``
  (so names and contents count, timestamps and permissions do not; symlinks to files
  count as the files they point to, empty folders not at all).
* a pandas DataFrame (index included as columns), a pyarrow Table or RecordBatch: the
  Arrow IPC stream of the table with its chunks combined and its schema metadata
  dropped, so pandas' own metadata (its version) does not change the id. Stable for
  the same content across processes and pyarrow versions of the same IPC format.
* a pydantic model: ``model_dump(mode="json")`` as canonical JSON.
* ``bytes``: those bytes.
* anything else JSON-able (dict, list, str, numbers, bool, None): canonical JSON, i.e.
  keys sorted, no whitespace, UTF-8, NaN and infinities refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

PREFIX = "sha256:"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Hashed:
    """An artifact's content address and what was measured on the way.

    ``payload`` holds the canonical bytes of an in-memory object (what ``copy=True``
    stores); files and directories are copied from ``path`` instead.
    """

    artifact_id: str
    kind: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    path: Path | None = None
    payload: bytes | None = None
    suffix: str = ""


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def hash_file(path: Path) -> Hashed:
    """The sha256 of a file's bytes.

    Example:
        >>> hash_file(Path("data/questions.jsonl")).artifact_id[:7]
        'sha256:'
    """
    hexdigest, size = _file_digest(path)
    return Hashed(PREFIX + hexdigest, "file", size, {"format": "bytes"}, path, None, path.suffix)


def hash_directory(path: Path) -> Hashed:
    """The sha256 of a directory's sorted manifest (see the module docstring)."""
    entries: list[tuple[str, str, int]] = []
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for name in files:
            full = Path(root) / name
            if not full.is_file():
                continue  # sockets, fifos, broken symlinks: no content to address
            hexdigest, size = _file_digest(full)
            entries.append((full.relative_to(path).as_posix(), hexdigest, size))
    entries.sort()
    manifest = "".join(f"{rel}\0{hexdigest}\0{size}\n" for rel, hexdigest, size in entries)
    total = sum(size for _, _, size in entries)
    digest = hashlib.sha256(manifest.encode("utf-8")).hexdigest()
    metadata = {"format": "directory-manifest", "files": len(entries)}
    return Hashed(PREFIX + digest, "directory", total, metadata, path)


def canonical_json(value: Any) -> bytes:
    """Keys sorted, no whitespace, UTF-8; raises `ValueError` for NaN or infinities.

    Example:
        >>> canonical_json({"b": 1, "a": [1.5, None]})
        b'{"a":[1.5,null],"b":1}'
    """
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _is_dataframe(obj: object) -> bool:
    pandas = sys.modules.get("pandas")  # never import pandas just to ask
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def _is_pydantic(obj: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(obj, pydantic.BaseModel)


def _arrow_bytes(table: pa.Table) -> bytes:
    table = table.replace_schema_metadata(None).combine_chunks()
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _table(obj: pa.Table | pa.RecordBatch, source: str) -> Hashed:
    table = pa.Table.from_batches([obj]) if isinstance(obj, pa.RecordBatch) else obj
    payload = _arrow_bytes(table)
    metadata: dict[str, Any] = {
        "format": "arrow-ipc",
        "source": source,
        "rows": table.num_rows,
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
    }
    digest = hashlib.sha256(payload).hexdigest()
    return Hashed(PREFIX + digest, "table", len(payload), metadata, None, payload, ".arrows")


def _bytes(payload: bytes, kind: str, metadata: dict[str, Any], suffix: str) -> Hashed:
    digest = hashlib.sha256(payload).hexdigest()
    return Hashed(PREFIX + digest, kind, len(payload), metadata, None, payload, suffix)


def hash_object(obj: object) -> Hashed:
    """The content address of an in-memory object (see the module docstring).

    Raises `TypeError` for an object with no canonical form (a set, a custom class).

    Example:
        >>> hash_object({"k": 4}).artifact_id == hash_object({"k": 4}).artifact_id
        True
    """
    if isinstance(obj, pa.Table | pa.RecordBatch):
        return _table(obj, "pyarrow")
    if _is_dataframe(obj):
        return _table(pa.Table.from_pandas(obj, preserve_index=True), "pandas")
    if isinstance(obj, bytes | bytearray | memoryview):
        return _bytes(bytes(obj), "bytes", {"format": "bytes"}, ".bin")
    if _is_pydantic(obj):
        dumped = obj.model_dump(mode="json")  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownVariableType]
        cls = type(obj)
        metadata = {"format": "json", "class": f"{cls.__module__}.{cls.__qualname__}"}
        return _bytes(canonical_json(dumped), "json", metadata, ".json")
    try:
        payload = canonical_json(obj)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "log_artifact takes a path (str or os.PathLike), bytes, a pandas DataFrame, a "
            "pyarrow Table, a pydantic model or JSON-able data (dicts, lists, strings, "
            f"finite numbers), not {type(obj).__name__}: {exc}"
        ) from exc
    return _bytes(payload, "json", {"format": "json"}, ".json")


def hash_path(path: Path) -> Hashed:
    """A file's or a directory's content address; `FileNotFoundError` if neither."""
    if path.is_dir():
        return hash_directory(path)
    if path.is_file():
        return hash_file(path)
    raise FileNotFoundError(f"no file or directory at {path} to log as an artifact")
