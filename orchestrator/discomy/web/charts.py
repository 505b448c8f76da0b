"""The dashboard's charts as SVG text (pure: numbers in, markup out, no I/O).

Every chart is drawn on the server, so a page needs no charting script and no
style attribute (the pages' Content-Security-Policy allows neither): widths and
colours are SVG attributes. Every text that comes from data (a package name, a
host, a label) is escaped here, so a caller may put the result in a page as it
is.
"""

from __future__ import annotations

import math
import time
from html import escape
from typing import Mapping, Optional, Sequence

# the five groups people read a campaign's progress in, and their colours
GROUP_COLOURS = {"done": "#2e8540", "running": "#2b6cb0", "failed": "#c53030",
                 "quarantined": "#dd6b20", "waiting": "#a0aec0"}
SERIES_COLOURS = ("#2b6cb0", "#c53030", "#dd6b20", "#2e8540", "#6b46c1", "#718096",
                  "#b7791f", "#00838f")
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _num(value: float) -> str:
    """A coordinate: finite, short."""
    if value is None or not math.isfinite(value):
        value = 0.0
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, body: list, label: str, cls: str = "chart") -> str:
    # a bar stretches to the width a page gives it; a chart keeps its proportions
    aspect = ' preserveAspectRatio="none"' if cls == "bar" else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" width="{_num(width)}" '
            f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}"{aspect} '
            f'role="img" aria-label="{escape(label)}" {FONT}>' + "".join(body) + "</svg>")


def short_number(value: float) -> str:
    """1234 -> 1.2k: an axis label."""
    value = float(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    if not value % 1:
        return str(int(value))
    return f"{value:.{1 if abs(value) >= 1 else 2}f}".rstrip("0").rstrip(".")


def count_ceiling(value: float) -> float:
    """The axis' top for counts: four round, whole steps (gridlines) up to ``value``."""
    step = value / 4
    if step <= 1 or not math.isfinite(step):
        return 4.0
    power = 10 ** math.floor(math.log10(step))
    for k in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if k * power >= step and (k * power) % 1 == 0:
            return 4.0 * k * power
    return 40.0 * power


def nice_ceiling(value: float) -> float:
    """The axis' top: 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def progress_bar(parts: Mapping[str, int], width: int = 240, height: int = 12) -> str:
    """A stacked bar of a campaign's (or a tier's) nodes by group: ``group -> count``
    in :data:`GROUP_COLOURS` order; each segment's title gives the count."""
    total = sum(max(0, int(n)) for n in parts.values())
    body = [f'<rect width="{width}" height="{height}" rx="2" fill="#edf2f7"/>']
    x = 0.0
    for group, colour in GROUP_COLOURS.items():
        n = max(0, int(parts.get(group, 0)))
        if not n or not total:
            continue
        w = width * n / total
        body.append(f'<rect class="seg-{group}" x="{_num(x)}" width="{_num(max(w, 1))}" '
                    f'height="{height}" fill="{colour}"><title>{n} {group}</title></rect>')
        x += w
    label = ", ".join(f"{int(parts.get(g, 0))} {g}" for g in GROUP_COLOURS) if total \
        else "no nodes"
    return _svg(width, height, body, label, "bar")


def load_bar(load: float, capacity: float, width: int = 120, height: int = 10) -> str:
    """A host's task load against its capacity (red above it)."""
    load, capacity = max(0.0, float(load or 0)), max(0.0, float(capacity or 0))
    share = load / capacity if capacity else (1.0 if load else 0.0)
    colour = GROUP_COLOURS["failed"] if share > 1 else GROUP_COLOURS["running"]
    body = [f'<rect width="{width}" height="{height}" rx="2" fill="#edf2f7"/>']
    if load:
        body.append(f'<rect width="{_num(max(1, width * min(1.0, share)))}" height="{height}" '
                    f'fill="{colour}"/>')
    label = f"load {short_number(load)} of {short_number(capacity)}"
    return _svg(width, height, body, label, "bar")


def _axis(body: list, left: float, top: float, plot_w: float, plot_h: float, top_value: float,
          unit: str) -> None:
    for i in range(5):
        v = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{_num(left)}" x2="{_num(left + plot_w)}" y1="{_num(y)}" '
                    f'y2="{_num(y)}" stroke="#e2e8f0"/>')
        body.append(f'<text x="{_num(left - 4)}" y="{_num(y + 4)}" text-anchor="end" '
                    f'fill="#4a5568">{escape(short_number(v))}{escape(unit)}</text>')


def _legend(body: list, names: Sequence[str], colours: Sequence[str], x: float, y: float) -> None:
    for i, name in enumerate(names):
        body.append(f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10" '
                    f'fill="{colours[i % len(colours)]}"/>')
        body.append(f'<text x="{_num(x + 14)}" y="{_num(y)}">{escape(name)}</text>')
        x += 24 + 7 * len(name)


