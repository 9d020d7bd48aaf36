"""DataFrames as rich tables: the traces listing and any SQL result."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
from rich import box
from rich.table import Table
from rich.text import Text

from tracetape.inspect.render.text import format_duration, format_tokens, shorten, value


def _start(raw: Any) -> str:
    stamp = value(raw)
    if isinstance(stamp, pd.Timestamp | dt.datetime):
        return stamp.strftime("%m-%d %H:%M:%S")
    return "" if stamp is None else str(stamp)


def _models(raw: Any) -> str:
    models = value(raw)
    if models is None:
        return ""
    return "\n".join(str(m) for m in list(models))


def traces_table(traces: pd.DataFrame, *, title: str | None = None, compact: bool = False) -> Table:
    """Recent traces: id, name, start (UTC), duration, status, #llm/#tool, tokens, models.

    ``compact`` (for narrow terminals) leaves out the name, the start and the models.
    """
    table = Table(
        title=Text(title) if title is not None else None,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        show_edge=False,
    )
    table.add_column("trace id", overflow="fold", min_width=32)
    if not compact:
        table.add_column("name", overflow="fold")
        table.add_column("start (UTC)", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("llm/tool", justify="right", no_wrap=True)
    table.add_column("tokens", justify="right", no_wrap=True)
    if not compact:
        table.add_column("models", overflow="fold")
    for row in traces.to_dict("records"):
        status = str(value(row.get("status")) or "unset")
        errors = int(value(row.get("n_errors")) or 0)
        status_text = Text(status, style="bold red" if status == "error" else "green")
        if errors > 1:
            status_text.append(f" x{errors}", style="red")
        cells: list[Text] = [Text(str(row.get("trace_id")))]
        if not compact:
            cells += [Text(str(value(row.get("name")) or "")), Text(_start(row.get("start_time")))]
        cells += [
            Text(format_duration(row.get("duration_ms"))),
            status_text,
            Text(f"{int(value(row.get('n_llm')) or 0)}/{int(value(row.get('n_tool')) or 0)}"),
            Text(format_tokens(row.get("input_tokens"), row.get("output_tokens"), unit="")),
        ]
        if not compact:
            cells.append(Text(_models(row.get("models"))))
        table.add_row(*cells)
    return table


def _cell(raw: Any, max_chars: int) -> str:
    cell = value(raw)
    if cell is None:
        return "NULL"
    if isinstance(cell, pd.Timestamp | dt.datetime):
        return cell.isoformat()
    if isinstance(cell, float):
        return f"{cell:.3f}".rstrip("0").rstrip(".")
    if not isinstance(cell, str | int | bool):
        try:
            cell = json.dumps(list(cell) if not isinstance(cell, dict) else cell, default=str)
        except TypeError:
            cell = str(cell)
    return shorten(str(cell), max_chars)


def frame_table(frame: pd.DataFrame, *, max_chars: int = 120) -> Table:
    """Any DataFrame (e.g. a SQL result) as a table; long cells cut and marked."""
    rows = f"{len(frame)} row{'' if len(frame) == 1 else 's'}"
    table = Table(header_style="bold", caption=rows, caption_justify="left")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False, name=None):
        # Text, not str: a cell such as "[a, b]" is data, never rich markup.
        table.add_row(*(Text(_cell(cell, max_chars)) for cell in row))
    return table
