"""Prompt-template attributes: template text, format, variables, rendering, version hash.

LangChain passes a prompt run its template in serialised form (``dumpd``); the template
text of every message is read from there, and the hash of that canonical form is the
template's version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracetape.spans import semconv
from tracetape.spans.encode import content_hash, dumps, to_jsonable
from tracetape.spans.recorder import Recorder

_ROLE_BY_CLASS = {
    "SystemMessagePromptTemplate": "system",
    "HumanMessagePromptTemplate": "user",
    "AIMessagePromptTemplate": "assistant",
    "ChatMessagePromptTemplate": "chat",
}


def _class_name(node: Mapping[str, Any]) -> str:
    ident = node.get("id")
    return str(ident[-1]) if isinstance(ident, list) and ident else ""


def _templates(node: Any, role: str | None, out: list[dict[str, Any]]) -> None:
    """Collect (role, template, format) of every template in a serialised prompt."""
    if isinstance(node, list):
        for item in node:
            _templates(item, role, out)
        return
    if not isinstance(node, Mapping):
        return
    cls = _class_name(node)
    kwargs = node.get("kwargs") if isinstance(node.get("kwargs"), Mapping) else {}
    assert isinstance(kwargs, Mapping)
    if cls == "MessagesPlaceholder":
        out.append(
            {
                "role": "placeholder",
                "variable": kwargs.get("variable_name"),
                "optional": bool(kwargs.get("optional", False)),
            }
        )
        return
    this_role = _ROLE_BY_CLASS.get(cls, role)
    if cls in ("SystemMessage", "HumanMessage", "AIMessage"):
        out.append({"role": _ROLE_BY_CLASS.get(cls + "PromptTemplate", cls), "text": kwargs.get("content")})
        return
    template = kwargs.get("template")
    if isinstance(template, str):
        item: dict[str, Any] = {"role": this_role or "text", "template": template}
        fmt = kwargs.get("template_format")
        if fmt:
            item["format"] = fmt
        out.append(item)
    for key in ("prefix", "example_prompt", "examples", "suffix", "prompt", "messages"):
        if key in kwargs:
            value = kwargs[key]
            if key == "examples":
                out.append({"role": "examples", "examples": to_jsonable(value)})
            elif isinstance(value, str):
                out.append({"role": key, "template": value})
            else:
                _templates(value, this_role, out)


def _format(serialized: Mapping[str, Any]) -> str:
    kwargs = serialized.get("kwargs") or {}
    fmt = kwargs.get("template_format") if isinstance(kwargs, Mapping) else None
    if fmt:
        return str(fmt)
    text = dumps(serialized)
    for name in ("jinja2", "mustache"):
        if f'"template_format":"{name}"' in text:
            return name
    return "f-string"


def start_attributes(
    serialized: Mapping[str, Any] | None, inputs: Any, recorder: Recorder
) -> dict[str, Any]:
    """Template text per message, format, class, variables and their values, hash."""
    attrs: dict[str, Any] = {}
    if not serialized:
        return attrs
    attrs[semconv.PROMPT_CLASS] = _class_name(serialized)
    canonical = dumps(to_jsonable(serialized))
    attrs[semconv.PROMPT_HASH] = "sha256:" + content_hash(canonical)
    attrs[semconv.PROMPT_FORMAT] = _format(serialized)
    kwargs = serialized.get("kwargs") or {}
    variables = kwargs.get("input_variables") if isinstance(kwargs, Mapping) else None
    names = list(variables or [])
    if isinstance(inputs, Mapping):
        names = sorted(set(names) | {str(k) for k in inputs})
    if names:
        attrs[semconv.PROMPT_VARIABLES] = tuple(names)
    found: list[dict[str, Any]] = []
    _templates(serialized, None, found)
    recorder.display(semconv.PROMPT_TEMPLATE, found, attrs)
    if recorder.settings.capture_content:
        values = to_jsonable(inputs)
        recorder.display(semconv.PROMPT_VALUES, values, attrs)
        recorder.display(semconv.INPUT, values, attrs)
    return attrs


def end_attributes(output: Any, recorder: Recorder) -> dict[str, Any]:
    """The rendered prompt: messages for chat prompts, text for string prompts."""
    attrs: dict[str, Any] = {}
    if not recorder.settings.capture_content:
        return attrs
    to_messages = getattr(output, "to_messages", None)
    if callable(to_messages) and hasattr(output, "messages"):
        from tracetape.capture.langchain.messages import semconv_message

        rendered = [semconv_message(m, True) for m in to_messages()]
        recorder.display(semconv.OUTPUT, rendered, attrs)
        return attrs
    text = getattr(output, "text", None)
    recorder.display(semconv.OUTPUT, to_jsonable(text if isinstance(text, str) else output), attrs)
    return attrs
