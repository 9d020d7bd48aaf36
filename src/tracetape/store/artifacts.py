"""Artifacts: content-addressed records of what a run read and wrote.

`log` hashes the thing (`tracetape.store.artifact_hash`), optionally copies it into the
tape's artifact folder (``tape.artifacts/`` beside ``tape.duckdb``, one entry per content
id, never written twice), and spools two rows: the artifact (one per content however
often it is logged) and a link (one per logging: run, span, role, name, URI). Nothing
waits on the DuckDB file.

A dataset's members (see `artifact_hash.dataset_members`) are stored as one content
blob (the ``blobs`` view, keyed by its sha256 like span payloads):
``{"format": "tracetape.members/1", "content_sha256": [...], "ids": [...]}``, and the
artifact's metadata says where: ``{"members": {"count": N, "blob": "<hex>"}}``. `link`
adds a link without logging content again (``run.link``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from tracetape.spans.encode import content_hash, dumps, to_jsonable
from tracetape.store import spool
from tracetape.store.artifact_hash import Hashed, Members, dataset_members, hash_object, hash_path
from tracetape.store.schema.tables import ARTIFACT_LINK_SCHEMA, ARTIFACT_SCHEMA, BLOB_SCHEMA

Role = Literal["input", "output"]
ROLES: tuple[Role, ...] = ("input", "output")
MEMBERS_FORMAT = "tracetape.members/1"


class Artifact(BaseModel):
    """One logged artifact: its content id and where and how it was logged.

    Example:
        >>> a = run.log_artifact("data/questions.jsonl", kind="dataset")
        >>> a.artifact_id[:7], a.size
        ('sha256:', 1280)
    """

    model_config = ConfigDict(frozen=True)

    artifact_id: str
    """``sha256:`` + 64 hex characters of the content (see `artifact_hash`)."""
    kind: str
    name: str
    uri: str | None
    """Where the content is: the logged file or directory, or its copy in the tape."""
    size: int
    """Bytes of the file, of every file of a directory, or of the canonical form."""
    metadata: dict[str, Any]
    created_at: dt.datetime
    run_id: str | None
    span_id: str | None
    role: Role
    link_id: str


def artifact_dir(tape_path: Path) -> Path:
    """``.tracetape/tape.duckdb`` -> ``.tracetape/tape.artifacts``."""
    return tape_path.with_name(tape_path.stem + ".artifacts")


def _copy(hashed: Hashed, folder: Path) -> Path:
    """Store the content under its id in ``folder`` (once: the same id is the same bytes)."""
    hexdigest = hashed.artifact_id.removeprefix("sha256:")
    target = folder / (hexdigest + hashed.suffix)
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        if hashed.payload is not None:
            tmp.write_bytes(hashed.payload)
        elif hashed.path is not None and hashed.path.is_dir():
            shutil.copytree(hashed.path, tmp, symlinks=False)
        elif hashed.path is not None:
            shutil.copyfile(hashed.path, tmp)
        # Another process may have stored the same content meanwhile: theirs is as good.
        if target.exists():
            _remove(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _measure(obj: object) -> Hashed:
    if isinstance(obj, str | os.PathLike):
        return hash_path(Path(os.fspath(obj)).expanduser().resolve())  # pyright: ignore[reportUnknownArgumentType]
    return hash_object(obj)


def log(
    tape_path: Path,
    obj: object,
    *,
    kind: str | None = None,
    name: str | None = None,
    role: Role = "input",
    metadata: dict[str, Any] | None = None,
    copy: bool = False,
    run_id: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
) -> Artifact:
    """Hash ``obj``, optionally copy it into the tape, and spool its artifact and link rows.

    ``obj`` is a path (``str`` or ``os.PathLike``: a file or a directory) or an
    in-memory object (see `artifact_hash.hash_object`). ``kind`` defaults to what was
    hashed (``file``, ``directory``, ``table``, ``documents``, ``json``, ``bytes``); ``name`` to the
    file's name or the kind.

    Example:
        >>> log(path, "data/questions.jsonl", kind="dataset", run_id="run-1f...")
        Artifact(artifact_id='sha256:9c1...', kind='dataset', ...)
    """
    if role not in ROLES:
        raise ValueError(f"an artifact's role is 'input' or 'output', not {role!r}")
    hashed = _measure(obj)
    uri = hashed.path.as_uri() if hashed.path is not None else None
    if copy:
        uri = _copy(hashed, artifact_dir(tape_path).resolve()).as_uri()
    folder = spool.spool_dir(tape_path)
    members = hashed.members
    if members is None and (kind or hashed.kind) == "dataset":
        members = dataset_members(obj, hashed)
    extra: dict[str, Any] = {}
    if members is not None:
        extra["members"] = {"count": len(members.ids), "blob": _write_members(folder, members)}
    meta_safe = to_jsonable({**hashed.metadata, **extra, **(metadata or {})})
    now = dt.datetime.now(dt.UTC)
    artifact = Artifact(
        artifact_id=hashed.artifact_id,
        kind=kind or hashed.kind,
        name=name or (hashed.path.name if hashed.path is not None else kind or hashed.kind),
        uri=uri,
        size=hashed.size,
        metadata=meta_safe if isinstance(meta_safe, dict) else {},
        created_at=now,
        run_id=run_id,
        span_id=span_id,
        role=role,
        link_id=uuid.uuid4().hex,
    )
    row = artifact.model_dump(include=set(ARTIFACT_SCHEMA.names))
    row["metadata"] = json.dumps(artifact.metadata, sort_keys=True)
    # The artifact before its link: a reader that sees a link always finds its artifact.
    spool.write_segment(folder, "artifacts", pa.Table.from_pylist([row], schema=ARTIFACT_SCHEMA))
    link_row = artifact.model_dump(include=set(ARTIFACT_LINK_SCHEMA.names))
    link_row["trace_id"] = trace_id
    spool.write_segment(
        folder, "artifact_links", pa.Table.from_pylist([link_row], schema=ARTIFACT_LINK_SCHEMA)
    )
    return artifact


def _write_members(folder: Path, members: Members) -> str:
    """Spool the members as one blob; returns its hash (the same members, the same blob)."""
    content = dumps(
        {"format": MEMBERS_FORMAT, "content_sha256": list(members.content_sha256),
         "ids": list(members.ids)}
    )  # fmt: skip
    digest = content_hash(content)
    row = {"hash": digest, "content": content, "size": len(content.encode("utf-8"))}
    spool.write_segment(folder, "blobs", pa.Table.from_pylist([row], schema=BLOB_SCHEMA))
    return digest


def link(
    tape_path: Path,
    artifact_id: str,
    *,
    role: Role = "input",
    run_id: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
    name: str | None = None,
) -> str:
    """Spool one link of an already logged artifact to a run, trace or span; its id.

    Example:
        >>> link(path, "sha256:9c1...", run_id="run-1f...", span_id="00f067aa0ba902b7")
        '4b1e...'
    """
    if role not in ROLES:
        raise ValueError(f"an artifact's role is 'input' or 'output', not {role!r}")
    link_id = uuid.uuid4().hex
    row = {
        "link_id": link_id, "artifact_id": artifact_id, "run_id": run_id,
        "trace_id": trace_id, "span_id": span_id, "role": role, "name": name, "uri": None,
        "created_at": dt.datetime.now(dt.UTC),
    }  # fmt: skip
    spool.write_segment(
        spool.spool_dir(tape_path), "artifact_links",
        pa.Table.from_pylist([row], schema=ARTIFACT_LINK_SCHEMA),
    )  # fmt: skip
    return link_id
