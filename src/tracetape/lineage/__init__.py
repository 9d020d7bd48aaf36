"""Lineage: span <-> artifact <-> run <-> environment edges, both ways (`tape.lineage`).

``tape.lineage(x)`` takes a span, trace, run, artifact or environment id and walks
upstream (what it came from: the model call's model and prompt, the prompt template
version, the retrieved documents' dataset, the run that produced that dataset) and
downstream (what came of it: the spans, traces and runs that used an artifact, and
what those runs wrote). Links are derived when read from what spans already record
(`tracetape.lineage.trace_edges`), plus the links users log (``artifact_links``).

Example:
    >>> lin = tape.lineage(llm_span_id)
    >>> lin.edges[["source_type", "relation", "target_type"]]
    >>> lin.to_openlineage()
"""

from tracetape.lineage.result import Lineage
from tracetape.lineage.walk import lineage

__all__ = ["Lineage", "lineage"]
