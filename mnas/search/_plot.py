"""``pareto.png``: predicted latency vs proxy score, with the budget and the reference zoo.

Drawn on a private ``Figure`` with the Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

__all__ = ["pareto_png"]


def pareto_png(*, points: Sequence[tuple[float, float, bool]],
               front: Sequence[tuple[float, float]],
               zoo: Sequence[tuple[str, float, float]],
               best: tuple[float, float] | None, budget_ms: float, proxy: str, device: str,
               provenance: str, total: int | None = None) -> bytes:
    """PNG bytes of the scatter of evaluated architectures.

    Args:
        points: ``(latency_ms, score, feasible)`` of every distinct architecture.
        front: The Pareto front ``(latency_ms, score)``, sorted by latency.
        zoo: ``(name, latency_ms, score)`` of reference models.
        best: The best architecture, or None.
        budget_ms: The budget (vertical line).
        proxy: Proxy name (y label).
        device: Target name (x label).
        provenance: ``measured`` or ``estimated`` (x label).
        total: How many architectures ``points`` were sampled from (default: all of them).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.0), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    sample = (f" ({len(points):,} of {total:,} shown)"
              if total is not None and total > len(points) else "")
    feas = [(x, y) for x, y, ok in points if ok]
    infeas = [(x, y) for x, y, ok in points if not ok]
    if infeas:
        xs, ys = zip(*infeas, strict=True)
        ax.scatter(xs, ys, s=8, c="#bbbbbb", label="over budget")
    if feas:
        xs, ys = zip(*feas, strict=True)
        ax.scatter(xs, ys, s=10, c="#4c72b0", alpha=0.7, label="within budget" + sample)
    if front:
        ax.step(*zip(*front, strict=True), where="post", c="#dd8452", lw=1.5,
                label="Pareto front")
    ax.axvline(budget_ms, c="#c44e52", ls="--", lw=1.2, label=f"budget {budget_ms:g} ms")
    for name, x, y in zoo:
        ax.scatter([x], [y], marker="^", s=36, c="#55a868", edgecolors="black", linewidths=0.5)
        ax.annotate(name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if zoo:
        ax.scatter([], [], marker="^", c="#55a868", edgecolors="black", label="zoo models")
    if best is not None:
        ax.scatter([best[0]], [best[1]], marker="*", s=180, c="gold", edgecolors="black",
                   zorder=5, label="best")
    ax.set_xlabel(f"predicted latency on {device} (ms, {provenance})")
    ax.set_ylabel(f"proxy score ({proxy}, higher is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
