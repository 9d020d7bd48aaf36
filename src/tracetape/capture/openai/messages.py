"""OpenAI chat messages (wire dicts or SDK models) -> the semconv message shape.

The same shape the LangChain path records: ``{"role", "parts": [...], "name"?,
"finish_reason"?}`` with ``text``, ``uri``/``blob``/``file``, ``tool_call`` and
``tool_call_response`` parts. Content is redacted before it is cut, so no cut can leave
part of a credential behind; with content capture off, the shape stays and every content
value is ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tracetape.spans.encode import dumps, limit, to_jsonable
from tracetape.spans.redact import redact_text

_ROLES = {"developer": "system", "function": "tool"}
_MESSAGE_DISPLAY_CHARS = 4000
_MODALITY = {"image_url": "image", "input_audio": "audio", "file": "file"}


def as_dict(value: object) -> dict[str, Any]:
    """A message, tool call or part as a plain dict: wire dicts pass, SDK models dump."""
    if isinstance(value, Mapping):
        return dict(value)  # pyright: ignore[reportUnknownArgumentType]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        dumped = to_dict(mode="json", warnings=False)
        if isinstance(dumped, dict):
            return dumped  # pyright: ignore[reportUnknownVariableType]
    jsonable = to_jsonable(value)
    return jsonable if isinstance(jsonable, dict) else {"content": jsonable}


def _text(text: str, capture: bool) -> str | None:
    return limit(redact_text(text), _MESSAGE_DISPLAY_CHARS)[0] if capture else None


def _data_url(url: str) -> str:
    """A ``data:`` URL shortened to its media type: the bytes stay out of the display."""
    if not url.startswith("data:"):
        return url
    head, _, body = url.partition(",")
    return f"{head},…[tracetape: {len(body)} chars of inline data omitted]"


def _part(block: Mapping[str, Any], capture: bool) -> dict[str, Any]:
    """One non-text content part (image, audio, file, refusal, ...) as a semconv part."""
    kind = str(block.get("type") or "unknown")
    modality = _MODALITY.get(kind)
    if kind == "image_url":
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        part: dict[str, Any] = {"type": "uri", "modality": modality}
        part["uri"] = redact_text(_data_url(str(url))) if capture and url else None
        return part
    if kind == "input_audio":
        audio = block.get("input_audio")
        fmt = audio.get("format") if isinstance(audio, Mapping) else None
        out: dict[str, Any] = {"type": "blob", "modality": modality}
        if fmt:
            out["mime_type"] = f"audio/{fmt}"
        return out
    if kind == "file":
        file = block.get("file")
        file_id = file.get("file_id") if isinstance(file, Mapping) else None
        if file_id:
            return {"type": "file", "modality": modality, "file_id": str(file_id)}
        return {"type": "blob", "modality": modality}
    if kind == "refusal":
        return {"type": "refusal", "content": _text(str(block.get("refusal") or ""), capture)}
    return {"type": kind, "content": to_jsonable(block) if capture else None}


def _content_parts(content: Any, capture: bool) -> list[dict[str, Any]]:
    """Text (parts joined, as the LangChain path does) first, then the other parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": _text(content, capture)}] if content else []
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    if isinstance(content, Sequence):
        for block in content:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(block, str):
                texts.append(block)
                continue
            item = as_dict(block)
            if item.get("type") == "text" and isinstance(item.get("text"), str):
                texts.append(item["text"])
            else:
                others.append(_part(item, capture))
    else:
        texts.append(str(to_jsonable(content)))
    text = "".join(texts)
    head = [{"type": "text", "content": _text(text, capture)}] if text else []
    return head + others


def _arguments(raw: Any, capture: bool) -> tuple[Any, bool]:
    """Tool-call arguments (a JSON string on the wire) parsed; and whether they parsed."""
    if not capture:
        return None, True
    if not isinstance(raw, str):
        return to_jsonable(raw), True
    try:
        return to_jsonable(json.loads(raw)), True
    except ValueError:
        return _text(raw, capture), False


def _tool_call_parts(message: Mapping[str, Any], capture: bool) -> list[dict[str, Any]]:
    calls: list[Any] = list(message.get("tool_calls") or ())
    legacy = message.get("function_call")
    if legacy:
        calls.append({"id": None, "function": legacy})
    parts: list[dict[str, Any]] = []
    for raw_call in calls:
        call = as_dict(raw_call)
        function = as_dict(call.get("function") or call.get("custom") or {})
        arguments, ok = _arguments(function.get("arguments", function.get("input")), capture)
        part: dict[str, Any] = {
            "type": "tool_call",
            "id": call.get("id"),
            "name": function.get("name"),
            "arguments": arguments,
        }
        if not ok:
            part["invalid"] = True
        parts.append(part)
    return parts


def semconv_message(
    message: object, capture: bool, finish_reason: str | None = None
) -> dict[str, Any]:
    """One OpenAI chat message in the OpenTelemetry GenAI message shape."""
    data = as_dict(message)
    role = str(data.get("role") or "user")
    out: dict[str, Any] = {"role": _ROLES.get(role, role)}
    if data.get("name"):
        out["name"] = to_jsonable(data["name"])
    tool_call_id = data.get("tool_call_id")
    if role in ("tool", "function"):
        parts = _content_parts(data.get("content"), capture)
        texts = [p.get("content") for p in parts if p["type"] == "text"]
        response: Any = texts[0] if texts else (parts or None)
        call_id = tool_call_id or data.get("name")
        out["parts"] = [
            {"type": "tool_call_response", "id": call_id, "response": response if capture else None}
        ]
    else:
        parts = _content_parts(data.get("content"), capture)
        if data.get("refusal"):
            parts.append(_part({"type": "refusal", "refusal": data["refusal"]}, capture))
        parts.extend(_tool_call_parts(data, capture))
        out["parts"] = parts
    if finish_reason:
        out["finish_reason"] = finish_reason
    return out


def join_newest(displays: Sequence[str], budget: int) -> str:
    """A JSON list of message displays within ``budget`` chars, keeping the newest.

    Earlier messages that do not fit are replaced by one marker entry saying how many
    were left out, so the cut is never silent.
    """
    shown: list[str] = []
    used = 2
    for item in reversed(displays):
        if used + len(item) + 1 > budget and shown:
            break
        shown.append(item)
        used += len(item) + 1
    omitted = len(displays) - len(shown)
    shown.reverse()
    if omitted:
        shown.insert(0, dumps({"role": "tracetape", "omitted_earlier_messages": omitted}))
    return "[" + ",".join(shown) + "]"
