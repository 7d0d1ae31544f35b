"""Long columns in stretches of rows, one thread each (backorder_ops.parallel)."""

from __future__ import annotations

import threading
from unittest import mock

import pytest

from backorder_ops import parallel


@pytest.mark.parametrize(
    ("rows", "threads", "thread_rows", "sizes"),
    [
        (100_000, 2, 25_000, [50_000, 50_000]),
        (100_000, 8, 25_000, [25_000] * 4),  # no thread for fewer rows than THREAD_ROWS
        (49_999, 2, 25_000, [49_999]),
        (10, 3, 1, [3, 4, 3]),
        (0, 2, 1, [0]),
    ],
)
def test_rows_are_cut_into_stretches_one_per_thread(rows, threads, thread_rows, sizes):
    with mock.patch.multiple(parallel, THREADS=threads, THREAD_ROWS=thread_rows):
        stretches = parallel.stretches(rows)
    assert [s.stop - s.start for s in stretches] == sizes
    assert [s.start for s in stretches] == [0, *[s.stop for s in stretches[:-1]]]


def test_stretches_run_in_threads_and_come_back_in_order():
    def work(part: slice) -> tuple[int, str]:
        return part.start, threading.current_thread().name

    with mock.patch.multiple(parallel, THREADS=3, THREAD_ROWS=1):
        done = parallel.in_stretches(work, 10)
    assert [start for start, _ in done] == [0, 3, 7]
    assert all(name.startswith("backorder_ops") for _, name in done)
    # One stretch: worked here, no thread.
    with mock.patch.multiple(parallel, THREADS=1, THREAD_ROWS=1):
        assert parallel.in_stretches(work, 10) == [(0, threading.current_thread().name)]


def test_an_error_in_a_stretch_reaches_the_caller():
    def work(part: slice) -> int:
        if part.start:
            raise ValueError(f"row {part.start} is wrong")
        return 0

    with (
        mock.patch.multiple(parallel, THREADS=2, THREAD_ROWS=1),
        pytest.raises(ValueError, match="row 5 is wrong"),
    ):
        parallel.in_stretches(work, 10)
