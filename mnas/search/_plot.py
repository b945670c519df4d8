"""``pareto.png``: predicted latency vs proxy score, with the budget and the reference zoo.

Two panels on one private ``Figure`` (Agg canvas; no pyplot, no global state): the whole
run on the left, and on the right the region that decides the result, the latencies
around the budget and the scores near the best, where the trials and the zoo crowd. Each
panel draws the feasible Pareto front (the best score reachable at each latency within
the budget), the best architecture with its latency band, and zoo labels placed so that
they do not overlap (a label that finds no free place in a panel is left out there; the
other panel, or ``zoo.csv``, has it).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["feasible_front", "pareto_png"]

_OFFSETS = ((5, 2), (5, -8), (-5, 2), (-5, -8), (6, 10), (-6, 10), (6, -16), (-6, -16),
            (14, 0), (-14, 0), (12, 18), (-12, 18), (12, -24), (-12, -24), (24, 6),
            (-24, 6), (24, -14), (-24, -14))
"""Label positions tried around a point, in points (the first free one is taken); a label
away from its marker gets a leader line."""


def feasible_front(points: Sequence[tuple[float, float, bool]], budget_ms: float
                   ) -> list[tuple[float, float]]:
    """The best score reachable at each latency within the budget: feasible points, sorted by
    latency, each kept when it scores higher than every faster one."""
    front: list[tuple[float, float]] = []
    for latency, score, ok in sorted(points):
        if ok and latency <= budget_ms and (not front or score > front[-1][1]):
            front.append((latency, score))
    return front


def _place_labels(ax: Any, renderer: Any, labels: Sequence[tuple[str, float, float]],
                  avoid: list[Any]) -> None:
    """Annotate each ``(text, x, y)`` inside ``ax`` at the first offset whose box overlaps no
    label placed before it (nor ``avoid``); leave out a label with no free place."""
    placed = list(avoid)
    frame = ax.get_window_extent(renderer)
    for text, x, y in sorted(labels, key=lambda item: -item[2]):
        for dx, dy in _OFFSETS:
            leader = ({"arrowstyle": "-", "lw": 0.5, "color": "#777777", "shrinkA": 0,
                       "shrinkB": 3} if abs(dx) + abs(dy) > 12 else None)
            note = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                               fontsize=6.5, ha="left" if dx >= 0 else "right", va="bottom",
                               zorder=6, arrowprops=leader)
            box = note.get_window_extent(renderer).expanded(1.04, 1.1)
            inside = (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
                      and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            note.remove()


def _panel(ax: Any, *, points: Sequence[tuple[float, float, bool]],
           front: Sequence[tuple[float, float]], zoo: Sequence[tuple[str, float, float]],
           best: tuple[float, float] | None, band: float | None, budget_ms: float,
           limits: tuple[float, float, float, float] | None, sample: str = "") -> None:
    if limits is not None:
        ax.set_xlim(limits[0], limits[1])
        ax.set_ylim(limits[2], limits[3])
    infeasible = [(x, y) for x, y, ok in points if not ok]
    feasible = [(x, y) for x, y, ok in points if ok]
    if infeasible:
        ax.scatter(*zip(*infeasible, strict=True), s=7, c="#c8c8c8", lw=0,
                   label="over budget")
    if feasible:
        ax.scatter(*zip(*feasible, strict=True), s=9, c="#4c72b0", alpha=0.55, lw=0,
                   label="within budget" + sample)
    if front:
        xs, ys = zip(*front, strict=True)
        ax.step(xs, ys, where="post", c="#dd8452", lw=1.6, zorder=3,
                label="feasible Pareto front")
    ax.axvline(budget_ms, c="#c44e52", ls="--", lw=1.2, label=f"budget {budget_ms:g} ms")
    ax.axvspan(budget_ms, max(ax.get_xlim()[1], budget_ms * 1.01), color="#c44e52", alpha=0.05,
               lw=0)
    if zoo:
        ax.scatter([x for _, x, _ in zoo], [y for _, _, y in zoo], marker="^", s=34,
                   c="#55a868", edgecolors="black", linewidths=0.5, zorder=4,
                   label="zoo models")
    if best is not None:
        if band:
            ax.errorbar([best[0]], [best[1]], xerr=[[best[0] * band], [best[0] * band]],
                        fmt="none", ecolor="#b8860b", elinewidth=1.4, capsize=4, zorder=5,
                        label=f"best's latency band (±{band * 100:.0f}%)")
        ax.scatter([best[0]], [best[1]], marker="*", s=200, c="gold", edgecolors="black",
                   zorder=7, label="best")
    ax.grid(alpha=0.3)


def _zoom(points: Sequence[tuple[float, float, bool]], zoo: Sequence[tuple[str, float, float]],
          best: tuple[float, float] | None, budget_ms: float
          ) -> tuple[float, float, float, float]:
    """The region that decides the result: the better half of the trials near the budget
    (0.6x-1.15x it), the zoo models that score as well there, the budget itself, and the
    other zoo models in those latencies."""
    near = [(x, y) for x, y, _ in points if budget_ms * 0.6 <= x <= budget_ms * 1.15]
    if best is not None:
        near.append(best)
    if not near:
        return budget_ms * 0.6, budget_ms * 1.15, 0.0, 1.0
    scores = sorted(y for _, y in near)
    bottom = scores[len(scores) // 2]
    rivals = [(x, y) for _, x, y in zoo  # zoo models as good as the better half, nearby
              if budget_ms * 0.6 <= x <= budget_ms * 1.15 and y >= bottom]
    near += rivals
    better = [x for x, y in near if y >= bottom]
    low_x, high_x = min(better), max(*better, budget_ms)
    pad_x = max(high_x - low_x, budget_ms * 0.1) * 0.1
    low_x, high_x = low_x - pad_x, high_x + pad_x
    ys = [y for x, y in near if y >= bottom] + [y for _, x, y in zoo if low_x <= x <= high_x]
    low_y, high_y = min(ys), max(ys)
    pad_y = max(high_y - low_y, 1e-6) * 0.08
    return low_x, high_x, low_y - pad_y, high_y + pad_y


def pareto_png(*, points: Sequence[tuple[float, float, bool]],
               front: Sequence[tuple[float, float]],
               zoo: Sequence[tuple[str, float, float]],
               best: tuple[float, float] | None, budget_ms: float, proxy: str, device: str,
               provenance: str, band: float | None = None, total: int | None = None) -> bytes:
    """PNG bytes of the scatter of evaluated architectures.

    Args:
        points: ``(latency_ms, score, feasible)`` of every distinct architecture.
        front: The Pareto front ``(latency_ms, score)`` of all points (kept for callers;
            the plot draws the feasible front, :func:`feasible_front`).
        zoo: ``(name, latency_ms, score)`` of reference models.
        best: The best architecture, or None.
        budget_ms: The budget (vertical line).
        proxy: Proxy name (y label), or the y label itself when it contains a space.
        device: Target name (x label).
        provenance: ``measured`` or ``estimated`` (x label).
        band: The best's latency band as a fraction (its error bar), or None.
        total: How many architectures ``points`` were sampled from (default: all of them;
            a sample must hold every point of the Pareto front, so that the feasible front
            drawn is the run's).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    del front  # the plot shows what the budget allows
    feasible = feasible_front(points, budget_ms)
    fig = Figure(figsize=(12.0, 5.4), dpi=110)
    canvas: Any = FigureCanvasAgg(fig)  # draw() and get_renderer() are untyped
    overview, zoomed = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    limits = _zoom(points, zoo, best, budget_ms)
    sample = (f" ({len(points):,} of {total:,} drawn)"
              if total is not None and total > len(points) else "")
    _panel(overview, points=points, front=feasible, zoo=zoo, best=best, band=band,
           budget_ms=budget_ms, limits=None, sample=sample)
    _panel(zoomed, points=points, front=feasible, zoo=zoo, best=best, band=band,
           budget_ms=budget_ms, limits=limits, sample=sample)
    overview.add_patch(_zoom_box(limits))
    overview.set_title("all trials", fontsize=9)
    where = ("" if best is None else f": best {best[0]:.2f} ms" + (
        f", band {best[0] * (1 - band):.2f}-{best[0] * (1 + band):.2f} ms" if band else ""))
    zoomed.set_title(f"around the best (dotted box on the left){where}", fontsize=9)
    xlabel = f"predicted latency on {device} (ms, {provenance})"
    overview.set_xlabel(xlabel)
    zoomed.set_xlabel(xlabel)
    overview.set_ylabel(proxy if " " in proxy else f"score ({proxy}, higher is better)")
    handles, names = overview.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=7.5,
               frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    canvas.draw()
    renderer = canvas.get_renderer()
    x0, x1, y0, y1 = limits
    in_zoom = [z for z in zoo if x0 <= z[1] <= x1 and y0 <= z[2] <= y1]
    for ax, labels in ((zoomed, in_zoom), (overview, [z for z in zoo if z not in in_zoom])):
        markers = [(x, y, 5.0) for _, x, y in zoo] + ([(*best, 9.0)] if best else [])
        _place_labels(ax, renderer, labels, [_marker_box(ax, x, y, r) for x, y, r in markers])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _marker_box(ax: Any, x: float, y: float, radius_px: float) -> Any:
    """The display-space box a marker at ``(x, y)`` covers (labels keep clear of it)."""
    from matplotlib.transforms import Bbox

    cx, cy = ax.transData.transform((x, y))
    return Bbox([[cx - radius_px, cy - radius_px], [cx + radius_px, cy + radius_px]])


def _zoom_box(limits: tuple[float, float, float, float]) -> Any:
    from matplotlib.patches import Rectangle

    x0, x1, y0, y1 = limits
    return Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="#555555", ls=":", lw=1.0,
                     zorder=2)
