"""A recorded failure is rebuilt as its own type only when that is safe."""

from __future__ import annotations

from tracetape.replay.result import Divergence, RecordedCallError, recorded_error


def test_builtin_and_imported_exceptions_are_rebuilt():
    error = recorded_error("ValueError", "boom")
    assert type(error) is ValueError and str(error) == "boom"
    imported = recorded_error("json.decoder.JSONDecodeError", "bad")  # needs 3 arguments
    assert isinstance(imported, RecordedCallError)


def test_unknown_types_are_never_imported():
    error = recorded_error("some_module_not_imported.Boom", "boom")
    assert isinstance(error, RecordedCallError)
    assert str(error) == "some_module_not_imported.Boom: boom"


def test_a_divergence_reads_as_a_report():
    divergence = Divergence(
        kind="llm",
        reason="the re-run asked something else than the recording",
        span_id="00f067aa0ba902b7",
        name="ChatOpenAI",
        position=0,
        recorded=("system: a",),
        requested=("system: b",),
    )
    text = str(divergence)
    assert text.startswith("replay diverged at llm call #0 'ChatOpenAI'")
    assert "-system: a\n+system: b" in text
