"""backorder_ops: which products disappear from the shop when backorder settings change?

>>> import backorder_ops as bo
>>> bo.load_catalog("data/sample/catalogus.xlsx", db="data/demo.duckdb")  # doctest: +SKIP
>>> bo.preview_batch("data/sample/batch_week49.xlsx", db="data/demo.duckdb")  # doctest: +SKIP
"""

import os as _os

import pyarrow as _pa

# Arrow's default allocator (mimalloc) makes the first use of fresh memory costly on
# the virtual machines analysts and CI run on: classifying a 100k-row batch took
# 0.35 s with it against 0.12 s with jemalloc or the system's malloc (benchmarks/).
# ARROW_DEFAULT_MEMORY_POOL, when set, still decides.
if not _os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
    try:
        _pa.set_memory_pool(_pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows)
        _pa.set_memory_pool(_pa.system_memory_pool())

from .batch import BatchResult, BatchSheet, classify_rows, preview_batch, read_sheet
from .catalog import LoadReport, load_catalog
from .errors import (
    BackorderOpsError,
    DatabaseBusyError,
    DatabaseError,
    NotFoundError,
    StaleError,
    StructureError,
)
from .jobs import BatchHandle, apply_batch, run_worker, submit_batch
from .report import Report, find_at_risk
from .rules import compute_visibility, is_visible
from .store import Store
from .undo import NotUndoableError, UndoResult, undo_batch
from .visibility import Visibility, current_visibility, set_shop_setting

__all__ = [
    "BackorderOpsError", "BatchHandle", "BatchResult", "BatchSheet", "DatabaseBusyError",
    "DatabaseError", "LoadReport", "NotFoundError", "NotUndoableError", "Report", "StaleError",
    "Store", "StructureError", "UndoResult", "Visibility", "apply_batch", "classify_rows",
    "compute_visibility", "current_visibility", "find_at_risk", "is_visible", "load_catalog",
    "preview_batch", "read_sheet", "run_worker", "set_shop_setting", "submit_batch",
    "undo_batch",
]  # fmt: skip
