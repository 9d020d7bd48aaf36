"""`Run` and the scope ``tape.run(...)`` returns: a context manager and a decorator.

Entering the scope records the run's start (its name, params, tags, parent run, the
environment snapshot and the OpenTelemetry trace and span it started inside, if any) and
makes it the current run, so every span recorded inside carries its id (see
`tracetape.spans.run_context`). Leaving records its end: ``finished``, or ``failed`` with
the error's type and message when the block raised (the error is re-raised unchanged).
Recording failures go through the error boundary: they never mask the user's error.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import trace

from tracetape._safety import boundary
from tracetape.spans import run_context
from tracetape.spans.recorder import ambient_parent
from tracetape.store import artifacts, runs
from tracetape.store.artifacts import Artifact, Role
from tracetape.store.runs import RunRecord

F = TypeVar("F", bound=Callable[..., Any])
_HEX = re.compile("[0-9a-f]+")

_active: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "tracetape_active_run", default=None
)
_env_lock = threading.Lock()
_env_written: set[tuple[Path, str]] = set()


def current_run() -> Run | None:
    """The run open in this context (the innermost one), if any.

    Example:
        >>> @tape.run("nightly-eval")
        ... def evaluate():
        ...     current_run().log_artifact(report, kind="eval-report", role="output")
    """
    return _active.get()


def _ambient_ids() -> tuple[str | None, str | None]:
    """The trace and span a run starts inside (the user's OTel span or a capture span)."""
    parent = ambient_parent()
    if parent is None:
        return None, None
    ctx = trace.get_current_span(parent).get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class Run:
    """An open pipeline run: what ``with tape.run(...) as run`` gives.

    Example:
        >>> with tape.run("nightly-eval", params={"k": 4}) as run:
        ...     run.log_artifact("data/questions.jsonl", kind="dataset")
        ...     graph.invoke(x, config={"callbacks": [tape.langchain()]})
    """

    def __init__(self, tape_path: Path, record: RunRecord) -> None:
        self.tape_path = tape_path
        self.record = record

    def __repr__(self) -> str:
        return f"Run({self.record.run_id!r}, name={self.record.name!r})"

    @property
    def run_id(self) -> str:
        """``run-`` + 32 hex characters."""
        return self.record.run_id

    @property
    def parent_run_id(self) -> str | None:
        """The run this one is nested in, if any."""
        return self.record.parent_run_id

    @property
    def environment_id(self) -> str | None:
        """The environment snapshot (``env-...``) of the process the run ran in."""
        return self.record.environment_id

    def log_artifact(
        self,
        obj: object,
        *,
        kind: str | None = None,
        name: str | None = None,
        role: Role = "input",
        metadata: dict[str, Any] | None = None,
        copy: bool = False,
    ) -> Artifact:
        """Record a file, directory, DataFrame, Arrow table, pydantic model, list of
        documents (LangChain Documents, LlamaIndex documents or nodes) or JSON-able object
        this run read (``role="input"``) or wrote (``"output"``).

        Content-addressed: the same content is one artifact however often it is logged;
        each call adds a link (this run, the span open here, the role, name and URI).
        ``copy=True`` also stores the content in the tape's artifact folder. Documents,
        and with ``kind="dataset"`` a table, JSONL file or list of records with a text
        column, also keep a hash of each document's text, so `Tape.lineage` links the
        documents a retriever returns to the dataset that holds them.

        Example:
            >>> run.log_artifact(docs, kind="dataset")     # before building the index
            >>> run.log_artifact(scores_df, kind="eval-report", role="output", copy=True)
        """
        trace_id, span_id = _ambient_ids()
        return artifacts.log(
            self.tape_path, obj, kind=kind, name=name, role=role, metadata=metadata,
            copy=copy, run_id=self.run_id, trace_id=trace_id, span_id=span_id,
        )  # fmt: skip

    def link(self, target: str, artifact: Artifact | str, *, role: Role = "input") -> str:
        """Link an artifact already logged (an `Artifact` or its ``sha256:`` id) to a
        trace (32 hex characters) or a span (16) this run recorded: the trace or span
        read it (``role="input"``) or wrote it (``"output"``). Returns the link's id.

        `tape.lineage` then walks from the artifact to that trace or span and back.

        Example:
            >>> docs = run.log_artifact(documents, kind="dataset")
            >>> run.link(trace_id, docs)
        """
        artifact_id = artifact.artifact_id if isinstance(artifact, Artifact) else artifact
        if not artifact_id.startswith("sha256:"):
            raise ValueError(f"an artifact id starts with 'sha256:', not {artifact_id!r}")
        target = target.strip().lower()
        if not _HEX.fullmatch(target) or len(target) not in (16, 32):
            raise ValueError(
                f"link to a trace id (32 hex characters) or a span id (16), not {target!r}"
            )
        trace_id, span_id = (target, None) if len(target) == 32 else (None, target)
        return artifacts.link(
            self.tape_path, artifact_id, role=role, run_id=self.run_id, trace_id=trace_id,
            span_id=span_id,
        )  # fmt: skip


class RunScope:
    """What ``tape.run(name, ...)`` returns: use it with ``with`` or as a decorator.

    As a decorator every call is a run of its own (sync and async functions).

    Example:
        >>> @tape.run("index-build", tags=["nightly"])
        ... def build(): ...
    """

    def __init__(
        self,
        tape_path: Path,
        environment: Mapping[str, Any],
        name: str,
        params: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():  # pyright: ignore[reportUnnecessaryIsInstance] - user input
            raise ValueError("a run needs a name, e.g. tape.run('nightly-eval')")
        self.tape_path = tape_path
        self.environment = environment
        self.name = name
        self.params = runs.params_json(params)
        self.tags = runs.check_tags(tags)
        self._stack: list[tuple[Run, contextvars.Token[Any], contextvars.Token[Any]]] = []

    def _start(self) -> Run:
        parent = _active.get()
        trace_id, span_id = _ambient_ids()
        env_id = self.environment.get("environment_id")
        record = RunRecord(
            run_id=run_context.new_run_id(),
            name=self.name,
            parent_run_id=parent.run_id if parent is not None else None,
            params=self.params,
            tags=self.tags,
            start_time=dt.datetime.now(dt.UTC),
            environment_id=env_id if isinstance(env_id, str) else None,
            trace_id=trace_id,
            parent_span_id=span_id,
        )
        with boundary("run.start"):
            self._write_environment()
            runs.write(self.tape_path, record)
        return Run(self.tape_path, record)

    def _write_environment(self) -> None:
        env_id = self.environment.get("environment_id")
        key = (self.tape_path.resolve(), str(env_id))
        with _env_lock:
            if env_id is None or key in _env_written:
                return
            runs.write_environment(self.tape_path, dict(self.environment))
            _env_written.add(key)

    def __enter__(self) -> Run:
        run = self._start()
        ctx = run_context.RunContext(run.run_id, run.parent_run_id)
        token = run_context.current_run.set(ctx)
        active_token = _active.set(run)
        run_context.opened(ctx)
        self._stack.append((run, token, active_token))
        return run

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        run, token, active_token = self._stack.pop()
        run_context.current_run.reset(token)
        _active.reset(active_token)
        run_context.closed(run.run_id)
        end = dt.datetime.now(dt.UTC)
        if exc is None:
            record = run.record.model_copy(update={"status": "finished", "end_time": end})
        else:
            error_type, message = runs.error_fields(exc)
            record = run.record.model_copy(
                update={"status": "failed", "end_time": end, "error_type": error_type,
                        "error_message": message}
            )  # fmt: skip
        run.record = record
        with boundary("run.end"):
            runs.write(self.tape_path, record)

    def _fresh(self) -> RunScope:
        # A decorated function may run in several threads at once: one scope per call.
        scope = RunScope(self.tape_path, self.environment, self.name)
        scope.params, scope.tags = self.params, self.tags
        return scope

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await fn(*args, **kwargs)

            return awrapper  # type: ignore[return-value]  # pyright: ignore[reportReturnType]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # pyright: ignore[reportReturnType]
