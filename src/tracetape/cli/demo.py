"""``tracetape demo``: record the offline demo agent into the tape and show it."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tracetape.errors import IntegrationMissingError


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    return verbs.add_parser(
        "demo",
        help="record an offline LangGraph demo agent into the tape and show it",
        description="Record three questions to an offline LangGraph support agent "
        "(a deterministic demo model, real LangChain objects) and show the span trees.",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Record the demo into ``args.path`` and print what was recorded."""
    try:
        # Imported here only: the demo loads LangChain and LangGraph, no other verb does.
        from tracetape.demo import run_demo
    except ImportError as exc:
        raise IntegrationMissingError(
            f"tracetape demo needs LangChain and LangGraph ({exc.name} is missing): "
            "pip install 'tracetape[langchain]'"
        ) from exc
    run_demo(args.path, console)
    return 0
