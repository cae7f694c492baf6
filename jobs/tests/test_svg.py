from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from sentinel_sdk.svg import BEST_COLOR, Curve, render_curves

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_one_polyline_per_trial_and_best_highlighted() -> None:
    curves = [
        Curve("t0", [0.90, 0.92, 0.93, 0.95]),
        Curve("t1", [0.85, 0.86]),  # stopped early
        Curve("t2", [0.91, 0.94, 0.96, 0.97], best=True),
    ]
    root = _parse(render_curves(curves, "roc_auc", max_iteration=4))
    lines = [p for p in root.iter(f"{NS}polyline") if "trial" in p.get("class", "").split()]
    assert [p.get("data-label") for p in lines] == ["t0", "t1", "t2"]  # best drawn last
    best = lines[-1]
    assert best.get("class") == "trial best"
    assert best.get("stroke") == BEST_COLOR
    assert float(best.get("stroke-width", "0")) > max(float(p.get("stroke-width", "0")) for p in lines[:-1])
    assert len(lines[1].get("points", "").split()) == 2
    texts = [t.text or "" for t in root.iter(f"{NS}text")]
    assert "boosting round" in texts
    assert "validation roc_auc" in texts
    assert "t2 (best)" in texts


def test_points_stay_inside_the_canvas_and_higher_is_up() -> None:
    root = _parse(render_curves([Curve("a", [0.1, 0.5, 0.9], best=True)], "f1", max_iteration=3))
    line = next(p for p in root.iter(f"{NS}polyline") if p.get("class") == "trial best")
    pts = [tuple(map(float, xy.split(","))) for xy in line.get("points", "").split()]
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert all(0 <= x <= width and 0 <= y <= height for x, y in pts)
    assert pts[0][0] < pts[1][0] < pts[2][0]
    assert pts[0][1] > pts[1][1] > pts[2][1]  # SVG y grows downwards


def test_degenerate_inputs_render() -> None:
    svg = render_curves(
        [Curve("flat", [0.5, 0.5, 0.5]), Curve("nan", [float("nan")]), Curve("one", [0.5], best=True)],
        "logloss", max_iteration=1,
    )
    root = _parse(svg)
    labels = [p.get("data-label") for p in root.iter(f"{NS}polyline") if p.get("data-label")]
    assert labels == ["flat", "one"]  # a curve with no finite point draws nothing
    coords = [float(v) for p in root.iter(f"{NS}polyline") for xy in p.get("points", "").split() for v in xy.split(",")]
    assert coords and all(math.isfinite(v) for v in coords)
    assert _parse(render_curves([], "f1", max_iteration=10)).tag == f"{NS}svg"


def test_labels_are_escaped() -> None:
    svg = render_curves([Curve('a<b&"c', [0.1, 0.2])], "f1", 2, title="x < y & z")
    root = _parse(svg)  # would raise on unescaped markup
    assert any(t.text == "x < y & z" for t in root.iter(f"{NS}text"))
    assert any(p.get("data-label") == 'a<b&"c' for p in root.iter(f"{NS}polyline"))
