from __future__ import annotations

import pytest

from tracetape import _safety


@pytest.fixture(autouse=True)
def strict_tracetape():
    """tracetape's own errors fail tests instead of being logged and swallowed."""
    _safety.set_strict(True)
    yield
    _safety.set_strict(False)
