"""The geometry of a lab trend chart; templates/records/_trend_chart.html draws it as SVG.

Server-side and script-free: the page's CSP allows no inline script, and a
chart must not need a third party. Numbers are computed here, text is left to
the (auto-escaping) template. Values stay Decimals until they become pixel
coordinates; labels show them as sent.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from records.presenters import LabResult, timestamp

WIDTH = 640
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 32, 48
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
TICKS = 5


def coordinate(value: float) -> str:
    """SVG coordinates as plain text, whatever the page's locale formats numbers as."""
    return f"{value:.1f}"


@dataclass
class Point:
    x: float
    y: float
    result: LabResult

    @property
    def sx(self) -> str:
        return coordinate(self.x)

    @property
    def sy(self) -> str:
        return coordinate(self.y)


@dataclass
class Tick:
    pos: float  # y for value ticks, x for date ticks
    label: str

    @property
    def spos(self) -> str:
        return coordinate(self.pos)


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right_edge: int = WIDTH - RIGHT
    bottom_edge: int = HEIGHT - BOTTOM
    plot_w: int = PLOT_W
    plot_h: int = PLOT_H
    points: list[Point] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    band_top: float | None = None
    band_height: float | None = None
    band_text: str = ""
    unit: str = ""
    low: str = ""
    high: str = ""
    first: str = ""
    last: str = ""

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.sx},{p.sy}" for p in self.points)

    @property
    def band_y(self) -> str:
        return "" if self.band_top is None else coordinate(self.band_top)

    @property
    def band_h(self) -> str:
        return "" if self.band_height is None else coordinate(self.band_height)


def trend_chart(results: list[LabResult]) -> Chart | None:
    """Oldest to newest, numeric dated results only; None when there is nothing to plot."""
    plotted = [
        (t, r)
        for r in results
        if r.number is not None and (t := timestamp(r.effective)) is not None
    ]
    if not plotted:
        return None
    plotted.sort(key=lambda pair: pair[0])
    band = results[0].range  # the newest result's reference range
    values = [r.number for _, r in plotted if r.number is not None]
    bounds = [*values, *(b for b in (band.low, band.high) if b is not None)]
    y_min, y_max, step = _nice_scale(min(bounds), max(bounds))
    t_min, t_max = plotted[0][0], plotted[-1][0]

    def y_of(value: Decimal) -> float:
        return TOP + PLOT_H - float((value - y_min) / (y_max - y_min)) * PLOT_H

    def x_of(t: float) -> float:
        if t_max == t_min:
            return LEFT + PLOT_W / 2
        return LEFT + (t - t_min) / (t_max - t_min) * PLOT_W

    chart = Chart(unit=results[0].unit)
    chart.points = [Point(x_of(t), y_of(r.number), r) for t, r in plotted if r.number is not None]
    value = y_min
    while value <= y_max:
        chart.y_ticks.append(Tick(y_of(value), _label(value, step)))
        value += step
    first, last = plotted[0][1], plotted[-1][1]
    chart.first, chart.last = first.when, last.when
    chart.x_ticks = [Tick(x_of(plotted[0][0]), first.when.split(",")[0])]
    if t_max != t_min:
        chart.x_ticks.append(Tick(x_of(t_max), last.when.split(",")[0]))
    if band.low is not None or band.high is not None:
        top = y_of(band.high) if band.high is not None else TOP
        bottom = y_of(band.low) if band.low is not None else TOP + PLOT_H
        chart.band_top, chart.band_height = top, max(bottom - top, 1.0)
        chart.band_text = results[0].range_text
        chart.low = "" if band.low is None else str(band.low)
        chart.high = "" if band.high is None else str(band.high)
    return chart


def _nice_scale(low: Decimal, high: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Axis bounds on round numbers (1, 2 or 5 times a power of ten) around the values."""
    if high == low:
        pad = abs(high) / 10 or Decimal(1)
        low, high = low - pad, high + pad
    raw = (high - low) / (TICKS - 1)
    exponent = raw.adjusted()
    magnitude = Decimal(1).scaleb(exponent)
    for factor in (1, 2, 5, 10):
        step = magnitude * factor
        if step >= raw:
            break
    start = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    end = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    if end == start:
        end = start + step
    return start, end, step


def _label(value: Decimal, step: Decimal) -> str:
    places = max(0, -step.normalize().as_tuple().exponent)
    return f"{value:.{places}f}"
