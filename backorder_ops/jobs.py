"""Batches as jobs: queued in the store, run inline, in a thread or by a worker process.

Every batch goes through :func:`run_batch`, whether applied at once or in the
background. Crash safety rests on two things: the catalog change, the batch's
status and its row log are one transaction; and a batch is claimed by one worker
at a time with a lease, so a batch whose worker died is run again from the start,
never applied twice.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .batch import (
    BatchResult,
    BatchSheet,
    Progress,
    as_sheet,
    check_address,
    classify_batch,
    counts_of,
    empty_rows,
    no_products,
)
from .errors import BackorderOpsError, DatabaseBusyError, StructureError
from .reading import Grid
from .store import Store, in_transaction, later, now, pack_row_text
from .visibility import as_store, products_for

FINAL_STATUSES = ("done", "failed", "refused")
MAX_ATTEMPTS = 3
#: How often a running batch stores its progress (and renews its lease).
PROGRESS_EVERY_SECONDS = float(os.environ.get("BACKORDER_OPS_PROGRESS_SECONDS", 0.5))


def lease_seconds() -> float:
    """How long a running batch may go without news before it counts as abandoned."""
    return float(os.environ.get("BACKORDER_OPS_LEASE_SECONDS", 60))


@dataclass
class BatchHandle:
    """A submitted batch: ask for its status and progress, or wait for its result."""

    id: int
    store: Store

    def record(self) -> dict:
        return self.store.read_batch_record(self.id)

    @property
    def status(self) -> str:
        return self.record()["status"]

    @property
    def progress(self) -> tuple[int, int]:
        """Rows done and rows in all."""
        record = self.record()
        return int(record["progress_done"] or 0), int(record["progress_total"] or 0)

    def wait(self, timeout: float | None = None, *, poll: float = 0.2) -> BatchResult:
        """Wait until the batch ends and return its result; ``TimeoutError`` after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                if self.status in FINAL_STATUSES:
                    return self.result()
            except DatabaseBusyError:
                pass  # the worker is writing; look again
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"Batch {self.id} has not finished after {timeout} s.")
            time.sleep(poll)

    def result(self) -> BatchResult:
        return result_from_history(self.store, self.id)


def submit_batch(
    sheet: BatchSheet | str | os.PathLike | bytes | pd.DataFrame,
    *,
    db: Store | str | None = None,
    reference: str | None = None,
    strict: bool = False,
    notify: str | None = None,
    in_thread: bool = True,
    inline: bool = False,
) -> BatchHandle:
    """Queue a batch and return a handle at once.

    The sheet's structure and the notify address are checked now (a
    :class:`~backorder_ops.errors.StructureError` if they are wrong); the rows are
    classified and applied when the batch runs. With ``in_thread=True`` a thread of
    this process runs it (what a notebook wants); with ``in_thread=False`` it waits
    for ``backorder-ops worker``.

    >>> handle = submit_batch("data/sample/batch_week49.xlsx", db="data/demo.duckdb")
    ... # doctest: +SKIP
    >>> handle.wait(60).summary()  # doctest: +SKIP
    """
    sheet = as_sheet(sheet)
    record = _new_record(sheet, reference=reference, strict=strict, notify=notify, inline=inline)
    store = as_store(db)
    with store.transaction() as con:
        batch_id = store.insert_batch(con, status="queued", **record)
        if not inline:  # kept for the worker; an inline batch is never run again
            store.insert_batch_input(con, batch_id, sheet.rows.rename_axis("row").reset_index())
    handle = BatchHandle(batch_id, store)
    if in_thread and not inline:
        threading.Thread(
            target=run_worker, kwargs={"db": store, "once": True}, daemon=True,
            name=f"backorder-ops batch {batch_id}",
        ).start()  # fmt: skip
    return handle