def stacked_columns(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]],
                    unit: str = "", width: int = 640, height: int = 220,
                    colours: Sequence[str] = SERIES_COLOURS) -> str:
    """Columns over ``labels`` (hours, campaigns), each the sum of the ``series``
    (``name -> one value per label``, counts) stacked in the given order; the last
    column is always labelled (it is now)."""
    names = list(series)
    left, top, bottom, right = 48, 28, 34, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(float(series[s][i]) for s in names) for i in range(len(labels))]
    top_value = count_ceiling(max(totals, default=0))
    body = [f'<text x="4" y="14" font-size="13" font-weight="600">{escape(title)}</text>']
    _axis(body, left, top, plot_w, plot_h, top_value, unit)
    _legend(body, names, colours, left + plot_w * 0.45, 14)
    n = max(1, len(labels))
    slot = plot_w / n
    bar = max(1.0, slot * 0.75)
    label_every = max(1, math.ceil(n / 12))
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for k, name in enumerate(names):
            v = max(0.0, float(series[name][i]))
            if not v:
                continue
            h = plot_h * v / top_value
            y -= h
            body.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar)}" '
                        f'height="{_num(h)}" fill="{colours[k % len(colours)]}">'
                        f'<title>{escape(str(label))}: {escape(short_number(v))}{escape(unit)} '
                        f'{escape(name)}</title></rect>')
        last = i == len(labels) - 1
        if (len(labels) - 1 - i) % label_every == 0 or last:
            body.append(f'<text x="{_num(left + i * slot + slot / 2)}" y="{_num(height - 18)}" '
                        f'text-anchor="middle" fill="#4a5568">{escape(str(label))}</text>')
    if not labels:
        body.append(f'<text x="{_num(left + plot_w / 2)}" y="{_num(top + plot_h / 2)}" '
                    f'text-anchor="middle" fill="#718096">nothing yet</text>')
    return _svg(width, height, body, title)


def line_chart(title: str, points: Sequence[tuple], unit: str = "", width: int = 640,
               height: int = 200, now: Optional[float] = None) -> str:
    """A line over ``points`` ((epoch seconds, value), oldest first); the time axis
    is labelled in minutes before ``now``."""
    left, top, bottom, right = 48, 28, 30, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [f'<text x="4" y="14" font-size="13" font-weight="600">{escape(title)}</text>']
    top_value = count_ceiling(max((float(v) for _, v in points), default=0))
    _axis(body, left, top, plot_w, plot_h, top_value, unit)
    if len(points) < 2:
        body.append(f'<text x="{_num(left + plot_w / 2)}" y="{_num(top + plot_h / 2)}" '
                    f'text-anchor="middle" fill="#718096">'
                    f'{"one sample so far" if points else "no samples yet"}</text>')
        return _svg(width, height, body, title)
    t0, t1 = float(points[0][0]), float(points[-1][0])
    span = max(t1 - t0, 1.0)
    coords = " ".join(f"{_num(left + plot_w * (float(t) - t0) / span)},"
                      f"{_num(top + plot_h - plot_h * float(v) / top_value)}" for t, v in points)
    body.append(f'<polyline points="{coords}" fill="none" stroke="{SERIES_COLOURS[0]}" '
                f'stroke-width="1.5"/>')
    now = t1 if now is None else now
    for frac in (0.0, 0.5, 1.0):
        t = t0 + span * frac
        body.append(f'<text x="{_num(left + plot_w * frac)}" y="{_num(height - 12)}" '
                    f'text-anchor="{("start", "middle", "end")[int(frac * 2)]}" '
                    f'fill="#4a5568">{escape(_ago(now - t))}</text>')
    return _svg(width, height, body, title)


def _ago(seconds: float) -> str:
    return "now" if seconds < 30 else f"{duration(seconds)} ago"


