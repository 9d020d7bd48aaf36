"""The tracetape exception tree.

```
TracetapeError
 ├── TapeError                  something about the tape file itself
 │    ├── TapeLockedError       another process held the file past the timeout
 │    ├── TapeCorruptError      the file is not a readable DuckDB tape
 │    ├── SchemaVersionError    the tape was written by a newer tracetape
 │    └── FlushError            recorded spans could not be made durable
 ├── NotFoundError              an id that is not on the tape
 ├── DiffError                  two ids that cannot be diffed (a trace and a run)
 ├── IntegrationMissingError    an extra (langchain, llamaindex, otlp, lineage) is not installed
 │   defined in tracetape.replay, where they carry what replay found:
 ├── ReplayDivergence           the re-run asked what the recording did not (.divergence, .replay)
 ├── RecordedCallError          stands in for a recorded call's exception whose type is gone
 └── NotReplayableError         a trace or span replay cannot use (a payload not kept whole)
      └── CheckpointNotFoundError   from_step: the checkpointer no longer holds the thread
```

Errors raised *inside* recording never reach user code (see `tracetape._safety`); these
are raised by the explicit calls a user makes: `open`, `flush`, `trace`, `span`, `sql`,
`score`, `delete`, `export`, `replay`, `rerun`, `diff`, `lineage`.
"""

from __future__ import annotations


class TracetapeError(Exception):
    """Base class of every error tracetape raises on purpose."""


class TapeError(TracetapeError):
    """Something is wrong with the tape file or its spool folder."""


class TapeLockedError(TapeError):
    """Another process held the tape's DuckDB file for longer than the timeout."""


class TapeCorruptError(TapeError):
    """The file exists but is not a readable DuckDB tape."""


class SchemaVersionError(TapeError):
    """The tape was written by a newer tracetape whose schema this one does not know."""


class FlushError(TapeError):
    """Recorded spans could not be written; they are kept and retried."""


class NotFoundError(TracetapeError, KeyError):
    """An id (trace, span, run, environment) that the tape does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class IntegrationMissingError(TracetapeError, ImportError):
    """An optional integration was used without its extra installed."""


class DiffError(TracetapeError, ValueError):
    """Two ids ``tape.diff`` cannot compare: of different kinds, or not a trace, run or
    environment id."""