def _new_record(
    sheet: BatchSheet, *, reference: str | None, strict: bool, notify: str | None, inline: bool
) -> dict:
    """The history record of a new batch of this sheet (checking the notify address)."""
    notify = check_address(notify)
    meta = {
        "source": sheet.source,
        "kind": sheet.grid.kind,
        "fields": sheet.fields,
        "headers": {str(k): v for k, v in sheet.grid.headers.items()},
        "warnings": sheet.warnings,
        "inline": inline,
    }
    return {
        "kind": "backorder",
        "reference": reference,
        "source": sheet.source,
        "strict": strict,
        "notify": notify,
        "notify_status": "pending" if notify else None,
        "rows_total": len(sheet),
        "progress_total": len(sheet),
        "sheet_meta": json.dumps(meta),
    }


def apply_batch(
    sheet: BatchSheet | str | os.PathLike | bytes | pd.DataFrame,
    *,
    db: Store | str | None = None,
    reference: str | None = None,
    strict: bool = False,
    notify: str | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Apply all valid rows of a batch, with its history record, in one transaction.

    The same path as a background batch, run here and now. In strict mode any
    rejected row refuses the whole batch. A failure part-way applies nothing and
    leaves the batch recorded as ``failed``.

    >>> apply_batch("data/sample/batch_week49.xlsx", db="data/demo.duckdb",
    ...             reference="week 49").summary()  # doctest: +SKIP
    """
    store = as_store(db)
    with store.connect_while(functools.partial(as_sheet, sheet)) as (con, sheet):
        record = _new_record(sheet, reference=reference, strict=strict, notify=notify, inline=True)
        # Recorded as running at once, claimed by this process: should the process
        # end before the batch does, the next look at the queue marks it failed.
        with in_transaction(con):
            record["id"] = store.insert_batch(
                con, status="running", attempts=1, started=now(), worker_pid=os.getpid(),
                lease_until=later(lease_seconds()), progress_done=0, **record,
            )  # fmt: skip
        # The sheet in hand is the one the batch was made of: no need to keep it.
        result = _run(store, con, record, 1, sheet, progress)
    return result if result is not None else result_from_history(store, record["id"])


def run_batch(
    batch_id: int,
    *,
    db: Store | str | None = None,
    progress: Progress | None = None,
    sheet: BatchSheet | None = None,
) -> BatchResult | None:
    """Run one queued batch to its end; None if another worker claimed it first.

    ``sheet`` is the batch's own sheet when the caller still has it; otherwise it is
    rebuilt from what the store kept.
    """
    store = as_store(db)
    attempt = store.claim_batch(batch_id, pid=os.getpid(), lease_seconds=lease_seconds())
    if attempt is None:
        return None
    return _run(store, None, store.read_batch_record(batch_id), attempt, sheet, progress)


def _run(
    store: Store,
    con,
    record: dict,
    attempt: int,
    sheet: BatchSheet | None,
    progress: Progress | None,
) -> BatchResult | None:
    """Classify and apply a claimed batch; None if another worker took it over.

    ``sheet`` is the batch's sheet, or None to rebuild it from what the store kept.

    The rows are classified outside the transaction that applies them, so that
    progress can be stored meanwhile; should the catalog change in between, they
    are classified again inside it. ``con`` is the connection to do it all on
    (an inline batch: quicker); without it, a background batch opens one to read
    and one to write, and leaves the file free for others while it classifies.
    """
    batch_id, strict = int(record["id"]), bool(record["strict"])
    reporter = _Reporter(store, batch_id, attempt, progress)
    result = None

    def connect(**options):
        return contextlib.nullcontext(con) if con is not None else store.connect(**options)

    try:
        sheet = sheet if sheet is not None else load_sheet(store, batch_id, record)
        keys = sheet.keys()
        with connect(read_only=True) as reader:
            products, revision = products_for(store, reader, keys), store.revision(reader)
        result = classify_batch(sheet, products, strict=strict, progress=reporter)
        # The row log's text is packed in a thread while the change is written.
        packing = ThreadPoolExecutor(1, thread_name_prefix="backorder_ops-pack")
        with packing, connect() as writer, in_transaction(writer) as tx:
            text = packing.submit(pack_row_text, result.rows)
            if store.revision(tx) != revision:
                result = classify_batch(sheet, products_for(store, tx, keys), strict=strict)
                text = packing.submit(pack_row_text, result.rows)
            _fill(result, record, batch_id)
            # Only what the update reads: filtering all columns of 100k rows takes 10 ms.
            applied = result.rows.loc[result.rows["status"] == "applied", ["key", "new_value"]]
            if result.status == "done" and not applied.empty:
                flips = store.update_settings(tx, applied)
                described = store.describe(tx, np.concatenate(flips))
                hidden = described["key"].isin(flips.hidden).to_numpy()
                result.newly_hidden = described[hidden].reset_index(drop=True)
                result.newly_visible = described[~hidden].reset_index(drop=True)
            if not store.finish_batch(
                tx, batch_id, attempt, status=result.status,
                progress_done=len(result.rows), **counts_of(result),
            ):  # fmt: skip
                raise _Superseded
            store.insert_batch_rows(tx, batch_id, result.rows, text=text)
            store.insert_batch_visibility(tx, batch_id, result.newly_hidden, result.newly_visible)
    except _Superseded:
        return None
    except DatabaseBusyError:
        raise  # the batch stays running; its lease runs out and it is looked at again
    except Exception as error:  # nothing applied: record the batch as failed
        message = f"The batch failed and nothing was applied: {_describe(error)}"
        classified = result is not None
        result = _failed(result, record, batch_id, message)
        with connect() as writer, in_transaction(writer) as tx:
            counts = counts_of(result) if classified else {}
            store.finish_batch(tx, batch_id, attempt, status="failed", error=message, **counts)
    reporter.finish(len(result.rows))
    _notify(store, result, record)
    return result


class _Superseded(Exception):
    """The batch was taken over by another worker after its lease ran out."""


def _describe(error: Exception) -> str:
    return (
        str(error) if isinstance(error, BackorderOpsError) else f"{type(error).__name__}: {error}"
    )


def _fill(result: BatchResult, record: dict, batch_id: int) -> None:
    result.batch_id = batch_id
    result.reference = record["reference"]
    result.notify = record["notify"]


def _failed(result: BatchResult | None, record: dict, batch_id: int, message: str) -> BatchResult:
    if result is None:
        result = BatchResult(
            rows=empty_rows(), newly_hidden=no_products(), newly_visible=no_products(),
            source=record["source"], status="failed",
        )  # fmt: skip
    _fill(result, record, batch_id)
    result.status, result.error = "failed", message
    result.newly_hidden, result.newly_visible = no_products(), no_products()
    result.warnings.append(message)
    return result


class _Reporter:
    """Passes progress on to the caller and, now and then, to the store (renewing the lease)."""

    def __init__(self, store: Store, batch_id: int, attempt: int, callback: Progress | None):
        self.store, self.batch_id, self.attempt, self.callback = store, batch_id, attempt, callback
        self.quick = Store(store.path, wait=1.0)
        # The claim has just stored "0 done" and the lease: the first news is due after
        # one interval, so a batch classified quicker than that writes no progress.
        self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.callback is not None:
            self.callback(done, total)
        if time.monotonic() - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = time.monotonic()
            # Progress is news, not work: when the file is busy, skip it rather than
            # stall the batch.
            with contextlib.suppress(DatabaseBusyError):
                self.quick.report_progress(
                    self.batch_id, self.attempt, done, total, lease_seconds=lease_seconds()
                )

    def finish(self, total: int) -> None:
        if self.callback is not None:
            self.callback(total, total)


def load_sheet(store: Store, batch_id: int, record: dict | None = None) -> BatchSheet:
    """Rebuild a queued batch's sheet from what the store kept of it."""
    record = record or store.read_batch_record(batch_id)
    if not record.get("sheet_meta"):
        raise StructureError(f"Batch {batch_id} has no kept sheet to run.")
    meta = json.loads(record["sheet_meta"])
    rows = store.read_batch_input(batch_id).set_index("row")
    grid = Grid(
        cells=pd.DataFrame(),
        source=meta["source"],
        kind=meta["kind"],
        headers={int(k): v for k, v in meta["headers"].items()},
    )
    return BatchSheet(rows=rows, grid=grid, fields=meta["fields"], warnings=list(meta["warnings"]))


def result_from_history(store: Store, batch_id: int) -> BatchResult:
    """A batch's result as the history keeps it."""
    record, rows, changes = store.read_batch(batch_id)
    rows = rows.astype(
        {"row": "int64", "key": "Int64", "value": "boolean", "old_value": "boolean",
         "new_value": "boolean"}
    )  # fmt: skip
    meta = json.loads(record["sheet_meta"]) if record.get("sheet_meta") else {}
    warnings = list(meta.get("warnings", []))
    if record.get("error"):
        warnings.append(record["error"])
    columns = list(no_products().columns)
    return BatchResult(
        rows=rows,
        newly_hidden=changes.loc[changes["change"] == "hidden", columns].reset_index(drop=True),
        newly_visible=changes.loc[changes["change"] == "visible", columns].reset_index(drop=True),
        source=record["source"] or "",
        status=record["status"],
        reference=record["reference"],
        strict=bool(record["strict"]),
        batch_id=batch_id,
        notify=record["notify"],
        warnings=warnings,
        error=record.get("error"),
        notify_status=record.get("notify_status"),
        notify_detail=record.get("notify_error"),
        rows_waiting=record["rows_total"] if record["status"] in ("queued", "running") else None,
    )


def recover_stale(store: Store) -> list[tuple[int, str]]:
    """Look at batches left running by a worker that died; run them again or fail them.

    Returns ``(batch id, "queued" | "failed")`` for each one handled.
    """
    handled = []
    for batch_id, attempts, pid in store.stale_batches().itertuples(index=False):
        record = store.read_batch_record(int(batch_id))
        meta = json.loads(record["sheet_meta"]) if record.get("sheet_meta") else {}
        error = None
        if meta.get("inline"):
            error = (
                f"The batch stopped before it finished (process {pid} ended); nothing was "
                "applied. Apply the sheet again."
            )
        elif not meta:
            error = "The batch's sheet was not kept, so it cannot be run again."
        elif attempts >= MAX_ATTEMPTS:
            error = f"The batch stopped {attempts} times without finishing; nothing was applied."
        if store.requeue_batch(int(batch_id), int(attempts), error=error):
            handled.append((int(batch_id), "failed" if error else "queued"))
    return handled


def run_worker(
    *,
    db: Store | str | None = None,
    once: bool = False,
    poll: float = 1.0,
    should_stop=lambda: False,
    on_start=None,
    on_end=None,
    progress_for=None,
) -> int:
    """Run queued batches in order until the queue is empty (``once``) or ``should_stop()``.

    ``on_start(batch_id)`` and ``on_end(result)`` are told about each batch;
    ``progress_for(batch_id)`` may give a progress callback for it. Returns the
    number of batches run.
    """
    store = as_store(db)
    count = 0
    while not should_stop():
        try:
            recover_stale(store)
            batch_id = store.next_queued()
        except DatabaseBusyError:
            batch_id = None  # someone is writing; try again at the next poll
        if batch_id is None:
            if once:
                break
            time.sleep(poll)
            continue
        if on_start is not None:
            on_start(batch_id)
        progress = progress_for(batch_id) if progress_for is not None else None
        try:
            result = run_batch(batch_id, db=store, progress=progress)
        except DatabaseBusyError:
            # The file stayed busy at the very end: the batch keeps its lease and,
            # once that runs out, is queued again by the next look at the queue.
            result = None
            if once:
                break
            time.sleep(poll)
        if result is not None:
            count += 1
            if on_end is not None:
                on_end(result)
    return count


def _notify(store: Store, result: BatchResult, record: dict) -> None:
    if not record.get("notify"):
        return
    from .notify import notify_batch

    notify_batch(store, result)
