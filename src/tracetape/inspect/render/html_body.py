"""The inside of one span in the HTML view: what a click on its row opens.

The error first, then the facts of its kind (model and version signals, tool, retriever
configuration, prompt template, LangGraph position), its inputs and outputs shown the
way its kind reads best, its scores, and every attribute behind a fold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from tracetape.inspect.render.html_parts import (
    ATTRIBUTE_CHARS,
    MAX_ITEMS,
    clip,
    esc,
    inline,
    kv_table,
    payload_html,
    section,
    value_html,
)
from tracetape.inspect.render.text import IO_ATTRIBUTES, format_duration, format_score, value
from tracetape.spans import semconv as sc

if TYPE_CHECKING:
    from tracetape.inspect.span import SpanNode

_FACTS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "llm": (
        ("provider", sc.PROVIDER_NAME),
        ("requested model", sc.REQUEST_MODEL),
        ("responded model", sc.RESPONSE_MODEL),
        ("system fingerprint", sc.MODEL_SYSTEM_FINGERPRINT),
        ("model class", sc.MODEL_CLASS),
        ("response id", sc.RESPONSE_ID),
        ("finish reasons", sc.RESPONSE_FINISH_REASONS),
        ("temperature", sc.REQUEST_TEMPERATURE),
        ("top p", sc.REQUEST_TOP_P),
        ("top k", sc.REQUEST_TOP_K),
        ("max tokens", sc.REQUEST_MAX_TOKENS),
        ("seed", sc.REQUEST_SEED),
        ("stop", sc.REQUEST_STOP_SEQUENCES),
        ("cached input tokens", sc.USAGE_CACHE_READ_INPUT_TOKENS),
        ("reasoning tokens", sc.USAGE_REASONING_OUTPUT_TOKENS),
        ("time to first token (ms)", sc.TIME_TO_FIRST_TOKEN_MS),
        ("streamed", sc.STREAMED),
        ("service tier", sc.RESPONSE_SERVICE_TIER),
        ("server", sc.SERVER_ADDRESS),
        ("HTTP status", sc.HTTP_STATUS_CODE),
        ("error code", sc.MODEL_ERROR_CODE),
        ("request id", sc.MODEL_REQUEST_ID),
    ),
    "embedding": (
        ("requested model", sc.REQUEST_MODEL),
        ("model class", sc.MODEL_CLASS),
        ("inputs", sc.EMBEDDING_INPUT_COUNT),
        ("dimensions", sc.EMBEDDINGS_DIMENSION_COUNT),
        ("method", sc.EMBEDDING_METHOD),
    ),
    "tool": (
        ("tool", sc.TOOL_NAME),
        ("description", sc.TOOL_DESCRIPTION),
        ("call id", sc.TOOL_CALL_ID),
        ("type", sc.TOOL_TYPE),
    ),
    "retriever": (
        ("retriever", sc.RETRIEVER_CLASS),
        ("vector store", sc.RETRIEVER_VECTOR_STORE),
        ("data source", sc.DATA_SOURCE_ID),
        ("search type", sc.RETRIEVER_SEARCH_TYPE),
        ("k", sc.RETRIEVER_TOP_K),
        ("search kwargs", sc.RETRIEVER_SEARCH_KWARGS),
        ("embedding model", sc.RETRIEVER_EMBEDDING_MODEL),
        ("documents", sc.RETRIEVER_DOCUMENT_COUNT),
        ("config", sc.RETRIEVER_CONFIG),
    ),
    "prompt": (
        ("template class", sc.PROMPT_CLASS),
        ("template format", sc.PROMPT_FORMAT),
        ("input variables", sc.PROMPT_VARIABLES),
        ("template hash", sc.PROMPT_HASH),
        ("few-shot examples", sc.PROMPT_EXAMPLE_COUNT),
    ),
}
_VARIABLE: Final = re.compile(r"\{\{?\s*[A-Za-z_][\w.]*\s*\}?\}")
"""A template variable: ``{name}`` (f-string), ``{{name}}`` (mustache, jinja2)."""
_GRAPH_FACTS: Final = (
    ("graph", sc.LANGGRAPH_GRAPH),
    ("node", sc.LANGGRAPH_NODE),
    ("step", sc.LANGGRAPH_STEP),
    ("triggers", sc.LANGGRAPH_TRIGGERS),
    ("checkpoint ns", sc.LANGGRAPH_CHECKPOINT_NS),
    ("thread id", sc.LANGGRAPH_THREAD_ID),
    ("agent", sc.AGENT_NAME),
    ("conversation", sc.CONVERSATION_ID),
    ("stopped by", sc.CONTROL_FLOW),
    ("incomplete", sc.INCOMPLETE),
)


def _facts(node: SpanNode) -> str:
    attrs = node.attributes
    rows: list[tuple[str, str]] = [
        ("span", f"<code>{esc(node.span_id)}</code> · {esc(node.kind)}"),
    ]
    if node.operation:
        rows[0] = (rows[0][0], rows[0][1] + f" · {esc(node.operation)}")
    if node.start_time is not None:
        rows.append(("start (UTC)", esc(node.start_time.isoformat())))
    rows.append(("duration", esc(format_duration(node.duration_ms) or "?")))
    if node.input_tokens is not None or node.output_tokens is not None:
        rows.append(("tokens in / out", f"{node.input_tokens} / {node.output_tokens}"))
    for label, key in (*_FACTS.get(node.kind, ()), *_GRAPH_FACTS):
        if key in attrs and attrs[key] is not None:
            rows.append((label, inline(attrs[key])))
    if node.replayable is False:
        rows.append(("replayable", "no: a payload was too large to keep whole"))
    if node.tags:
        rows.append(("tags", esc(", ".join(node.tags))))
    for label, column in (("run", node.run_id), ("environment", node.environment_id)):
        if column:
            rows.append((label, f"<code>{esc(column)}</code>"))
    if node.replay_of:
        rows.append(("replay of", f"<code>{esc(node.replay_of)}</code>"))
    return kv_table(rows)


def _error(node: SpanNode) -> str:
    if not node.failed:
        return ""
    kind = node.error_type or node.attributes.get(sc.ERROR_TYPE) or "error"
    message = node.status_message or ""
    return (
        f'<div class="tt-error"><b>✗ {esc(kind)}</b>'
        f"{f'<pre>{clip(message)}</pre>' if message else ''}</div>"
    )


def _template(parts: Any) -> str:
    if not isinstance(parts, list):
        return value_html(parts)
    rows: list[tuple[str, str]] = []
    for part in parts:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(part, Mapping):
            rows.append(("", value_html(part)))
            continue
        role = str(part.get("role", ""))
        if role == "placeholder":
            cell = f'<span class="tt-var">{{{esc(part.get("variable"))}}}</span> (messages)'
        elif "template" in part:
            cell = _VARIABLE.sub(r'<span class="tt-var">\g<0></span>', value_html(part["template"]))
        elif "text" in part:
            cell = value_html(part["text"])
        else:
            cell = value_html({k: v for k, v in part.items() if k != "role"})
        rows.append((role, cell))
    return kv_table(rows)


def _prompt(node: SpanNode) -> str:
    attrs = node.attributes
    values = attrs.get(sc.PROMPT_VALUES)
    variables = ""
    if isinstance(values, Mapping):
        variables = kv_table((str(k), payload_html(v)) for k, v in list(values.items())[:MAX_ITEMS])
    return (
        section("template", _template(attrs.get(sc.PROMPT_TEMPLATE)))
        + section("variables", variables)
        + section("rendered", payload_html(node.output) if node.output is not None else "")
    )


def _documents(documents: Sequence[Any]) -> str:
    head = "<tr><th>#</th><th>id</th><th>score</th><th>content</th><th>metadata</th></tr>"
    rows: list[str] = []
    for i, doc in enumerate(documents[:MAX_ITEMS]):
        if not isinstance(doc, Mapping):
            rows.append(f"<tr><td>{i + 1}</td><td colspan=4>{value_html(doc)}</td></tr>")
            continue
        score = doc.get("score")
        score_text = f"{score:.4g}" if isinstance(score, float) else esc(score if score else "")
        meta = doc.get("metadata")
        rows.append(
            f"<tr><td>{i + 1}</td><td><code>{esc(doc.get('id') or '')}</code></td>"
            f"<td>{score_text}</td><td>{value_html(doc.get('content'))}</td>"
            f"<td>{inline(meta) if meta else ''}</td></tr>"
        )
    more = len(documents) - MAX_ITEMS
    note = f'<span class="tt-cut">… {more} more documents not shown</span>' if more > 0 else ""
    return f'<table class="tt-grid">{head}{"".join(rows)}</table>{note}'


def _retriever(node: SpanNode) -> str:
    documents = node.output
    if not isinstance(documents, list):
        documents = node.attributes.get(sc.RETRIEVAL_DOCUMENTS)
    docs = (
        _documents(documents)
        if isinstance(documents, list)
        else value_html(documents)
        if documents is not None
        else ""
    )
    count = f" ({len(documents)})" if isinstance(documents, list) else ""  # pyright: ignore[reportUnknownArgumentType]
    query = node.input if node.input is not None else node.attributes.get(sc.RETRIEVAL_QUERY)
    return section("query", value_html(query) if query is not None else "") + section(
        f"documents{count}", docs
    )


def _tool(node: SpanNode) -> str:
    arguments = node.input
    if isinstance(arguments, Mapping) and arguments:
        args = kv_table((str(k), value_html(v)) for k, v in arguments.items())
    else:
        args = value_html(arguments) if arguments is not None else ""
    schema = node.attributes.get(sc.TOOL_ARGS_SCHEMA)
    return (
        section("arguments", args)
        + section("result", value_html(node.output) if node.output is not None else "")
        + (section("argument schema", value_html(schema), collapsed=True) if schema else "")
    )


def _llm(node: SpanNode) -> str:
    attrs = node.attributes
    out = section("input messages", payload_html(node.input) if node.input is not None else "")
    out += section("output", payload_html(node.output) if node.output is not None else "")
    for title, key in (
        ("system instructions", sc.SYSTEM_INSTRUCTIONS),
        ("invocation params", sc.INVOCATION_PARAMS),
        ("response format", sc.RESPONSE_FORMAT),
    ):
        if attrs.get(key) is not None:
            out += section(title, value_html(attrs[key]), collapsed=True)
    tools = attrs.get(sc.TOOL_DEFINITIONS)
    if isinstance(tools, list) and tools:
        out += section(f"tools offered ({len(tools)})", value_html(tools), collapsed=True)  # pyright: ignore[reportUnknownArgumentType]
    return out


def _generic(node: SpanNode) -> str:
    out = section("input", payload_html(node.input) if node.input is not None else "")
    out += section("output", payload_html(node.output) if node.output is not None else "")
    interrupt = node.attributes.get(sc.INTERRUPT_VALUE)
    if interrupt is not None:
        out += section("interrupt value", value_html(interrupt))
    return out


_BY_KIND = {"llm": _llm, "tool": _tool, "retriever": _retriever, "prompt": _prompt}


def _scores(node: SpanNode) -> str:
    scores = node.scores
    if scores.empty:
        return ""
    rows: list[tuple[str, str]] = []
    for score in scores.to_dict("records"):
        shown = format_score(score).partition("=")[2]
        notes = [str(value(score.get(k))) for k in ("comment", "source") if value(score.get(k))]
        if notes:
            note = clip(" · ".join(notes), 500)
            shown_html = f'{esc(shown)} <span class="tt-muted">· {note}</span>'
        else:
            shown_html = esc(shown)
        rows.append((str(value(score.get("name")) or "score"), shown_html))
    return section("scores", kv_table(rows))


def _all_attributes(node: SpanNode) -> str:
    attrs = node.attributes
    rows = [
        (
            key,
            '<span class="tt-muted">(shown above as input/output)</span>'
            if key in IO_ATTRIBUTES
            else inline(attrs[key], ATTRIBUTE_CHARS),
        )
        for key in sorted(attrs)
    ]
    return section(f"all attributes ({len(rows)})", kv_table(rows), collapsed=True)


def span_body(node: SpanNode) -> str:
    """What opening a span shows: error, facts, inputs and outputs, scores, attributes."""
    main = _BY_KIND.get(node.kind, _generic)(node)
    return _error(node) + _facts(node) + main + _scores(node) + _all_attributes(node)
