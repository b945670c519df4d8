"""One BLAS thread for many small matrix products (numpy's OpenBLAS starts a pool per call).

On a busy 2-core machine a product of a few hundred rows runs 10-30x slower with a thread
pool fighting for the cores than on one thread, and a sum computed in one thread is the
same in every process, whatever the machine's thread count (a resumed search scores as an
uninterrupted one did). threadpoolctl is a dependency; inspecting the loaded libraries
costs ~7 ms, once.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

__all__ = ["one_blas_thread"]


@functools.cache
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the body with the BLAS libraries limited to one thread each."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
