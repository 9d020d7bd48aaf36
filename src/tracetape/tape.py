"""`Tape`: the one composition root. Thin methods that delegate to the layers."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import importlib.metadata
import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from tracetape._safety import report
from tracetape.capture.manual import default_recorder, set_default_recorder
from tracetape.errors import (
    FlushError,
    IntegrationMissingError,
    NotFoundError,
    TapeError,
    TapeLockedError,
)
from tracetape.inspect import frames
from tracetape.inspect.frames import Format, TraceFilter
from tracetape.runs.run import RunScope
from tracetape.settings import Settings
from tracetape.spans.content import ContentStore
from tracetape.spans.environment import snapshot
from tracetape.spans.pipeline import DurableBatchProcessor, build_provider, environment_resource
from tracetape.spans.recorder import Recorder
from tracetape.spans.run_context import RunStampProcessor
from tracetape.store import access, retention, scores
from tracetape.store import export as store_export
from tracetape.store.exporter import TapeSpanExporter

if TYPE_CHECKING:
    import pandas as pd

    from tracetape.diff import Diff
    from tracetape.inspect.reader import TapeReader
    from tracetape.inspect.render.plot import Plot
    from tracetape.inspect.span import SpanNode
    from tracetape.inspect.trace import Trace
    from tracetape.lineage import Lineage
    from tracetape.replay import Replay, Rerun
    from tracetape.replay.recordings import Recordings
    from tracetape.replay.session import Source as ReplaySource

logger = logging.getLogger("tracetape")
_TRACE_ID_CHARS = 32


def _version() -> str:
    try:
        return importlib.metadata.version("tracetape")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "0.0.0"


_open_tapes: weakref.WeakSet[Tape] = weakref.WeakSet()


class Tape:
    """A tape: where spans are recorded and read back.

    Get one with `tracetape.open()`.

    Example:
        >>> tape = tracetape.open("runs/tape.duckdb")
        >>> graph.invoke(inputs, config={"callbacks": [tape.langchain()]})
        >>> tape.flush()
        >>> tape.sql("select name, duration_ms from spans where kind = 'llm'")
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tracer_provider: TracerProvider | None = None,
        otlp: bool | None = None,
    ) -> None:
        self.settings = settings
        self.path = settings.path
        # Another process holding the file must not stop recording: the first fold
        # that gets it creates or upgrades the schema instead.
        access.create_or_upgrade(self.path, settings.lock_timeout, defer_if_held=True)
        self.snapshot = snapshot()
        """This process's environment snapshot (``tape.environment()`` returns it too)."""
        self._exporter = TapeSpanExporter(self.path, self.snapshot)
        self._processor = DurableBatchProcessor(
            self._exporter,
            max_queue=settings.queue_spans,
            batch_size=settings.batch_spans,
            interval=settings.flush_interval,
        )
        # The run stamp first: it sets an attribute at start, before any export.
        processors: list[SpanProcessor] = [RunStampProcessor(), self._processor]
        self._otlp: SpanProcessor | None = None
        if otlp if otlp is not None else settings.otlp:
            self._otlp = _otlp_processor()
            processors.append(self._otlp)
        if tracer_provider is None:
            self._provider = build_provider(
                processors, environment_resource(self.snapshot["environment_id"])
            )
            self._owns_provider = True
        else:
            for processor in processors:
                tracer_provider.add_span_processor(processor)
            self._provider = tracer_provider
            self._owns_provider = False
        self.recorder = Recorder(
            tracer=self._provider.get_tracer("tracetape", _version()),
            content=ContentStore(settings.max_blob_bytes),
            settings=settings,
        )
        self._handler: Any = None
        self._llamaindex: Any = None
        self._handler_lock = threading.Lock()
        self._flushed = 0
        self._replayed = False
        """A replay or re-run ended since the last read (its spans may still be queued)."""
        self._closed = False
        set_default_recorder(self.recorder)
        _open_tapes.add(self)

    def __repr__(self) -> str:
        return f"Tape({str(self.path)!r})"

    @functools.cached_property
    def _tape_reader(self) -> TapeReader:
        # Imported on first read: pandas and the renderers cost ~0.5 s a recorder never needs.
        from tracetape.inspect.reader import TapeReader

        return TapeReader(self.path, self.settings.lock_timeout)

    @property
    def _reader(self) -> TapeReader:
        """The reader, once what this process recorded and still holds queued is in the
        spool: a read sees the run that just ended (read your own writes)."""
        if self._replayed or self._processor.pending():
            try:
                self._spool()
                self._replayed = False
            except FlushError as exc:  # still queued, retried by the next read; this one goes on
                logger.warning("tracetape: recent spans are not on the tape yet: %s", exc)
        return self._tape_reader

    # -- recording ---------------------------------------------------------------------
    def langchain(self) -> Any:
        """The LangChain callback handler recording into this tape (one per tape).

        Example:
            >>> graph.invoke(x, config={"callbacks": [tape.langchain()]})
        """
        with self._handler_lock:
            if self._handler is None:
                try:
                    from tracetape.capture.langchain import TracetapeCallbackHandler
                    from tracetape.capture.langchain._inject import ensure_patched
                except ImportError as exc:
                    raise IntegrationMissingError(
                        "tape.langchain() needs langchain-core: pip install 'tracetape[langchain]'"
                    ) from exc
                ensure_patched()
                self._handler = TracetapeCallbackHandler(self.recorder)
            return self._handler

    def llamaindex(self) -> Any:
        """The LlamaIndex span/event handler pair recording into this tape (one per tape).

        Example:
            >>> tape.llamaindex().attach()   # or tracetape.instrument(tape)
        """
        with self._handler_lock:
            if self._llamaindex is None:
                try:
                    from tracetape.capture.llamaindex import handlers
                except ImportError as exc:
                    raise IntegrationMissingError(
                        "tape.llamaindex() needs llama-index-core: "
                        "pip install 'tracetape[llamaindex]'"
                    ) from exc
                self._llamaindex = handlers(self.recorder)
            return self._llamaindex

    def flush(self, timeout: float = 30.0) -> int:
        """Block until everything recorded so far is durable on disk.

        Returns the number of spans written since the previous flush. Raises
        `FlushError` if some could not be written (they stay queued and are retried).
        """
        self._spool(timeout)
        try:
            self._exporter.fold(timeout=None)
        except TapeError as exc:
            logger.debug("tracetape: fold deferred: %s", exc)
        written = self._processor.written - self._flushed
        self._flushed = self._processor.written
        return written

    def _spool(self, timeout: float = 30.0) -> None:
        """Write what is queued to the spool (visible to every reader), without folding."""
        self._processor.force_flush(int(timeout * 1000))
        if self._otlp is not None:
            self._otlp.force_flush(int(timeout * 1000))
        pending = self._processor.pending()
        if pending:
            raise FlushError(
                f"{pending} spans could not be written to {self.path} "
                f"({self._processor.last_error}); they stay queued and are retried"
            )

    def close(self) -> None:
        """Flush and stop recording into this tape."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
            try:
                self._exporter.fold(timeout=min(self.settings.lock_timeout, 1.0))
            except TapeLockedError:
                # The spans are durable in the spool and visible; a later fold moves them.
                logger.debug("tracetape: %s is held by another process; fold deferred", self.path)
        finally:
            self._forget_recordings()  # what replays kept, free with the tape
            if self._owns_provider:
                self._provider.shutdown()
            if default_recorder() is self.recorder:
                set_default_recorder(None)

    # -- runs, artifacts and environments ---------------------------------------------
    def run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
    ) -> RunScope:
        """A pipeline run: a context manager (giving a `Run`) and a decorator.

        Every span recorded inside (in this context, its asyncio tasks and LangChain's
        threads) carries the run's id; runs nest; a run that raises is recorded as
        failed and the error re-raised. See ``runs``, ``artifacts`` and
        ``artifact_links`` views, `Tape.runs` and `Tape.artifacts`.

        Example:
            >>> with tape.run("nightly-eval", params={"k": 4}) as run:
            ...     run.log_artifact("data/questions.jsonl", kind="dataset")
            ...     graph.invoke(x, config={"callbacks": [tape.langchain()]})
        """
        return RunScope(self.path, self.snapshot, name, params, tags)

    def runs(self, limit: int = 50, *, format: Format = "pandas") -> Any:
        """Pipeline runs, newest first (the ``runs`` view).

        Example:
            >>> tape.runs()[["run_id", "name", "status", "n_traces"]]
        """
        return frames.convert(self._reader.runs(limit), format)

    def artifacts(self, run: str | None = None, *, format: Format = "pandas") -> Any:
        """Artifacts, newest first; with ``run``, those it logged and their ``role``.

        Example:
            >>> tape.artifacts(run=run.run_id)[["artifact_id", "kind", "name", "role"]]
        """
        return frames.convert(self._reader.artifacts(run), format)

    def environment(self, environment_id: str | None = None) -> dict[str, Any]:
        """The snapshot ``environment_id`` (``env-...``) as a dict; without an id, this
        process's own. Raises `NotFoundError` for an id the tape does not hold.

        Example:
            >>> tape.environment(tape.runs().environment_id[0])["packages"]["langgraph"]
        """
        if environment_id is None:
            return dict(self.snapshot)
        return self._reader.environment(environment_id)

    # -- reading -----------------------------------------------------------------------
    def sql(
        self,
        query: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        format: Format = "pandas",
    ) -> Any:
        """Run read-only SQL over the public views; a pandas DataFrame by default.

        ``format="arrow"`` returns a pyarrow Table, ``"polars"`` a polars DataFrame.

        Example:
            >>> tape.sql("select name from spans where kind = ?", ["tool"])
        """
        return frames.convert(self._reader.arrow(query, params), format)

    def traces(
        self,
        limit: int = 50,
        *,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        name: str | None = None,
        errors_only: bool = False,
        model: str | None = None,
        tool: str | None = None,
        node: str | None = None,
        run: str | None = None,
        tag: str | None = None,
        search: str | None = None,
        format: Format = "pandas",
    ) -> Any:
        """One row per trace, newest first: the ``traces`` view plus a short input and
        output of the root span (cut at 200 characters, marked with "…").

        Filters combine. ``since``/``until`` bound the trace's start: a datetime (naive
        is UTC), an ISO string or an age ("30m", "1h", "7d"). ``model``, ``tool``,
        ``node`` (a LangGraph node), ``tag`` and ``search`` (case-insensitive text in
        any span's input or output) match when any span of the trace does.
        ``format``: "pandas" (default), "arrow" (a pyarrow Table) or "polars".

        Example:
            >>> tape.traces(since="1d", errors_only=True, tool="lookup_order")
            >>> tape.traces(model="gpt-4o", search="refund", format="polars")
        """
        flt = TraceFilter(
            since=since, until=until, name=name, errors_only=errors_only, model=model,
            tool=tool, node=node, run=run, tag=tag, search=search,
        )  # fmt: skip
        return frames.convert(self._reader.traces_arrow(limit, filters=flt), format)

    def stats(
        self,
        by: str = "model",
        *,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        name: str | None = None,
        bucket: str | float | None = None,
        format: Format = "pandas",
    ) -> Any:
        """Calls, errors, error rate, latency (p50/p95/mean/max ms) and tokens per model
        (``by="model"``), tool (``"tool"``) or LangGraph node (``"node"``).

        With ``bucket`` ("5m", "1h", seconds, or "auto") one row per time bucket and
        group. ``name`` keeps one model/tool/node; ``since``/``until`` as in `traces`.

        Example:
            >>> tape.stats(by="tool", since="7d")
            >>> tape.stats(by="model", bucket="1h")
        """
        table = self._reader.stats(by, since=since, until=until, name=name, bucket=bucket)
        return frames.convert(table, format)

    def plot(
        self,
        metric: str = "latency",
        *,
        by: str = "model",
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        name: str | None = None,
        bucket: str | float | None = None,
    ) -> Plot:
        """A chart that shows inline in Jupyter (SVG we draw; text in a terminal).

        ``"latency"``: p50 and p95 over time buckets of the model calls, tool calls or
        node runs (``by``), or of one of them (``name``). ``"tokens"``: input and output
        tokens per model.

        Example:
            >>> tape.plot("latency", by="tool", since="1d")
            >>> tape.plot("tokens", since="7d")
        """
        return self._reader.plot(metric, by=by, since=since, until=until, name=name, bucket=bucket)

    def trace(self, trace_id: str) -> Trace:
        """One recorded trace (by id or a unique prefix of it) as a `Trace`."""
        return self._reader.trace(trace_id)

    def span(self, span_id: str) -> SpanNode:
        """One recorded span with every attribute, linked into its trace's tree
        (``.parent``, ``.children``, ``.trace``). Raises `NotFoundError` if unknown.

        Example:
            >>> tape.span(span_id).attributes["gen_ai.request.model"]
        """
        return self._reader.span(span_id)

    # -- feedback, retention and export -------------------------------------------------
    def score(
        self,
        trace_or_span_id: str,
        name: str,
        value: bool | float | str,
        comment: str | None = None,
        *,
        source: str = "human",
    ) -> str:
        """Attach a score to a trace (32 hex id) or a span (16 hex id); returns its id.

        ``value`` is a bool (thumbs up/down, stored as 1.0/0.0), a number (a grade) or a
        str (a label). It never waits on the DuckDB file, so it works while another
        process records. Scores show in the ``scores`` view and in ``traces().scores``.

        Example:
            >>> tape.score(trace_id, "helpful", True, comment="right tool, right answer")
            >>> tape.score(span_id, "relevance", 0.4, source="auto")
        """
        scores.parse_value(value)  # a bad value fails before any lookup
        timeout = self.settings.lock_timeout
        try:
            target = scores.resolve(self.path, timeout, trace_or_span_id)
        except NotFoundError:
            self.flush()  # it may have ended a moment ago and still wait in the queue
            target = scores.resolve(self.path, timeout, trace_or_span_id)
        return scores.write(self.path, target, name, value, comment=comment, source=source)

    def delete(
        self,
        trace_ids: str | Sequence[str] | None = None,
        *,
        older_than: dt.timedelta | dt.datetime | None = None,
        dry_run: bool = False,
        compact: bool = True,
    ) -> retention.Deleted:
        """Delete traces and everything linked only to them; returns what was deleted.

        Give ids, ``older_than`` (an age, or a moment: traces that ended before it), or
        both. Spans still in the spool go too, and none comes back from a segment
        folded later. With ``compact`` (the default) the file is rewritten so deleted
        content leaves no bytes behind. Waits for the file up to the lock timeout.

        Example:
            >>> tape.delete(older_than=datetime.timedelta(days=30))
            Deleted(traces=12, spans=540, scores=3, blobs=88, environments=0, dry_run=False)
        """
        self.flush()
        ids = [trace_ids] if isinstance(trace_ids, str) else trace_ids
        try:
            return retention.delete(
                self.path,
                self.settings.lock_timeout,
                trace_ids=ids,
                older_than=older_than,
                dry_run=dry_run,
                compact_file=compact,
                keep_environments=[str(self.snapshot.get("environment_id"))],
            )
        finally:
            self._forget_recordings()  # a deleted trace is not replayed from memory

    def export(
        self,
        dest: str | Path,
        format: store_export.Format = "parquet",
        traces: Sequence[str] | pd.DataFrame | None = None,
    ) -> dict[str, int]:
        """Write traces and all they link to (spans, scores, blobs, environments, runs,
        artifacts) to ``dest/<view>.<format>``; with format "tape", as a new tape file at
        ``dest`` (a fixture a test replays, see `tracetape.testing`).

        ``traces``: ids, or a frame with a ``trace_id`` column (``tape.traces(...)``);
        all traces when None. Returns the rows written per file.

        Example:
            >>> tape.export("out", "jsonl", traces=tape.traces(errors_only=True))
            {'traces': 2, 'spans': 31, 'scores': 0, 'blobs': 9, 'environments': 1, 'runs': 1, ...}
            >>> tape.export("tests/fixtures/refund.duckdb", "tape", traces=[trace_id])
        """
        self.flush()
        import pandas as pd

        if isinstance(traces, pd.DataFrame):
            ids: Sequence[str] | None = [str(t) for t in traces["trace_id"]]
        else:
            ids = None if traces is None else [self._whole_id(t) for t in traces]
        return store_export.export(
            self.path, self.settings.lock_timeout, Path(dest), fmt=format, trace_ids=ids
        )

    # -- diff --------------------------------------------------------------------------
    def diff(self, a: str | object, b: str | object) -> Diff:
        """What changed between two traces, runs or environments (ids, or Run/Trace objects).

        Returns a `Diff`: causes (environment, prompts, models, retriever configs) with
        the effects grouped under them (documents, tool args, outputs, steps, errors),
        declared run params, and timings apart. Raises `DiffError` for ids of two kinds.

        Example:
            >>> tape.diff("run-1f0c...", "run-9ab2...").causes
        """
        from tracetape.diff import Source, diff

        return diff(Source(self._reader.arrow, self.flush, scoped=True), a, b)

    # -- lineage -----------------------------------------------------------------------
    def lineage(self, node: Any) -> Lineage:
        """What a span, trace, run, artifact or environment (an id, or a `Run`, `Trace`,
        `SpanNode` or `Artifact`) came from and what came of it.

        Returns a `Lineage`: ``.edges``/``.nodes`` DataFrames, a graph in Jupyter, a tree
        in a terminal, ``.to_openlineage()``. Raises `NotFoundError` for an unknown id.

        Example:
            >>> tape.lineage(llm_span_id).nodes.query("type == 'dataset'")
        """
        from tracetape.lineage import lineage

        self.flush()
        return lineage(self._reader.arrow, node, where=str(self.path))

    # -- replay ------------------------------------------------------------------------
    def replay(
        self,
        trace_id: str,
        app: Any,
        *,
        live: Sequence[str] = (),
        on_divergence: Literal["stop", "live"] = "stop",
        from_step: int | None = None,
    ) -> Replay:
        """Re-run ``app`` on ``trace_id``'s recorded input (the id or a unique prefix of it)
        as a new trace (read back at once), each model, tool, retriever and embedding call
        answered by the next recorded one asked the same. ``live`` runs kinds (``"llm"``,
        ``"retriever"``, ``"tool"``, ``"embedding"``) or tools for real. A request the tape
        lacks raises
        `ReplayDivergence` (``on_divergence="stop"``) or goes live; recorded calls never
        made raise under ``"stop"`` if the model was pinned, else are listed in
        ``.divergences``. ``from_step``: resume a LangGraph graph at that step.

        Example:
            >>> tape.replay(trace_id, app=graph, live=("llm",)).divergences
        """
        from tracetape.replay import session

        trace_id = self._whole_id(trace_id)
        return session.replay(self._source(), trace_id, app, live, on_divergence, from_step)

    async def areplay(
        self,
        trace_id: str,
        app: Any,
        *,
        live: Sequence[str] = (),
        on_divergence: Literal["stop", "live"] = "stop",
        from_step: int | None = None,
    ) -> Replay:
        """`replay` for an app run with ``ainvoke``: ``await tape.areplay(trace_id, app=g)``."""
        from tracetape.replay import session

        trace_id = self._whole_id(trace_id)
        return await session.areplay(self._source(), trace_id, app, live, on_divergence, from_step)

    def rerun(
        self,
        span_id: str,
        model: Any = None,
        *,
        overrides: dict[str, Any] | None = None,
        n: int = 1,
    ) -> Rerun:
        """Send the model call recorded as ``span_id`` again ``n`` times, rebuilt exactly,
        to its model rebuilt from the record (secrets from the environment) or ``model``;
        ``overrides`` changes params. Each send is a trace with ``tracetape.rerun_of``,
        on the tape when this returns.

        Example:
            >>> tape.rerun(span_id, overrides={"temperature": 0}, n=5).n_same
        """
        from tracetape.replay import rerun

        return rerun.rerun(self._source(), span_id, model, overrides, n)

    @functools.cached_property
    def _recordings(self) -> Recordings:
        from tracetape.replay.recordings import Recordings

        return Recordings(self._tape_reader.arrow, self._spool)

    def _whole_id(self, trace_id: str) -> str:
        """``trace_id``, or the one trace a shorter prefix names (`NotFoundError` if none
        or several)."""
        key = trace_id.strip().lower()
        return key if len(key) == _TRACE_ID_CHARS or not key else self._reader.resolve(key)

    def _forget_recordings(self) -> None:
        if "_recordings" in self.__dict__:  # built by the first replay only
            self._recordings.forget()

    def _source(self) -> ReplaySource:
        from tracetape.replay.session import Source

        def ended() -> None:
            self._replayed = True

        # A replay reads the recording, not its own trace: no spool before its read.
        return Source(
            self._tape_reader.arrow, self._spool, self._recordings, ended, self.recorder,
            self.langchain,
        )  # fmt: skip


def _otlp_processor() -> SpanProcessor:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise IntegrationMissingError("OTLP export needs: pip install 'tracetape[otlp]'") from exc
    return BatchSpanProcessor(OTLPSpanExporter())


def open_tape(
    path: str | Path | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    otlp: bool | None = None,
    capture_content: bool | None = None,
) -> Tape:
    """Open (creating if needed) a tape. See `tracetape.open`."""
    settings = Settings.from_env()
    if path is not None:
        settings = settings.with_path(Path(path))
    if capture_content is not None:
        from dataclasses import replace

        settings = replace(settings, capture_content=capture_content)
    return Tape(settings, tracer_provider=tracer_provider, otlp=otlp)


def _close_all_at_exit() -> None:
    for tape in list(_open_tapes):
        try:
            tape.close()
        except Exception as exc:  # noqa: BLE001 - never fail the interpreter's exit
            report("atexit.close", exc)


atexit.register(_close_all_at_exit)
