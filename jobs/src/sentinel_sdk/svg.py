"""Hand-written SVG of per-round metric curves (no matplotlib in the job image)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 40, 55  # RIGHT leaves room for the legend
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e")
BEST_COLOR = "#d62728"
MAX_LEGEND = 14


@dataclass(frozen=True)
class Curve:
    label: str
    values: Sequence[float]  # metric after round 1, 2, ...
    best: bool = False


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _x_ticks(x_max: int) -> list[int]:
    """Round-number ticks (1, 10, 20, ...) so the axis reads like boosting rounds, not fractions."""
    raw = x_max / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, round(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return sorted({1, *range(step, x_max + 1, step)})


def _y_range(curves: Sequence[Curve]) -> tuple[float, float]:
    finite = [v for c in curves for v in c.values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.05 if hi > lo else max(abs(hi) * 0.05, 0.05)  # flat curves still get a visible band
    return lo - pad, hi + pad


def render_curves(curves: Sequence[Curve], metric: str, max_iteration: int, title: str = "") -> str:
    """One polyline per trial (x = boosting round, y = metric), the best one drawn last, thick and red."""
    x_max = max([max_iteration, 2, *(len(c.values) for c in curves)])
    y_lo, y_hi = _y_range(curves)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(i: float) -> float:
        return LEFT + (i - 1) / (x_max - 1) * plot_w

    def py(v: float) -> float:
        return TOP + (y_hi - v) / (y_hi - y_lo) * plot_h

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT + plot_w / 2:.1f}" y="22" text-anchor="middle" font-size="15">'
        f"{escape(title or f'validation {metric} per boosting round')}</text>",
    ]
    # Axes, grid and tick labels.
    for k in range(6):
        v = y_lo + (y_hi - y_lo) * k / 5
        y = py(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    for i in _x_ticks(x_max):
        x = px(i)
        out.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{i}</text>')
    out.append(
        f'<polyline class="axes" points="{LEFT},{TOP} {LEFT},{TOP + plot_h} {LEFT + plot_w},{TOP + plot_h}" '
        'fill="none" stroke="black"/>'
    )
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle">boosting round</text>')
    out.append(
        f'<text x="16" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2:.1f})">validation {escape(metric)}</text>'
    )

    # Curves: the best last so it is never hidden under the others.
    ordered = sorted(enumerate(curves), key=lambda ic: ic[1].best)
    for idx, curve in ordered:
        color = BEST_COLOR if curve.best else PALETTE[idx % len(PALETTE)]
        pts = [(px(i + 1), py(v)) for i, v in enumerate(curve.values) if math.isfinite(v)]
        if not pts:
            continue
        cls, width, opacity = ("trial best", 3, 1.0) if curve.best else ("trial", 1.5, 0.7)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(
            f'<polyline class="{cls}" data-label={quoteattr(curve.label)} points="{points}" fill="none" '
            f'stroke="{color}" stroke-width="{width}" stroke-opacity="{opacity}"/>'
        )
        # End marker: shows where ASHA stopped a trial.
        out.append(f'<circle cx="{pts[-1][0]:.1f}" cy="{pts[-1][1]:.1f}" r="{3 if curve.best else 2}" fill="{color}"/>')

    # Legend.
    lx = LEFT + plot_w + 18
    for row, (idx, curve) in enumerate(sorted(enumerate(curves), key=lambda ic: not ic[1].best)[:MAX_LEGEND]):
        color = BEST_COLOR if curve.best else PALETTE[idx % len(PALETTE)]
        y = TOP + 10 + row * 18
        label = curve.label + (" (best)" if curve.best else "")
        out.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 18}" y2="{y}" stroke="{color}" stroke-width="{3 if curve.best else 2}"/>')
        out.append(f'<text x="{lx + 24}" y="{y + 4}">{escape(label)}</text>')
    if len(curves) > MAX_LEGEND:
        out.append(f'<text x="{lx}" y="{TOP + 10 + MAX_LEGEND * 18 + 4}">+{len(curves) - MAX_LEGEND} more</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
