"""Renderings of what a tape holds: terminal/plain text now (``text``, ``tables``)."""
