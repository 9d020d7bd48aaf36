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
* a list of documents (anything with a ``page_content``, a ``get_content()`` or a
  ``text``: LangChain Documents, LlamaIndex documents and nodes; duck-typed, nothing is
  imported): the canonical JSON of ``[{"id", "content", "metadata"}, ...]``.
* anything else JSON-able (dict, list, str, numbers, bool, None): canonical JSON, i.e.
  keys sorted, no whitespace, UTF-8, NaN and infinities refused.

Dataset members. A list of documents, and (when logged as ``kind="dataset"``) a
DataFrame or Arrow table, a JSONL file or a JSON list of records with a text column
(`TEXT_KEYS`), also yield one *member* per document: the sha256 hex of its text's UTF-8
bytes (`member_hash`) and its id if it has one (`ID_KEYS`). Lineage hashes the documents
a retriever returned the same way, so a retrieved document links to the dataset that
holds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
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
    members: Members | None = None


@dataclass(frozen=True)
class Members:
    """The documents of a dataset: text hashes and ids (None where a document has none),
    in the dataset's order."""

    content_sha256: tuple[str, ...]
    ids: tuple[str | None, ...]


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


def member_hash(text: str) -> str:
    """The sha256 hex of a document's text (UTF-8): how members are matched.

    Example:
        >>> member_hash("Cats sleep sixteen hours a day.")[:8]
        'de1a91c8'
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


TEXT_KEYS = ("page_content", "text", "content", "document")
"""Where a record's text is: the first of these keys (or columns) that holds a string."""
ID_KEYS = ("id", "id_", "doc_id", "document_id", "node_id")
"""Where a record's or document's id is: the first of these that holds a non-empty string."""


def document_text(obj: object) -> str | None:
    """The text of a LangChain Document (``page_content``) or a LlamaIndex document or
    node (``get_content()``, else ``text``); None for anything else."""
    if isinstance(obj, str | bytes | Mapping) or obj is None:
        return None
    text = getattr(obj, "page_content", None)
    if isinstance(text, str):
        return text
    get_content = getattr(obj, "get_content", None)
    if callable(get_content):
        content = get_content()
        if isinstance(content, str):
            return content
    text = getattr(obj, "text", None)
    return text if isinstance(text, str) else None


def _first_id(get: Any) -> str | None:
    for key in ID_KEYS:
        value = get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _documents(items: list[Any]) -> Hashed | None:
    if not items or document_text(items[0]) is None:  # most lists are not documents
        return None
    texts = [document_text(item) for item in items]
    if any(text is None for text in texts):
        return None
    from tracetape.spans.encode import to_jsonable

    ids = [_first_id(lambda key, item=item: getattr(item, key, None)) for item in items]
    canonical = [
        {"id": doc_id, "content": text, "metadata": to_jsonable(getattr(item, "metadata", {}))}
        for item, doc_id, text in zip(items, ids, texts, strict=True)
    ]
    members = Members(tuple(member_hash(t) for t in texts if t is not None), tuple(ids))
    metadata = {"format": "documents", "documents": len(items)}
    hashed = _bytes(canonical_json(canonical), "documents", metadata, ".json")
    return replace(hashed, members=members)


def record_members(records: Iterable[Mapping[str, Any]]) -> Members | None:
    """Members of records (rows of a table, lines of a JSONL file): the text under the
    first `TEXT_KEYS` key of each; None when some record has no text."""
    hashes: list[str] = []
    ids: list[str | None] = []
    for record in records:
        text = next((record[k] for k in TEXT_KEYS if isinstance(record.get(k), str)), None)
        if text is None:
            return None
        hashes.append(member_hash(text))
        ids.append(_first_id(record.get))
    return Members(tuple(hashes), tuple(ids)) if hashes else None


def dataset_members(obj: object, hashed: Hashed) -> Members | None:
    """Members of something logged as a dataset: a table, a JSON list of records or a
    JSONL file with a text column; None when it has none (or is anything else)."""
    if hashed.members is not None:
        return hashed.members
    if isinstance(obj, list) and all(isinstance(r, Mapping) for r in obj):  # pyright: ignore[reportUnknownVariableType]
        return record_members(obj)  # pyright: ignore[reportUnknownArgumentType]
    if hashed.payload is not None and hashed.kind == "table":
        table = pa.ipc.open_stream(hashed.payload).read_all()
        text_columns = [k for k in TEXT_KEYS if k in table.column_names]
        if not text_columns:
            return None
        keep = [c for c in (*text_columns, *ID_KEYS) if c in table.column_names]
        return record_members(table.select(keep).to_pylist())
    if hashed.path is not None and hashed.kind == "file" and hashed.path.suffix == ".jsonl":
        try:
            with hashed.path.open(encoding="utf-8") as f:
                return record_members(_json_lines(f))
        except (ValueError, TypeError):  # not JSON lines of objects: a file, no members
            return None
    return None


def _json_lines(lines: Iterable[str]) -> Iterator[Mapping[str, Any]]:
    """The objects of a JSONL file, read line by line; `TypeError` for a non-object line."""
    for line in lines:
        if line.strip():
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("a JSONL line that is not an object")
            yield record  # pyright: ignore[reportUnknownReturnType]


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
    if isinstance(obj, list | tuple):
        documents = _documents(list(obj))  # pyright: ignore[reportUnknownArgumentType]
        if documents is not None:
            return documents
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
