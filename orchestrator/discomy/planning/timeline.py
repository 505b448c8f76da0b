"""A campaign timeline as SVG: one row per host, one bar per task (pure core).

Bars are coloured by tier (early tiers blue, late tiers red), so a glance shows
whether late tiers waited on a few long chains or on the fleet.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

ROW = 6
LEFT = 110
WIDTH = 1100
TOP = 40


def _colour(tier: int, tiers: int) -> str:
    hue = 220 - int(220 * tier / max(1, tiers - 1))
    return f"hsl({hue},70%,50%)"


def timeline_svg(title: str, host_names: Sequence[str], runs: Sequence, tiers: Sequence[int],
                 names: Sequence[str], makespan: float, lower_bound: float) -> str:
    """SVG text for ``runs`` (``TaskRun``-like: build, arch, host, start, end)."""
    rows = max(1, len(host_names))
    height = TOP + rows * ROW + 40
    scale = (WIDTH - LEFT - 10) / makespan if makespan > 0 else 0.0
    tier_count = (max(tiers) + 1) if len(tiers) else 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="10" y="16" font-size="14">{escape(title)}</text>',
        f'<text x="10" y="32">makespan {makespan / 3600:.1f} h, lower bound '
        f'{lower_bound / 3600:.1f} h, {len(runs)} tasks on {len(host_names)} hosts</text>',
    ]
    label_every = max(1, rows // 40)
    for h, name in enumerate(host_names):
        if h % label_every == 0:
            out.append(f'<text x="4" y="{TOP + h * ROW + ROW}" font-size="8">{escape(name)}</text>')
    for run in runs:
        x = LEFT + run.start * scale
        w = max(0.5, (run.end - run.start) * scale)
        y = TOP + run.host * ROW
        tip = f"{names[run.build]} ({run.arch}) tier {tiers[run.build]}"
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" '
                   f'fill="{_colour(tiers[run.build], tier_count)}"><title>{escape(tip)}</title></rect>')
    if lower_bound and scale:
        x = LEFT + lower_bound * scale
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{TOP + rows * ROW}" '
                   f'stroke="black" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 3:.1f}" y="{TOP - 6}">lower bound</text>')
    axis_y = TOP + rows * ROW + 16
    hours = makespan / 3600 if makespan else 0
    step = max(1, int(hours / 10) or 1)
    for hour in range(0, int(hours) + 1, step):
        x = LEFT + hour * 3600 * scale
        out.append(f'<text x="{x:.1f}" y="{axis_y}">{hour} h</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
