"""Diff: what changed between two traces, two runs or two environments (`tape.diff`).

Causes (environment, prompt templates, models, retriever configs) are kept apart from
effects (documents, tool arguments, outputs, steps, errors), and each effect is grouped
under the cause that plausibly produced it (`tracetape.diff.attribution`). A template
edit counts the renderings it implies instead of listing them. Timings and tokens, and
context such as the interpreter's path, are reported apart and are never causes. Every
change has a `Location` (trace pair, step, span ids on each side).

Example:
    >>> d = tape.diff(good_run_id, bad_run_id)
    >>> d.causes, d.is_empty
    >>> d.to_frame()
    >>> d.changed_traces()
"""

from tracetape.diff.build import Source, diff
from tracetape.diff.causes import (
    EnvironmentChange,
    ModelChange,
    PackageChange,
    PromptChange,
    RetrieverChange,
)
from tracetape.diff.changes import (
    Change,
    ContextChange,
    FieldChange,
    Group,
    Location,
    MetricChange,
    ParamChange,
)
from tracetape.diff.effects import (
    DocumentsChange,
    ErrorChange,
    OutputChange,
    StepChange,
    ToolArgsChange,
    TraceChange,
)
from tracetape.diff.pairs import TracePair
from tracetape.diff.result import Diff

__all__ = [
    "Change",
    "ContextChange",
    "Diff",
    "DocumentsChange",
    "EnvironmentChange",
    "ErrorChange",
    "FieldChange",
    "Group",
    "Location",
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
    "TracePair",
    "diff",
]
