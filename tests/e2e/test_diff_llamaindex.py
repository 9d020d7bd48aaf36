"""``tape.diff`` of two LlamaIndex query engine traces that differ in ``similarity_top_k``."""

from __future__ import annotations

from tests.fakes import llamaindex as fakes
from tracetape.diff import DocumentsChange, OutputChange, RetrieverChange
from tracetape.tape import Tape


def test_a_top_k_change_owns_the_documents_and_the_answer(tape: Tape) -> None:
    index = fakes.index()
    with fakes.attached(tape.recorder):
        for top_k in (1, 2):
            index.as_query_engine(similarity_top_k=top_k).query("How long do cats sleep?")
    tape.flush()
    a, b = tape.sql("SELECT trace_id FROM traces ORDER BY start_time").trace_id

    result = tape.diff(a, b)

    (group,) = result.groups
    (cause,) = group.causes
    assert isinstance(cause, RetrieverChange)
    assert ("search_kwargs.similarity_top_k", 1, 2) in [
        (f.field, f.before, f.after) for f in cause.fields
    ]
    documents, rendered, final = group.effects
    assert isinstance(documents, DocumentsChange)
    assert (len(documents.ids_a), len(documents.ids_b), len(documents.added)) == (1, 2, 1)
    assert isinstance(rendered, OutputChange) and "prompt" in rendered.step
    assert isinstance(final, OutputChange) and final.final
