"""The DuckDB tape: spool segments, folded tables and the public views."""