def duration(seconds: Optional[float]) -> str:
    """3725 -> '1h 2m': a duration as people read it."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {s}s" if minutes < 10 and s else f"{minutes}m"
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {m}m" if m else f"{hours}h"
    days, h = divmod(hours, 24)
    return f"{days}d {h}h" if h else f"{days}d"


def horizontal_bars(title: str, rows: Sequence[tuple], unit: str = "", width: int = 640,
                    maximum: Optional[float] = None,
                    names: Sequence[str] = ()) -> str:
    """One row per ``(label, value, ...)``: several values of a row are drawn as bars
    one under the other (``names`` says what each is, in a legend), e.g. a host's load
    against its capacity, a campaign's estimate against its actual time."""
    label_w, right, row_h = 170, 50, 22
    per = max(1, max((len(r) - 1 for r in rows), default=1))
    bar_h = max(4.0, (row_h - 6) / per)
    top = 34 if names else 24
    height = top + max(1, len(rows)) * row_h + 6
    plot_w = width - label_w - right
    values = [float(v) for r in rows for v in r[1:] if v is not None]
    top_value = maximum if maximum else nice_ceiling(max(values, default=0))
    body = [f'<text x="4" y="14" font-size="13" font-weight="600">{escape(title)}</text>']
    if names:
        _legend(body, names, SERIES_COLOURS, label_w, 28)
    for i, row in enumerate(rows):
        y = top + i * row_h
        label = str(row[0])
        shown = label if len(label) <= 26 else label[:25] + "\u2026"
        body.append(f'<text x="{label_w - 6}" y="{_num(y + row_h / 2 + 3)}" text-anchor="end">'
                    f'<title>{escape(label)}</title>{escape(shown)}</text>')
        body.append(f'<rect x="{label_w}" y="{_num(y + 2)}" width="{_num(plot_w)}" '
                    f'height="{_num(row_h - 4)}" fill="#f7fafc"/>')
        for k, value in enumerate(row[1:]):
            if value is None:
                continue
            w = plot_w * min(1.0, max(0.0, float(value) / top_value))
            yy = y + 3 + k * bar_h
            body.append(f'<rect x="{label_w}" y="{_num(yy)}" width="{_num(max(w, 1))}" '
                        f'height="{_num(bar_h - 1)}" fill="{SERIES_COLOURS[k % 8]}">'
                        f'<title>{escape(label)}: {escape(short_number(float(value)))}'
                        f'{escape(unit)}</title></rect>')
        last = row[-1] if row[-1] is not None else 0
        body.append(f'<text x="{_num(label_w + plot_w + 4)}" y="{_num(y + row_h / 2 + 3)}" '
                    f'fill="#4a5568">{escape(short_number(float(last)))}{escape(unit)}</text>')
    if not rows:
        body.append(f'<text x="{label_w}" y="{top + 14}" fill="#718096">nothing yet</text>')
    return _svg(width, height, body, title)


def timeline(title: str, rows: Sequence[Mapping], now_offset: Optional[float] = None,
             width: int = 760) -> str:
    """Planned against actual, one row per entry (a tier): ``label``,
    ``planned`` and ``actual`` as (start, end) offsets in seconds from the campaign's
    start (``actual`` None: not started; an open end is drawn to ``now_offset``),
    ``critical`` for rows on the critical path (drawn bold)."""
    label_w, right, row_h, top = 70, 16, 18, 36
    height = top + max(1, len(rows)) * row_h + 24
    plot_w = width - label_w - right
    ends = [r["planned"][1] for r in rows] + [r["actual"][1] for r in rows if r.get("actual")]
    ends.append(now_offset or 0)
    span = max([float(e) for e in ends if e is not None] + [1.0])
    scale = plot_w / span
    body = [f'<text x="4" y="14" font-size="13" font-weight="600">{escape(title)}</text>']
    _legend(body, ["planned", "actual"], ("#cbd5e0", "#2b6cb0"), label_w, 28)
    for i, row in enumerate(rows):
        y = top + i * row_h
        weight = ' font-weight="700"' if row.get("critical") else ""
        body.append(f'<text x="{label_w - 6}" y="{_num(y + 12)}" text-anchor="end"{weight}>'
                    f'{escape(str(row["label"]))}</text>')
        start, end = row["planned"]
        body.append(f'<rect x="{_num(label_w + start * scale)}" y="{_num(y + 2)}" '
                    f'width="{_num(max(1, (end - start) * scale))}" height="6" fill="#cbd5e0">'
                    f'<title>planned {escape(duration(start))} to {escape(duration(end))}'
                    f'</title></rect>')
        if row.get("actual"):
            a0, a1 = row["actual"]
            a1 = now_offset if a1 is None else a1
            colour = "#c53030" if row.get("late") else "#2b6cb0"
            body.append(f'<rect class="actual" x="{_num(label_w + a0 * scale)}" y="{_num(y + 9)}" '
                        f'width="{_num(max(2, (a1 - a0) * scale))}" height="6" fill="{colour}">'
                        f'<title>actual {escape(duration(a0))} to {escape(duration(a1))}'
                        f'</title></rect>')
    if now_offset is not None:
        x = label_w + now_offset * scale
        body.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top - 4}" '
                    f'y2="{_num(height - 20)}" stroke="#c53030" stroke-dasharray="3,2"/>')
        body.append(f'<text x="{_num(min(x, width - 30))}" y="{_num(height - 8)}" '
                    f'text-anchor="middle" fill="#c53030">now</text>')
    if now_offset is None or now_offset * scale > 40:
        body.append(f'<text x="{label_w}" y="{_num(height - 8)}" fill="#4a5568">start</text>')
    body.append(f'<text x="{width - right}" y="{_num(height - 8)}" text-anchor="end" '
                f'fill="#4a5568">{escape(duration(span))}</text>')
    if not rows:
        body.append(f'<text x="{label_w}" y="{top + 12}" fill="#718096">no tiers</text>')
    return _svg(width, height, body, title)


def hour_label(hour: int) -> str:
    """An epoch hour (seconds // 3600) as 'HH:00' UTC."""
    return time.strftime("%H:00", time.gmtime(hour * 3600))
