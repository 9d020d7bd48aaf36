"""Versioned schema of the tape: raw tables, forward-only migrations, stable views."""
