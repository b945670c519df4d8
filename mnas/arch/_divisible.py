"""Channel rounding shared by every MobileNet-family network."""

from __future__ import annotations

__all__ = ["make_divisible"]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below 90% of it.

    This is the rule of the TensorFlow MobileNet code and of torchvision's
    ``_make_divisible``: at least ``min_value`` (default ``divisor``), and if
    rounding down lost more than 10% of ``value``, one more ``divisor`` is added.

    Args:
        value: The unrounded channel count, e.g. ``in_channels * expansion``.
        divisor: The multiple to round to.
        min_value: The smallest result allowed (defaults to ``divisor``).

    Returns:
        The rounded channel count.
    """
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value
