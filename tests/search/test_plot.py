"""``pareto.png``: the feasible front, the zoom around the best, labels that do not overlap."""

from __future__ import annotations

import itertools
import random

from mnas.search._plot import _place_labels, feasible_front, pareto_png


def test_feasible_front_keeps_the_best_score_reachable_within_the_budget() -> None:
    points = [(5.0, 1.0, True), (6.0, 0.5, True), (7.0, 2.0, True), (8.0, 9.0, False),
              (9.0, 3.0, True), (12.0, 5.0, True)]
    assert feasible_front(points, budget_ms=10.0) == [(5.0, 1.0), (7.0, 2.0), (9.0, 3.0)]
    assert feasible_front([], budget_ms=10.0) == []


def test_zoo_labels_do_not_overlap_in_a_crowd() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = random.Random(0)
    crowd = [(f"mobilenet_v{i % 3 + 1}_{i:03d}", 19 + rng.random(), 60 + rng.random())
             for i in range(30)]
    fig = Figure(figsize=(6, 4), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([x for _, x, _ in crowd], [y for _, _, y in crowd])
    ax.set_xlim(18.5, 20.5)
    ax.set_ylim(59.5, 61.5)
    canvas.draw()
    renderer = canvas.get_renderer()
    _place_labels(ax, renderer, crowd, [])
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    assert 5 <= len(boxes) <= len(crowd)  # a label with no free place is left out
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 for b in boxes)


def test_png_in_every_case() -> None:
    points = [(10 + i * 0.1, 50 + i * 0.05, i < 80) for i in range(100)]
    zoo = [("mobilenet_v2", 17.0, 54.0), ("mnasnet_a1", 19.5, 55.0)]
    for kwargs in ({"points": points, "zoo": zoo, "best": (17.9, 53.95), "band": 0.07},
                   {"points": points, "zoo": [], "best": None, "band": None},
                   {"points": [], "zoo": zoo, "best": None, "band": None}):
        png = pareto_png(front=[], budget_ms=18.0, proxy="flops", device="pixel4",
                         provenance="estimated", **kwargs)  # type: ignore[arg-type]
        assert png[:4] == b"\x89PNG"
