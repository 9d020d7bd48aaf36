"""Causes: what was set up differently before the agent ran — the environment, a prompt
template, a model, a retriever's configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from tracetape.diff.changes import (
    Category,
    Change,
    FieldChange,
    FieldsChange,
    ValueChange,
    one_line,
    shown,
    unified,
)


@dataclass(frozen=True, kw_only=True)
class PackageChange(Change):
    """An installed distribution added, removed or at another version."""

    kind: Literal["package"] = "package"
    category: ClassVar[Category] = "cause"
    name: str
    version_a: str | None
    version_b: str | None

    @property
    def status(self) -> Literal["added", "removed", "changed"]:
        if self.version_a is None:
            return "added"
        return "removed" if self.version_b is None else "changed"

    @property
    def subject(self) -> str:
        return self.name

    @property
    def before(self) -> str:
        return shown(self.version_a)

    @property
    def after(self) -> str:
        return shown(self.version_b)


@dataclass(frozen=True, kw_only=True)
class EnvironmentChange(ValueChange):
    """A field of the environment snapshot: ``python.version``, ``git.commit``, ..."""

    kind: Literal["environment"] = "environment"
    category: ClassVar[Category] = "cause"
    field: str

    @property
    def subject(self) -> str:
        return self.field


@dataclass(frozen=True, kw_only=True)
class PromptChange(Change):
    """A prompt template's text, variables or format differ (``name``: its step name).

    Every prompt the edited template rendered with the same variables' values renders
    differently: the edit implies it, so those renderings are counted here
    (``rendered_prompts``, in ``rendered_traces`` aligned trace pairs) and not listed as
    effects. A rendering whose values differ too is listed.
    """

    kind: Literal["prompt"] = "prompt"
    category: ClassVar[Category] = "cause"
    name: str
    text_a: str
    text_b: str
    variables_a: tuple[str, ...] = ()
    variables_b: tuple[str, ...] = ()
    fields: tuple[FieldChange, ...] = ()
    """Other differences: template format, prompt class."""
    rendered_prompts: int = 0
    """Rendered prompts this edit changed, with the same variables' values (not listed)."""
    rendered_traces: int = 0
    """In how many aligned trace pairs those renderings were."""

    @property
    def subject(self) -> str:
        return self.name

    @property
    def rendered(self) -> str:
        """The renderings the edit implies, in words; empty when there are none."""
        if not self.rendered_prompts:
            return ""
        one = self.rendered_prompts == 1
        prompts = "prompt differs" if one else "prompts differ"
        traces = "trace" if self.rendered_traces == 1 else "traces"
        return (
            f"{self.rendered_prompts} rendered {prompts} in {self.rendered_traces} {traces} "
            "as the edit implies (same variables' values; counted, not listed)"
        )

    @property
    def before(self) -> str:
        return one_line(self.text_a)

    @property
    def after(self) -> str:
        return one_line(self.text_b)

    @property
    def text_diff(self) -> str:
        """The template texts as a unified diff."""
        return unified(self.text_a, self.text_b)

    @property
    def detail(self) -> str:
        lines = [self.text_diff] if self.text_a != self.text_b else []
        added = sorted(set(self.variables_b) - set(self.variables_a))
        removed = sorted(set(self.variables_a) - set(self.variables_b))
        if added:
            lines.append("variables added: " + ", ".join(added))
        if removed:
            lines.append("variables removed: " + ", ".join(removed))
        lines.extend(str(f) for f in self.fields)
        if self.rendered:
            lines.append(self.rendered)
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class ModelChange(FieldsChange):
    """A model call's model differs: requested/responded model, class, provider, version
    signals (system fingerprint) or invocation params (``params.*``)."""

    kind: Literal["model"] = "model"
    category: ClassVar[Category] = "cause"
    name: str
    """The model of side A (its requested model, else the model class's name)."""

    @property
    def subject(self) -> str:
        return self.name


@dataclass(frozen=True, kw_only=True)
class RetrieverChange(FieldsChange):
    """A retriever's configuration differs: class, vector store, search type, search
    kwargs (``search_kwargs.k``, filters, thresholds), embedding model."""

    kind: Literal["retriever"] = "retriever"
    category: ClassVar[Category] = "cause"
    name: str

    @property
    def subject(self) -> str:
        return self.name
