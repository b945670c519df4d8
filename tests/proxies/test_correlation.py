"""Small real correlation checks on NAS-Bench-Macro (shared data; skipped without it)."""

from __future__ import annotations

from pathlib import Path

from scipy.stats import kendalltau

from mnas.proxies import get_proxy


def _tau(proxy, archs) -> float:
    acc = [a.extra["truth"]["accuracy"] for a in archs]
    return float(kendalltau([proxy.score(a) for a in archs], acc).statistic)


def test_flops_ranks_20_archs(macro_archs) -> None:
    assert _tau(get_proxy("flops"), macro_archs(20)) > 0.2


def test_default_proxy_ranks_12_archs(macro_archs) -> None:
    assert _tau(get_proxy("zen-naswot", naswot_batch_size=8), macro_archs(12)) > 0.2


def test_naswot_on_cifar(macro_archs, cifar: Path) -> None:
    archs = macro_archs(12)
    assert _tau(get_proxy("naswot", data=str(cifar), batch_size=8), archs) > 0.2
