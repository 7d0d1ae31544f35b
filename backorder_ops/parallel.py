"""Long columns worked on in stretches of rows, one thread per stretch.

Arrow and numpy do their work without holding Python's lock, so the stretches of
a long column run side by side, on as many cores as this process may use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")

#: Rows per thread, at least: for fewer, starting a thread costs about what it saves.
THREAD_ROWS = int(os.environ.get("BACKORDER_OPS_THREAD_ROWS", 25_000))
#: Threads at most: one per core this process may use, unless set.
THREADS = int(os.environ.get("BACKORDER_OPS_THREADS", 0)) or len(
    os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
)


def stretches(rows: int) -> list[slice]:
    """``rows`` cut into stretches, one per thread, of at least THREAD_ROWS rows each."""
    count = max(1, min(THREADS, rows // max(THREAD_ROWS, 1)))
    bounds = np.linspace(0, rows, count + 1).round().astype(np.int64).tolist()
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def in_stretches(work: Callable[[slice], T], rows: int) -> list[T]:
    """``work(stretch)`` for each stretch of ``rows``, in threads when there are several;
    the results in the order of the stretches."""
    parts = stretches(rows)
    if len(parts) == 1:
        return [work(parts[0])]
    with ThreadPoolExecutor(len(parts), thread_name_prefix="backorder_ops") as pool:
        return list(pool.map(work, parts))
