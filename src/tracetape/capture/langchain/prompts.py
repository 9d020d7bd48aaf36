"""Prompt-template attributes: template text, format, variables, rendering, version hash.

The template is read from the prompt object itself, which `_inject` makes visible while
``BasePromptTemplate.invoke`` runs (`current_prompt`); when it is not visible, from the
serialised form LangChain passes the prompt run (``dumpd``). Either way the template is
walked into a list of *parts* (one per message template, placeholder, static message,
few-shot block), and the template's version is the sha256 of the canonical JSON of those
parts: every edit of template text, role, format, examples or partials changes it; the
values the variables are given, object addresses and dict order never do.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.prompts import (
    AIMessagePromptTemplate,
    BasePromptTemplate,
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    DictPromptTemplate,
    FewShotChatMessagePromptTemplate,
    FewShotPromptTemplate,
    FewShotPromptWithTemplates,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    SystemMessagePromptTemplate,
)
from langchain_core.prompts.image import ImagePromptTemplate

from tracetape.capture.langchain.messages import MessageCodec, messages_json
from tracetape.spans import semconv
from tracetape.spans.encode import dumps, to_jsonable
from tracetape.spans.recorder import Recorder
from tracetape.spans.redact import REDACTED, is_secret_key

# The prompt object whose invoke() is running (set by `_inject`).
current_prompt: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tracetape_prompt", default=None
)

Part = dict[str, Any]

_ROLE_BY_CLASS = {
    "SystemMessagePromptTemplate": "system",
    "HumanMessagePromptTemplate": "user",
    "AIMessagePromptTemplate": "assistant",
    "SystemMessage": "system",
    "HumanMessage": "user",
    "AIMessage": "assistant",
}
_ROLE_BY_MESSAGE_TYPE = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_DEFAULT_FORMAT = "f-string"


# -- canonical form and hash ----------------------------------------------------------
def stable(value: Any) -> Any:
    """``value`` as JSON that is the same in every process: no reprs, no addresses.

    Functions (partials computed at format time) are named by their qualified name,
    other unknown objects by their class.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): stable(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [stable(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, BaseMessage):
        return {"type": value.type, "content": stable(value.content)}
    if callable(value):
        module = getattr(value, "__module__", "") or ""
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return {"callable": f"{module}.{name}"}
    return {"class": f"{type(value).__module__}.{type(value).__qualname__}"}


def template_hash(cls_name: str, parts: Sequence[Part], partials: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the template's canonical form: its version.

    Example:
        >>> template_hash("PromptTemplate", [{"role": "text", "template": "Hi {x}"}], {})[:7]
        'sha256:'
    """
    canonical = json.dumps(
        {"class": cls_name, "parts": stable(parts), "partials": stable(partials)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


# -- walking a prompt object ------------------------------------------------------------
def _examples_part(prompt: Any, example_parts: list[Part]) -> Part:
    part: Part = {"role": "examples", "example_prompt": example_parts}
    if getattr(prompt, "examples", None) is not None:
        part["examples"] = stable(prompt.examples)
    selector = getattr(prompt, "example_selector", None)
    if selector is not None:
        # Selected examples change per call; only the selector's class versions the template.
        part["example_selector"] = f"{type(selector).__module__}.{type(selector).__qualname__}"
    return part


def _string_part(role: str, template: Any, fmt: Any) -> Part:
    return {"role": role, "template": template, "format": str(fmt or _DEFAULT_FORMAT)}


def object_parts(node: Any, role: str | None = None) -> list[Part]:
    """The parts of a prompt object, in the order they render.

    Example:
        >>> object_parts(PromptTemplate.from_template("Hi {name}"))
        [{'role': 'text', 'template': 'Hi {name}', 'format': 'f-string'}]
    """
    if isinstance(node, list | tuple):
        return [p for item in node for p in object_parts(item, role)]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(node, MessagesPlaceholder):
        part: Part = {
            "role": "placeholder",
            "variable": node.variable_name,
            "optional": node.optional,
        }
        if node.n_messages is not None:
            part["n_messages"] = node.n_messages
        return [part]
    if isinstance(node, BaseMessage):
        return [
            {"role": _ROLE_BY_MESSAGE_TYPE.get(node.type, node.type), "text": stable(node.content)}
        ]
    if isinstance(node, FewShotChatMessagePromptTemplate):
        return [_examples_part(node, object_parts(node.example_prompt))]
    if isinstance(node, FewShotPromptTemplate):
        fmt = node.template_format
        examples = _examples_part(node, object_parts(node.example_prompt))
        examples["separator"] = node.example_separator
        return [
            _string_part("prefix", node.prefix, fmt),
            examples,
            _string_part("suffix", node.suffix, fmt),
        ]
    if isinstance(node, FewShotPromptWithTemplates):
        examples = _examples_part(node, object_parts(node.example_prompt))
        examples["separator"] = node.example_separator
        prefix = object_parts(node.prefix, "prefix") if node.prefix is not None else []
        return [*prefix, examples, *object_parts(node.suffix, "suffix")]
    if isinstance(node, ChatPromptTemplate):
        return object_parts(node.messages, role)
    if isinstance(node, ChatMessagePromptTemplate):
        return object_parts(node.prompt, node.role)
    if isinstance(
        node, SystemMessagePromptTemplate | HumanMessagePromptTemplate | AIMessagePromptTemplate
    ):
        return object_parts(node.prompt, _ROLE_BY_CLASS[type(node).__name__])
    if isinstance(node, ImagePromptTemplate):
        return [
            {
                **_string_part(role or "user", stable(node.template), node.template_format),
                "type": "image",
            }
        ]
    if isinstance(node, DictPromptTemplate):
        return [
            {
                **_string_part(role or "user", stable(node.template), node.template_format),
                "type": "dict",
            }
        ]
    template = getattr(node, "template", None)
    if isinstance(template, str):
        return [_string_part(role or "text", template, getattr(node, "template_format", None))]
    # A template class we do not know: its class still versions the template.
    return [{"role": role or "text", "class": f"{type(node).__module__}.{type(node).__qualname__}"}]


# -- walking a serialised prompt (fallback when the object is not visible) -------------
def _class_name(node: Mapping[str, Any]) -> str:
    ident = node.get("id")
    return str(ident[-1]) if isinstance(ident, list) and ident else ""  # pyright: ignore[reportUnknownArgumentType]


def serialized_parts(node: Any, role: str | None = None) -> list[Part]:
    """The parts of a prompt in LangChain's serialised (``dumpd``) form.

    Gives the same parts as `object_parts` for the serialisable template classes, so
    both paths version a template alike.
    """
    if isinstance(node, list | tuple):
        return [p for item in node for p in serialized_parts(item, role)]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(node, Mapping):
        return []
    cls = _class_name(node)  # pyright: ignore[reportUnknownArgumentType]
    raw_kwargs = node.get("kwargs")
    kwargs: Mapping[str, Any] = raw_kwargs if isinstance(raw_kwargs, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]
    if node.get("type") == "not_implemented":
        return [{"role": role or "text", "class": cls, "repr": node.get("repr")}]
    if cls == "MessagesPlaceholder":
        part: Part = {
            "role": "placeholder",
            "variable": kwargs.get("variable_name"),
            "optional": bool(kwargs.get("optional", False)),
        }
        if kwargs.get("n_messages") is not None:
            part["n_messages"] = kwargs.get("n_messages")
        return [part]
    if cls in ("SystemMessage", "HumanMessage", "AIMessage"):
        return [{"role": _ROLE_BY_CLASS[cls], "text": stable(kwargs.get("content"))}]
    if cls == "ChatPromptTemplate":
        return serialized_parts(kwargs.get("messages"), role)
    if cls == "ChatMessagePromptTemplate":
        return serialized_parts(kwargs.get("prompt"), str(kwargs.get("role")))
    if cls in _ROLE_BY_CLASS:
        return serialized_parts(kwargs.get("prompt"), _ROLE_BY_CLASS[cls])
    template = kwargs.get("template")
    if isinstance(template, str):
        return [_string_part(role or "text", template, kwargs.get("template_format"))]
    if isinstance(template, Mapping):
        kind = "image" if cls == "ImagePromptTemplate" else "dict"
        return [
            {
                **_string_part(role or "user", stable(template), kwargs.get("template_format")),
                "type": kind,
            }
        ]
    return [{"role": role or "text", "class": cls}]


# -- attributes ------------------------------------------------------------------------
def formats(parts: Sequence[Part]) -> list[str]:
    """The distinct template formats the parts use (few-shot example prompts included)."""
    found: set[str] = set()
    for part in parts:
        if isinstance(part.get("format"), str):
            found.add(part["format"])
        nested = part.get("example_prompt")
        if isinstance(nested, list):
            found.update(formats(nested))  # pyright: ignore[reportUnknownArgumentType]
    return sorted(found)


def example_count(parts: Sequence[Part]) -> int:
    """Number of fixed few-shot examples in the parts."""
    return sum(len(p["examples"]) for p in parts if isinstance(p.get("examples"), list))


def _value_json(value: Any, codec: MessageCodec) -> str:
    """A variable's value as JSON text; messages in the semconv message shape, each
    message's text taken from the codec (encoded once per message object)."""
    if isinstance(value, BaseMessage):
        return codec.encode(value).display
    if isinstance(value, list | tuple):
        whole = codec.encode_list(value)  # pyright: ignore[reportUnknownArgumentType]
        if whole is not None:
            return whole.display()
        if any(isinstance(v, BaseMessage) for v in value):  # pyright: ignore[reportUnknownVariableType]
            return "[" + ",".join(_value_json(v, codec) for v in value) + "]"  # pyright: ignore[reportUnknownVariableType]
    return dumps(to_jsonable(value))


def _values_json(inputs: Any, codec: MessageCodec) -> str:
    """The variables' values as one JSON text (an object when ``inputs`` is a mapping)."""
    if not isinstance(inputs, Mapping):
        return _value_json(inputs, codec)
    parts: list[str] = []
    for key, value in inputs.items():  # pyright: ignore[reportUnknownVariableType]
        name = str(key)  # pyright: ignore[reportUnknownArgumentType]
        if is_secret_key(name) and value not in (None, ""):
            parts.append(dumps(name) + ":" + dumps(REDACTED))  # as in any other input
        else:
            parts.append(dumps(name) + ":" + _value_json(value, codec))
    return "{" + ",".join(parts) + "}"


def _visible_prompt(serialized: Mapping[str, Any] | None) -> BasePromptTemplate[Any] | None:
    prompt = current_prompt.get()
    if not isinstance(prompt, BasePromptTemplate):
        return None
    # The object must be the one this run serialised (not an outer prompt's).
    if serialized and _class_name(serialized) not in ("", type(prompt).__name__):  # pyright: ignore[reportUnknownArgumentType]
        return None
    return prompt  # pyright: ignore[reportUnknownVariableType]


def start_attributes(
    serialized: Mapping[str, Any] | None, inputs: Any, recorder: Recorder, codec: MessageCodec
) -> dict[str, Any]:
    """Template parts, format, class, variables and their values, version hash."""
    attrs: dict[str, Any] = {}
    prompt = _visible_prompt(serialized)
    if prompt is not None:
        cls_name = type(prompt).__name__
        parts = object_parts(prompt)
        partials: Mapping[str, Any] = prompt.partial_variables
        names = [*prompt.input_variables, *prompt.optional_variables]
    elif serialized:
        cls_name = _class_name(serialized)
        parts = serialized_parts(serialized)
        raw_kwargs = serialized.get("kwargs")
        kwargs: Mapping[str, Any] = raw_kwargs if isinstance(raw_kwargs, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]
        raw_partials = kwargs.get("partial_variables")
        partials = raw_partials if isinstance(raw_partials, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]
        declared = kwargs.get("input_variables")
        names = [str(n) for n in declared] if isinstance(declared, list) else []  # pyright: ignore[reportUnknownVariableType]
    else:
        return attrs
    attrs[semconv.PROMPT_CLASS] = cls_name
    attrs[semconv.PROMPT_HASH] = template_hash(cls_name, parts, partials)
    found = formats(parts)
    attrs[semconv.PROMPT_FORMAT] = ",".join(found) if found else _DEFAULT_FORMAT
    if not names and isinstance(inputs, Mapping):
        names = [str(k) for k in inputs]  # pyright: ignore[reportUnknownVariableType]
    if names:
        attrs[semconv.PROMPT_VARIABLES] = tuple(sorted(set(names)))
    count = example_count(parts)
    if count:
        attrs[semconv.PROMPT_EXAMPLE_COUNT] = count
    recorder.display(semconv.PROMPT_TEMPLATE, to_jsonable(parts), attrs)
    if recorder.settings.capture_content:
        text = _values_json(inputs, codec)
        recorder.display_json(semconv.PROMPT_VALUES, text, attrs)
        recorder.display_json(semconv.INPUT, text, attrs)
    return attrs


def end_attributes(output: Any, recorder: Recorder, codec: MessageCodec) -> dict[str, Any]:
    """The rendered prompt: messages for chat prompts, text for string prompts."""
    attrs: dict[str, Any] = {}
    if not recorder.settings.capture_content:
        return attrs
    to_messages = getattr(output, "to_messages", None)
    if callable(to_messages) and hasattr(output, "messages"):
        messages: Any = to_messages()
        rendered = [
            m
            for m in (messages if isinstance(messages, list) else [])  # pyright: ignore[reportUnknownVariableType]
            if isinstance(m, BaseMessage)
        ]
        recorder.display_json(semconv.OUTPUT, messages_json(codec, rendered), attrs)
        return attrs
    text = getattr(output, "text", None)
    rendered_text = to_jsonable(text if isinstance(text, str) else output)
    recorder.display(semconv.OUTPUT, rendered_text, attrs)
    return attrs
