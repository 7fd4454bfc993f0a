"""The report's charts as PNG bytes, drawn by matplotlib's Agg renderer (no display, no browser).

Labels arrive already in the reader's language; Chinese needs a CJK font, which Debian ships in
fonts-noto-cjk (installed by scripts/bootstrap) and which is found here by path, so the result
does not depend on a font cache. Each chart is its own Figure, never pyplot's global state, so
two reports can render at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported where a chart is drawn: it costs a third of a second, and every
# command that loads the daemon would otherwise pay it.

# Debian's paths of a font covering simplified and traditional Chinese, first found wins.
CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
_DPI = 100
_SIZE = (7.0, 3.6)  # inches: 700 x 360 pixels, readable in a mail without scrolling


class FontMissing(RuntimeError):
    """No CJK font at any known path: Chinese labels would render as empty boxes."""


@dataclass(frozen=True, slots=True)
class Bars:
    """A bar chart: one bar per label."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    unit: str = ""  # the value axis' label, e.g. "件" or "元"


@dataclass(frozen=True, slots=True)
class Lines:
    """A line chart over periods: one line per series; None where a rate has no denominator."""

    title: str
    periods: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]  # (label, one value per period)
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    """A rendered chart: the name it is attached and embedded by, and its PNG bytes."""

    name: str  # e.g. "on_time": the Content-ID's local part and the file name's stem
    title: str
    png: bytes


@cache
def cjk_font(candidates: tuple[Path, ...] = CJK_FONTS) -> Path:
    """The first CJK font present, registered with matplotlib."""
    from matplotlib import font_manager

    for path in candidates:
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
            return path
    shown = ", ".join(str(p) for p in candidates)
    raise FontMissing(f"no CJK font found (looked for {shown}); install fonts-noto-cjk")


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=_SIZE, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _in_font(font: Path) -> AbstractContextManager[None]:
    """Matplotlib's settings while one chart is drawn: the CJK font, and an ASCII minus sign
    (the CJK font has no U+2212)."""
    from matplotlib import font_manager, rc_context

    family = font_manager.FontProperties(fname=str(font)).get_name()
    return rc_context({"font.family": [family], "axes.unicode_minus": False})


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def bars(chart: Bars, font: Path | None = None) -> bytes:
    """A horizontal bar chart (long Chinese names read better along the row than under it)."""
    with _in_font(font or cjk_font()):
        figure = _figure()
        axes = figure.add_subplot()
        labels = list(reversed(chart.labels)) or ["—"]
        values = list(reversed(chart.values)) or [0.0]
        drawn = axes.barh(labels, values, color="#3b6ea5")
        axes.bar_label(drawn, fmt="%g", padding=3)
        axes.set_title(chart.title)
        if chart.unit:
            axes.set_xlabel(chart.unit)
        axes.spines[["top", "right"]].set_visible(False)
        axes.margins(x=0.15)
        return _png(figure)


def lines(chart: Lines, font: Path | None = None) -> bytes:
    """Rates over periods; a period without a denominator is a gap in its line, not a zero."""
    with _in_font(font or cjk_font()):
        figure = _figure()
        axes = figure.add_subplot()
        x = list(range(len(chart.periods)))
        for label, values in chart.series:
            y = [float("nan") if v is None else v for v in values]
            axes.plot(x, y, marker="o", label=label)
        axes.set_xticks(x, list(chart.periods), rotation=30, ha="right")
        axes.set_ylim(0, 105)
        axes.set_title(chart.title)
        if chart.unit:
            axes.set_ylabel(chart.unit)
        if chart.series:
            axes.legend(loc="lower left", fontsize="small", ncols=min(4, len(chart.series)))
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def render(name: str, chart: Bars | Lines, font: Path | None = None) -> Chart:
    png = bars(chart, font) if isinstance(chart, Bars) else lines(chart, font)
    return Chart(name, chart.title, png)


def render_all(charts: Sequence[tuple[str, Bars | Lines]], font: Path | None = None) -> list[Chart]:
    return [render(name, chart, font) for name, chart in charts]
