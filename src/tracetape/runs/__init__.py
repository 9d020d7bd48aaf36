"""Pipeline runs: ``tape.run(...)`` scopes that link spans, artifacts and environments.

Sits between the tape and the layers it composes: it uses `tracetape.spans` (the run
context that stamps span) and `tracetape.store` (run and artifact records).
"""
