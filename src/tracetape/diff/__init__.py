"""Diff: what changed between two traces, two runs or two environments (`tape.diff`).

Causes (environment, prompt templates, models, retriever configs) are kept apart from
effects (documents, tool arguments, outputs, steps, errors), and each effect is grouped
under the cause that plausibly produced it (`tracetape.diff.attribution`). Timings and
tokens are reported apart and are never causes.

Example:
    >>> d = tape.diff(good_run_id, bad_run_id)
    >>> d.causes, d.is_empty
    >>> d.to_frame()
"""

from tracetape.diff.build import Source, diff
from tracetape.diff.causes import (
    EnvironmentChange,
    ModelChange,
    PackageChange,
    PromptChange,
    RetrieverChange,
)
from tracetape.diff.changes import Change, FieldChange, Group, MetricChange, ParamChange
from tracetape.diff.effects import (
    DocumentsChange,
    ErrorChange,
    OutputChange,
    StepChange,
    ToolArgsChange,
    TraceChange,
)
from tracetape.diff.result import Diff

__all__ = [
    "Change",
    "Diff",
    "DocumentsChange",
    "EnvironmentChange",
    "ErrorChange",
    "FieldChange",
    "Group",
    "MetricChange",
    "ModelChange",
    "OutputChange",
    "PackageChange",
    "ParamChange",
    "PromptChange",
    "RetrieverChange",
    "Source",
    "StepChange",
    "ToolArgsChange",
    "TraceChange",
    "diff",
]
