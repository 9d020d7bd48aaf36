"""Lineage: span <-> artifact <-> run <-> environment edges, both ways (`tape.lineage`)."""
