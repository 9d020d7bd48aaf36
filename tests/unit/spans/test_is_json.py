"""`is_json`: what the writer nests as JSON in a span's attributes, exactly as before."""

from __future__ import annotations

import json

import pytest

from tracetape.spans.encode import is_json


@pytest.mark.parametrize(
    "text",
    ['{"a":[1,2.5,"x"]}', "[]", '"text"', "1180591620717411303424", '{"x":NaN}', '"\\ud800"'],
    ids=["object", "array", "string", "big-int", "nan", "lone-surrogate"],
)
def test_what_the_standard_parser_reads_is_json(text):
    json.loads(text)
    assert is_json(text)


@pytest.mark.parametrize("text", ["", "{", "{'a': 1}", "[1,]", "nan", "1 2"])
def test_what_it_rejects_is_not(text):
    with pytest.raises(ValueError):
        json.loads(text)
    assert not is_json(text)
