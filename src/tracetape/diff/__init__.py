"""Diff: what changed between two traces, two runs or two environments (`tape.diff`)."""
