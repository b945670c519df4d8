from __future__ import annotations

from mnas.proxies import get_proxy, zen_score


def test_zen_grows_with_depth_and_width(make_tiny) -> None:
    # Zen-score measures expressivity: deeper and wider nets of one family score higher
    small = zen_score(make_tiny(expand=3, depth=1))
    assert zen_score(make_tiny(expand=6, depth=1)) > small
    assert zen_score(make_tiny(expand=3, depth=3)) > small


def test_zen_resolution_override_and_repeats(make_tiny) -> None:
    arch = make_tiny(resolution=32)
    proxy = get_proxy("zen", resolution=16)
    assert proxy.score(arch) == zen_score(make_tiny(resolution=16))
    two = get_proxy("zen", repeats=2).score(arch)
    assert two != get_proxy("zen").score(arch)
