"""`to_jsonable`, `dumps`, `limit`, `limit_json`: any value in, valid redacted JSON out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, SecretStr

from tracetape.settings import Settings
from tracetape.spans import semconv
from tracetape.spans.content import ContentStore
from tracetape.spans.encode import (
    MAX_DEPTH,
    MAX_ITEMS,
    content_hash,
    dumps,
    encode,
    limit,
    limit_json,
    to_jsonable,
)
from tracetape.spans.recorder import Recorder
from tracetape.spans.redact import REDACTED

SECRET = "sk-proj-ABCdef0123456789ghijKLMN"


def roundtrip(value: object) -> Any:
    """Encode and parse back: proves the text is valid JSON."""
    text = encode(value)
    text.encode("utf-8")  # valid UTF-8, or Arrow could not store it
    return json.loads(text)


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int
    token: str = "tok_abcdefghijklmnop"


class Inner(BaseModel):
    label: str


class Outer(BaseModel):
    name: str
    inner: Inner
    api_key: SecretStr
    password: str = "hunter2hunter2"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class BrokenStr(Exception):
    def __str__(self) -> str:
        raise ValueError("no str either")


class ReprReturnsBytes:
    def __repr__(self) -> Any:
        return b"not a str"


class ExplodingMapping(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("boom")


class Node:
    def __init__(self) -> None:
        self.children: list[Node] = []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (3, 3),
        (1.5, 1.5),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ("plain", "plain"),
        (10**40, 10**40),
        ((1, 2), [1, 2]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2024-01-02T03:04:05+00:00"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.timedelta(seconds=1.5), 1.5),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (Decimal("1.10"), "1.10"),
        (PurePosixPath("/tmp/x"), "/tmp/x"),
        (Colour.RED, "red"),
        (1 + 2j, "(1+2j)"),
        ({1: "a", None: "b"}, {"1": "a", "null": "b"}),
    ],
)
def test_plain_values(value: object, expected: object) -> None:
    assert roundtrip(value) == expected


def test_bytes_are_described_with_a_short_preview() -> None:
    assert to_jsonable(b"hello") == "<bytes len=5 b'hello'>"
    big = to_jsonable(bytes(range(256)) * 1000)
    assert big.startswith("<bytes len=256000 b'\\x00\\x01")
    assert big.endswith("…>")
    assert len(big) < 400
    assert to_jsonable(bytearray(b"ab")) == "<bytearray len=2 b'ab'>"
    assert to_jsonable(memoryview(b"abc")) == "<memoryview len=3>"


def test_numpy_arrays_and_scalars() -> None:
    assert roundtrip(np.arange(4).reshape(2, 2)) == [[0, 1], [2, 3]]
    assert roundtrip(np.float32(0.5)) == 0.5
    assert roundtrip(np.int64(7)) == 7
    assert roundtrip(np.bool_(True)) is True
    assert roundtrip(np.array([1.0, np.nan])) == [1.0, "nan"]
    huge = roundtrip(np.zeros((200, 200)))
    assert huge == "<ndarray shape=(200, 200) dtype=float64>"


def test_pydantic_models_and_dataclasses_with_secrets() -> None:
    value = Outer(name="n", inner=Inner(label="l"), api_key=SecretStr(SECRET))
    assert roundtrip(value) == {
        "name": "n",
        "inner": {"label": "l"},
        "api_key": REDACTED,
        "password": REDACTED,
    }
    assert roundtrip(Point(1, 2)) == {"x": 1, "y": 2, "token": REDACTED}
    assert SECRET not in encode({"model": value})


def test_pydantic_class_and_plain_class_are_named() -> None:
    assert roundtrip(Outer) == "<class 'tests.unit.spans.test_encode.Outer'>"
    assert roundtrip(int) == "<class 'int'>"


def test_cycles_are_cut_where_they_close() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert roundtrip(loop) == [1, "<cycle: list>"]
    mapping: dict[str, Any] = {"a": 1}
    mapping["self"] = mapping
    assert roundtrip(mapping) == {"a": 1, "self": "<cycle: dict>"}
    # A shared (not cyclic) child is shown each time it appears.
    shared = {"k": 1}
    assert roundtrip([shared, shared]) == [{"k": 1}, {"k": 1}]


class Tree(BaseModel):
    password: str
    children: list[Any] = []


def test_pydantic_cycle_does_not_fall_back_to_an_unredacted_repr() -> None:
    tree = Tree(password="correct-horse-battery-staple")
    tree.children.append(tree)
    out = roundtrip(tree)
    assert out == {"password": REDACTED, "children": ["<cycle: Tree>"]}


def test_deep_nesting_stops_at_max_depth() -> None:
    value: Any = "leaf"
    for _ in range(MAX_DEPTH + 10):
        value = [value]
    out = roundtrip(value)
    depth = 0
    while isinstance(out, list):
        out = out[0]
        depth += 1
    assert depth == MAX_DEPTH
    assert out == "<list: nested too deep>"


def test_generators_and_iterators_are_never_consumed() -> None:
    consumed: list[int] = []

    def numbers() -> Iterator[int]:
        for i in range(3):
            consumed.append(i)
            yield i

    gen = numbers()
    out = roundtrip({"gen": gen, "it": iter([1, 2])})
    assert out["gen"].startswith("<generator object")
    assert "0x" not in out["gen"]  # addresses dropped: the same value encodes the same
    assert out["it"] == "<list_iterator object>"
    assert consumed == []
    assert list(gen) == [0, 1, 2]


def test_exceptions_become_type_and_message() -> None:
    assert roundtrip(ValueError(f"bad key {SECRET}")) == {
        "type": "ValueError",
        "message": f"bad key {REDACTED}",
    }
    assert roundtrip(BrokenStr()) == {
        "type": "tests.unit.spans.test_encode.BrokenStr",
        "message": "<str failed: ValueError>",
    }


def test_broken_repr_and_odd_objects_never_raise() -> None:
    assert roundtrip(BrokenRepr()) == "<BrokenRepr (repr failed: RuntimeError)>"
    assert roundtrip(ReprReturnsBytes()) == "<ReprReturnsBytes (repr failed: TypeError)>"
    assert roundtrip({BrokenRepr(): 1}) == {"<BrokenRepr (repr failed: RuntimeError)>": 1}
    # A mapping that fails is named, never repr'd (its repr would show unkeyed secrets).
    failing = ExplodingMapping(password="hunter2hunter2")
    assert roundtrip(failing) == "<ExplodingMapping: not serialisable (RuntimeError)>"


def test_plain_objects_use_their_repr_without_addresses() -> None:
    out = roundtrip(Node())
    assert out == "<tests.unit.spans.test_encode.Node object>"
    assert roundtrip(Node()) == out  # stable across instances, so content hashes are too


def test_lone_surrogates_become_replacement_characters() -> None:
    broken = b"caf\xe9".decode("utf-8", "surrogateescape")
    out = encode({"text": broken, broken: 1})
    out.encode("utf-8")
    assert json.loads(out) == {"text": "caf\ufffd", "caf\ufffd": 1}
    assert dumps(broken) == '"caf\ufffd"'


def test_wide_containers_are_cut_with_a_marker() -> None:
    wide = list(range(MAX_ITEMS + 5))
    out = roundtrip(wide)
    assert len(out) == MAX_ITEMS + 1
    assert out[-1] == "[tracetape: 5 more items]"
    mapping = {f"k{i}": i for i in range(MAX_ITEMS + 2)}
    out_map = roundtrip(mapping)
    assert out_map["…"] == "[tracetape: 2 more items]"


def test_total_size_is_bounded() -> None:
    # 30 x 30 x 30 x 30 = 810k leaves: more than one value may expand into.
    level: Any = list(range(30))
    for _ in range(3):
        level = [list(level) for _ in range(30)]
    out = encode(level)
    assert "[tracetape: value too large, rest omitted]" in out
    json.loads(out)


def test_secrets_are_redacted_by_key_and_by_shape() -> None:
    out = roundtrip(
        {
            "api_key": "anything-at-all",
            "OPENAI_API_KEY": "short",
            "nested": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz"},
            "text": f"my key is {SECRET}",
            "max_tokens": 100,
            "password": None,
            "token": "",
        }
    )
    assert out == {
        "api_key": REDACTED,
        "OPENAI_API_KEY": REDACTED,
        "nested": {"Authorization": REDACTED},
        "text": f"my key is {REDACTED}",
        "max_tokens": 100,
        "password": None,
        "token": "",
    }
    # A secret-named key holding an array does not trip numpy's truth-value error.
    assert roundtrip({"secret": np.arange(3)}) == {"secret": REDACTED}


def test_limit_marks_the_cut() -> None:
    assert limit("short", 10) == ("short", False)
    text, cut = limit("x" * 100, 10)
    assert cut
    assert text == "x" * 10 + "…[tracetape: truncated 10 of 100 chars]"


@pytest.mark.parametrize("payload", ["x" * 50_000, '"\\' * 20_000, "é" * 30_000])
def test_limit_json_keeps_json_valid_and_within_the_limit(payload: str) -> None:
    text = dumps({"big": payload, "items": list(range(1000))})
    cut, was_cut = limit_json(text, 1000)
    assert was_cut
    assert len(cut) <= 1000
    parsed = json.loads(cut)
    assert parsed["tracetape.truncated"] is True
    assert parsed["total_chars"] == len(text)
    assert text.startswith(parsed["head"])
    assert parsed["shown_chars"] == len(parsed["head"]) > 0
    assert limit_json("[1,2]", 1000) == ("[1,2]", False)


def test_recorder_display_marks_truncated_attributes() -> None:
    recorder = Recorder(
        tracer=None,  # type: ignore[arg-type]  # display() does not trace
        content=ContentStore(1024),
        settings=Settings(max_display_chars=300),
    )
    attrs: dict[str, Any] = {}
    recorder.display(semconv.OUTPUT, to_jsonable({"blob": "y" * 5000}), attrs)
    assert attrs[semconv.TRUNCATED] == (semconv.OUTPUT,)
    assert json.loads(attrs[semconv.OUTPUT])["tracetape.truncated"] is True


def test_encoding_is_deterministic_for_hashing() -> None:
    def build() -> Any:
        return {"s": {"b", "a", "c"}, "o": Node(), "g": (i for i in range(2)), "n": np.arange(2)}

    assert content_hash(encode(build())) == content_hash(encode(build()))


def test_json_schema_properties_named_like_secrets_keep_their_schema() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "login",
            "parameters": {
                "type": "object",
                "properties": {"api_key": {"type": "string"}, "password": {"type": "string"}},
            },
        },
    }
    assert roundtrip(tool) == tool
    # Only schema-shaped values are spared: other "properties" keep key redaction.
    assert roundtrip({"properties": {"password": {"value": "x"}, "token": "abc"}}) == {
        "properties": {"password": REDACTED, "token": REDACTED}
    }


def test_a_kept_set_is_stored_in_one_order_whatever_it_was_built_in():
    import json as _json

    from tracetape.spans import typed

    def compose(value: object) -> str:
        return _json.dumps(value)

    first = typed.encode({"b", "a", "c"}, compose)
    second = typed.encode({"c", "b", "a"}, compose)
    assert first == second and first is not None and '["a", "b", "c"]' in first
