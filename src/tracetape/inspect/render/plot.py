"""Small charts drawn as inline SVG by our own code: no plotting library, nothing loaded.

A `Plot` shows in Jupyter through ``_repr_mimebundle_`` (SVG plus a plain-text table as
the fallback) and prints as that table in a terminal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Sequence

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 32, 48
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.3g}k" if value < 1e6 else f"{value / 1e6:.3g}M"
    return f"{value:.3g}"


def _ticks(top: float, count: int = 4) -> list[float]:
    step = top / count if top > 0 else 1.0
    return [step * i for i in range(count + 1)]


def _text(x: float, y: float, body: str, anchor: str = "middle", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="#374151">{html.escape(body)}</text>'
    )


@dataclasses.dataclass(frozen=True)
class Plot:
    """A line chart over time (``times``) or a grouped bar chart (``labels``).

    ``series`` maps a legend name to one value per point (None for a gap).

    Example:
        >>> plot = tape.plot("latency", by="tool", since="1d")
        >>> plot  # in Jupyter: the chart; elsewhere: a table
    """

    title: str
    unit: str
    series: dict[str, list[float | None]]
    times: Sequence[dt.datetime] = ()
    labels: Sequence[str] = ()

    @property
    def points(self) -> list[str]:
        """The x-axis names: bucket start times or bar labels."""
        if self.times:
            return [t.strftime("%m-%d %H:%M") for t in self.times]
        return list(self.labels)

    def _top(self) -> float:
        values = [v for vs in self.series.values() for v in vs if v is not None]
        return max(values, default=0.0) * 1.1 or 1.0

    def _frame(self, top: float) -> list[str]:
        inner_h = HEIGHT - TOP - BOTTOM
        parts = [_text(LEFT, 18, self.title, anchor="start", size=13)]
        for tick in _ticks(top):
            y = TOP + inner_h - tick / top * inner_h
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="#e5e7eb"/>'
            )
            parts.append(_text(LEFT - 6, y + 4, _number(tick), anchor="end"))
        parts.append(_text(LEFT - 6, TOP - 14, self.unit, anchor="end", size=11))
        for i, (name, _) in enumerate(self.series.items()):
            x = WIDTH - RIGHT - 110 * (len(self.series) - i)
            colour = COLOURS[i % len(COLOURS)]
            parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>')
            parts.append(_text(x + 14, 17, name, anchor="start"))
        return parts

    def _x_labels(self, xs: list[float]) -> list[str]:
        names = self.points
        every = max(len(names) // 8, 1)
        last = len(names) - 1
        return [
            # The last label ends at its point, so it stays inside the chart.
            _text(x, HEIGHT - BOTTOM + 16, names[i], anchor="end" if i == last > 0 else "middle")
            for i, x in enumerate(xs)
            if (i % every == 0 and xs[last] - x >= 80) or i == last
        ]

    def to_svg(self) -> str:
        """The chart as a standalone ``<svg>`` element."""
        top = self._top()
        inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        n = len(self.points)
        parts = self._frame(top)

        def y_of(value: float) -> float:
            return TOP + inner_h - value / top * inner_h

        if self.times:
            xs = [LEFT + (inner_w * (i + 0.5) / n) for i in range(n)]
            for k, values in enumerate(self.series.values()):
                colour = COLOURS[k % len(COLOURS)]
                points = [
                    f"{x:.1f},{y_of(v):.1f}"
                    for x, v in zip(xs, values, strict=True)
                    if v is not None
                ]
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(points)}"/>'
                )
                parts += [
                    f'<circle cx="{x:.1f}" cy="{y_of(v):.1f}" r="2.5" fill="{colour}"/>'
                    for x, v in zip(xs, values, strict=True)
                    if v is not None
                ]
        else:
            slot = inner_w / max(n, 1)
            width = slot * 0.8 / max(len(self.series), 1)
            xs = [LEFT + slot * (i + 0.5) for i in range(n)]
            for k, values in enumerate(self.series.values()):
                colour = COLOURS[k % len(COLOURS)]
                for i, v in enumerate(values):
                    if v is None:
                        continue
                    x = LEFT + slot * i + slot * 0.1 + width * k
                    parts.append(
                        f'<rect x="{x:.1f}" y="{y_of(v):.1f}" width="{width:.1f}" '
                        f'height="{TOP + inner_h - y_of(v):.1f}" fill="{colour}"/>'
                    )
        parts += self._x_labels(xs)
        body = "".join(parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" role="img" '
            f'aria-label="{html.escape(self.title)}">{body}</svg>'
        )

    def __str__(self) -> str:
        names = list(self.series)
        header = ["", *names]
        rows = [
            [point, *(_number(v) if v is not None else "-" for v in column)]
            for point, *column in zip(self.points, *self.series.values(), strict=True)
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines = [f"{self.title} ({self.unit})"]
        for row in [header, *rows]:
            lines.append(
                "  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
        if not rows:
            lines.append("(no data)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_mimebundle_(self, **_: object) -> dict[str, str]:
        return {"image/svg+xml": self.to_svg(), "text/plain": str(self)}
