"""Prompt and model artifacts read from the spans, for the ``artifacts`` and
``artifact_links`` views (``source = 'derived'``; what users log is ``'logged'``).

Nothing extra is recorded: the rows are computed from the spans whenever one of the two
views is read (``spans`` and ``traces`` never read them, so they cost those nothing).

* A **prompt artifact** is a template version: its id is the content hash every prompt
  span records (``tracetape.prompt.hash``, already ``sha256:...``). Its name is that of
  its first prompt span (the run name the user gave it, else the span's name), its
  metadata the template's class, format and input variables. Each prompt span links to
  it (role ``input``).
* A **model artifact** is a model as far as the recording tells versions apart: its id
  is `model_artifact_id` of the version signals an llm span records (`MODEL_SIGNALS`),
  so a provider that moves ``gpt-4o`` to a new snapshot (a new responded model or
  fingerprint) makes a new model artifact. Each llm span with at least one signal links
  to it (role ``input``). Its name is ``provider/model`` (`model_name`), its metadata
  the signals.

The model id is defined so that SQL (DuckDB's ``sha256``) and Python (`hashlib`) compute
the same text byte for byte: the five signals in `MODEL_SIGNALS` order, each the string
the span recorded (a missing, empty or non-string value is the empty string), with
``\\`` written ``\\\\`` and a newline written ``\\n``, joined by newlines; the id is
``sha256:`` + the sha256 hex of that text's UTF-8 bytes. Lineage uses the same function
(`tracetape.lineage.derived`), so ``tape.lineage(x)`` and SQL name the same artifacts.

A derived artifact whose id a user also logged is not listed twice (the logged row
stands); neither is a derived link whose artifact a user linked to the same span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from tracetape.spans import semconv

PREFIX: Final = "sha256:"

MODEL_SIGNALS: Final[tuple[tuple[str, str], ...]] = (
    ("provider", semconv.PROVIDER_NAME),
    ("request_model", semconv.REQUEST_MODEL),
    ("response_model", semconv.RESPONSE_MODEL),
    ("system_fingerprint", semconv.MODEL_SYSTEM_FINGERPRINT),
    ("model_class", semconv.MODEL_CLASS),
)
"""The version signals that make a model artifact: (name in its identity, attribute)."""

LINK_ID_PREFIXES: Final = {"prompt": "prompt:", "model": "model:"}
"""A derived link's id is this prefix and its span's id (logged links' are 32 hex)."""


# -- Python ------------------------------------------------------------------------------
def model_identity(attrs: Mapping[str, Any]) -> dict[str, str] | None:
    """The version signals an llm span recorded (non-empty strings only); None if none.

    Example:
        >>> model_identity({"gen_ai.request.model": "gpt-4o", "gen_ai.request.top_p": 1})
        {'request_model': 'gpt-4o'}
    """
    found = {name: value for name, key in MODEL_SIGNALS if isinstance(value := attrs.get(key), str)}
    return {name: value for name, value in found.items() if value} or None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def model_artifact_id(identity: Mapping[str, str]) -> str:
    """``sha256:`` of a model identity's signal text (see the module docstring).

    Example:
        >>> model_artifact_id({"provider": "openai", "request_model": "gpt-4o"})[:7]
        'sha256:'
    """
    text = "\n".join(_escape(identity.get(name, "")) for name, _ in MODEL_SIGNALS)
    return PREFIX + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def model_name(identity: Mapping[str, str]) -> str:
    """What a model artifact is called: the responded model, else the requested one,
    else its class's last name (``provider/model`` when the provider is known)."""
    model = (
        identity.get("response_model")
        or identity.get("request_model")
        or identity.get("model_class", "model").rsplit(".", 1)[-1]
    )
    provider = identity.get("provider")
    return f"{provider}/{model}" if provider else model


# -- SQL ---------------------------------------------------------------------------------
def _key_list(keys: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{key}'" for key in keys) + "]"


SIGNAL_KEYS = _key_list(tuple(key for _, key in MODEL_SIGNALS))
_SIGNAL_NAMES = _key_list(tuple(name for name, _ in MODEL_SIGNALS))


def signals_sql(extracted: str) -> str:
    """SQL: the list of an llm span's signals in `MODEL_SIGNALS` order, NULL where
    missing, empty or not a string, from ``extracted``: a column holding
    ``json_extract(attributes, SIGNAL_KEYS)`` (one parse of the attributes).

    Written out per signal: a lambda over the list costs about twice as much.
    """
    items = ", ".join(
        f"CASE WHEN json_type({extracted}[{i}]) = 'VARCHAR' "
        f"THEN nullif({extracted}[{i}]->>'$', '') END"
        for i in range(1, len(MODEL_SIGNALS) + 1)
    )
    return f"list_value({items})"


def model_id_sql(signals: str) -> str:
    """SQL: `model_artifact_id` of a signal list made by `signals_sql`."""
    escaped = ", ".join(
        f"replace(replace(coalesce({signals}[{i}], ''), '\\', '\\\\'), chr(10), '\\n')"
        for i in range(1, len(MODEL_SIGNALS) + 1)
    )
    return f"'{PREFIX}' || sha256(concat_ws(chr(10), {escaped}))"


def model_name_sql(signals: str) -> str:
    """SQL: `model_name` of a signal list made by `signals_sql`."""
    model = f"coalesce({signals}[3], {signals}[2], regexp_extract({signals}[5], '[^.]*$'), 'model')"
    return f"CASE WHEN {signals}[1] IS NULL THEN {model} ELSE {signals}[1] || '/' || {model} END"


_ANY_SIGNAL = "coalesce(" + ", ".join(f"f[{i + 1}]" for i in range(len(MODEL_SIGNALS))) + ")"

# Every llm span with at least one version signal (``f``: the signal list).
_MODEL_CALLS = (
    "SELECT * FROM (SELECT trace_id, span_id, run_id, start_time, "
    f"{signals_sql('x')} AS f FROM (SELECT trace_id, span_id, run_id, start_time, "
    f"json_extract(attributes, {SIGNAL_KEYS}) AS x FROM spans WHERE kind = 'llm')) "
    f"WHERE {_ANY_SIGNAL} IS NOT NULL"
)

_PROMPT_KEYS = _key_list(
    (
        semconv.PROMPT_HASH,
        semconv.LANGCHAIN_RUN_NAME,
        semconv.PROMPT_CLASS,
        semconv.PROMPT_FORMAT,
        semconv.PROMPT_VARIABLES,
    )
)

# Every prompt span that recorded a template hash (``p``: those five attributes, JSON).
_PROMPT_CALLS = (
    "SELECT trace_id, span_id, run_id, start_time, p[1]->>'$' AS artifact_id, "
    "coalesce(nullif(p[2]->>'$', ''), name) AS artifact_name, p "
    f"FROM (SELECT *, json_extract(attributes, {_PROMPT_KEYS}) AS p "
    "FROM spans WHERE kind = 'prompt') "
    f"WHERE json_type(p[1]) = 'VARCHAR' AND starts_with(p[1]->>'$', '{PREFIX}')"
)

# Names and metadata are made once per artifact (after grouping), ids of models too.
_ARTIFACTS = (
    "SELECT artifact_id, 'prompt' AS kind, artifact_name AS name, NULL::VARCHAR AS uri, "
    "NULL::BIGINT AS size, json_object('class', p[3]->>'$', 'template_format', "
    "p[4]->>'$', 'input_variables', p[5]) AS metadata, created_at "
    "FROM (SELECT artifact_id, arg_min(artifact_name, start_time) AS artifact_name, "
    f"arg_min(p, start_time) AS p, min(start_time) AS created_at FROM ({_PROMPT_CALLS}) "
    "GROUP BY artifact_id) "
    f"UNION ALL SELECT {model_id_sql('f')} AS artifact_id, 'model' AS kind, "
    f"{model_name_sql('f')} AS name, NULL::VARCHAR AS uri, NULL::BIGINT AS size, "
    f"to_json(map_from_entries(list_filter(list_zip({_SIGNAL_NAMES}, f), "
    "lambda e: e[2] IS NOT NULL))) AS metadata, created_at "
    f"FROM (SELECT f, min(start_time) AS created_at FROM ({_MODEL_CALLS}) GROUP BY f)"
)

_LINKS = (
    f"SELECT '{LINK_ID_PREFIXES['prompt']}' || span_id AS link_id, artifact_id, run_id, "
    "trace_id, span_id, 'input' AS role, artifact_name AS name, NULL::VARCHAR AS uri, "
    f"start_time AS created_at FROM ({_PROMPT_CALLS}) "
    f"UNION ALL SELECT '{LINK_ID_PREFIXES['model']}' || span_id AS link_id, "
    f"{model_id_sql('f')} AS artifact_id, run_id, trace_id, span_id, 'input' AS role, "
    f"{model_name_sql('f')} AS name, NULL::VARCHAR AS uri, start_time AS created_at "
    f"FROM ({_MODEL_CALLS})"
)


def with_derived_artifacts(logged: str) -> str:
    """The ``artifacts`` view: the rows of ``logged`` (the logged artifacts' SQL) and the
    derived ones whose id none of them has, with a ``source`` column."""
    return (
        f"WITH logged AS ({logged}) SELECT *, 'logged' AS source FROM logged "
        "UNION ALL BY NAME SELECT *, 'derived' AS source "
        f"FROM ({_ARTIFACTS}) d WHERE NOT EXISTS "
        "(SELECT 1 FROM logged l WHERE l.artifact_id = d.artifact_id)"
    )


def with_derived_links(logged: str) -> str:
    """The ``artifact_links`` view: the rows of ``logged`` and the derived links whose
    artifact and span no logged link names together, with a ``source`` column."""
    return (
        f"WITH logged AS ({logged}) SELECT *, 'logged' AS source FROM logged "
        "UNION ALL BY NAME SELECT *, 'derived' AS source "
        f"FROM ({_LINKS}) d WHERE NOT EXISTS (SELECT 1 FROM logged l "
        "WHERE l.artifact_id = d.artifact_id AND l.span_id = d.span_id)"
    )
