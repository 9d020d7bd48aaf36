"""A class given as ``response_format`` is recorded as what the ``openai`` SDK sends for it
(its strict JSON schema), so a re-run sends the same body; without ``openai`` capture
still records its plain JSON schema."""

from __future__ import annotations

import subprocess
import sys

from openai.lib._parsing import type_to_response_format_param
from pydantic import BaseModel

from tracetape.capture.openai.request import wire_response_format


class Sum(BaseModel):
    total: int


def test_a_class_is_recorded_as_the_sdk_sends_it():
    recorded = wire_response_format(Sum)

    assert recorded == type_to_response_format_param(Sum)
    assert recorded["json_schema"]["strict"] is True
    assert recorded["json_schema"]["schema"]["additionalProperties"] is False


def test_what_is_already_wire_form_passes_unchanged():
    given = {"type": "json_object"}
    assert wire_response_format(given) is given
    assert wire_response_format(None) is None


def test_without_openai_a_pydantic_class_is_its_plain_json_schema(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai.lib._parsing", None)  # import fails

    assert wire_response_format(Sum) == {
        "type": "json_schema",
        "json_schema": {"name": "Sum", "schema": Sum.model_json_schema()},
    }


def test_langchain_capture_loads_openai_only_for_a_class_response_format():
    code = (
        "import sys, tracetape.capture.langchain.llm as llm\n"
        "assert llm._response_format({'type': 'json_object'}) == {'type': 'json_object'}\n"
        "assert 'openai' not in sys.modules, 'openai imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
