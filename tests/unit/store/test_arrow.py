"""Span attributes -> the ``attributes`` JSON column: JSON-valued attributes nest."""

from __future__ import annotations

import json

from tracetape.spans import semconv
from tracetape.store.arrow import attributes_json


def test_json_text_nests_under_every_key_holding_it_and_other_text_stays_a_string() -> None:
    values = json.dumps({"messages": [{"role": "user", "parts": []}]})
    attrs = {semconv.PROMPT_VALUES: values, semconv.INPUT: values, "n": 3}
    first = json.loads(attributes_json(attrs))
    again = json.loads(attributes_json(attrs))
    assert first == again
    assert first[semconv.PROMPT_VALUES] == first[semconv.INPUT] == json.loads(values)
    assert first["n"] == 3

    broken = values[:-1]  # not JSON: kept as the string it is
    row = json.loads(attributes_json({semconv.INPUT: broken, semconv.OUTPUT: values}))
    assert row[semconv.INPUT] == broken
    assert row[semconv.OUTPUT] == json.loads(values)
