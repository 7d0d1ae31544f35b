"""Background batches: the queue, the worker process, progress, crashes and a busy file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import JAS, KAARS, MOK, SOK, TRUI

from backorder_ops import (
    DatabaseBusyError,
    StaleError,
    Store,
    StructureError,
    apply_batch,
    current_visibility,
    jobs,
    load_catalog,
    preview_batch,
    read_sheet,
    submit_batch,
)
from backorder_ops.ean import check_digit_ok
from backorder_ops.jobs import recover_stale, run_batch, run_worker

PASTED = f"EAN\tBackorder toegestaan?\n{JAS}\tja\n{TRUI}\tnee\n{MOK}\tmisschien\n{SOK}\tnee\n"


def cli(db: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backorder_ops", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        **kwargs,
    )


def read_record(store: Store, batch_id: int) -> dict:
    """The batch record, waiting while a worker holds the file."""
    while True:
        try:
            return Store(store.path, wait=0.2).read_batch_record(batch_id)
        except DatabaseBusyError:
            time.sleep(0.02)


# -- in-process -------------------------------------------------------------------------


def test_submit_returns_at_once_and_a_thread_runs_the_batch(tiny):
    handle = submit_batch(read_sheet(text=PASTED), db=tiny, reference="thread")
    result = handle.wait(60)
    assert result.status == "done"
    assert result.batch_id == handle.id and result.reference == "thread"
    assert result.summary() == {"rows": 4, "applied": 3, "unchanged": 0, "rejected": 1}
    assert handle.progress == (4, 4)
    products = tiny.read_products().set_index("ean")["backorder_allowed"]
    assert (products[JAS], products[TRUI], products[SOK]) == (True, False, False)


def test_a_queued_batch_waits_for_a_worker(tiny):
    handle = submit_batch(read_sheet(text=PASTED), db=tiny, in_thread=False)
    assert handle.status == "queued"
    assert handle.result().to_json()["batch"] == {"id": handle.id, "reference": None,
                                                  "status": "queued"}  # fmt: skip
    with pytest.raises(TimeoutError):
        handle.wait(0.3)
    assert run_worker(db=tiny, once=True) == 1
    assert handle.status == "done"
    assert handle.wait(1).summary()["applied"] == 3


def test_progress_is_reported_row_chunk_by_row_chunk(tiny, monkeypatch):
    monkeypatch.setattr("backorder_ops.batch.CHUNK_ROWS", 1)
    seen = []
    result = apply_batch(
        read_sheet(text=PASTED), db=tiny, progress=lambda done, total: seen.append((done, total))
    )
    assert result.status == "done"
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4), (4, 4)]  # the last one: applied
    record = tiny.read_batch_record(result.batch_id)
    assert (record["progress_done"], record["progress_total"]) == (4, 4)


def test_the_worker_runs_batches_in_the_order_they_were_queued(tiny):
    first = submit_batch(read_sheet(text=f"{KAARS}\tja\n"), db=tiny, in_thread=False)
    second = submit_batch(read_sheet(text=f"{KAARS}\tnee\n"), db=tiny, in_thread=False)
    ended = []
    run_worker(db=tiny, once=True, on_end=lambda r: ended.append(r.batch_id))
    assert ended == [first.id, second.id]
    assert first.result().summary()["applied"] == 1 and second.result().summary()["applied"] == 1
    assert not tiny.read_products().set_index("ean").at[KAARS, "backorder_allowed"]


def test_a_claimed_batch_is_not_run_twice(tiny):
    handle = submit_batch(read_sheet(text=PASTED), db=tiny, in_thread=False)
    assert run_batch(handle.id, db=tiny) is not None
    assert run_batch(handle.id, db=tiny) is None  # no longer queued
    assert tiny.read_batch(handle.id)[1]["row"].tolist() == [2, 3, 4, 5]


def test_a_bad_sheet_or_address_is_refused_when_submitted(tiny):
    with pytest.raises(StructureError):
        submit_batch(read_sheet(text=PASTED), db=tiny, notify="niet-een-adres")
    with pytest.raises(StructureError):
        submit_batch(read_sheet(text="alleen één kolom\n"), db=tiny)
    assert tiny.list_batches()["kind"].tolist() == ["load"]


def test_a_failure_while_running_marks_the_batch_failed(tiny, monkeypatch):
    before = tiny.read_products()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "update_settings", boom)
    handle = submit_batch(read_sheet(text=PASTED), db=tiny, in_thread=False)
    run_worker(db=tiny, once=True)
    record = tiny.read_batch_record(handle.id)
    assert record["status"] == "failed"
    assert "disk full" in record["error"] and "nothing was applied" in record["error"]
    pd.testing.assert_frame_equal(tiny.read_products(), before)


def test_an_applied_batch_is_recorded_as_claimed_by_this_process(tiny):
    result = apply_batch(read_sheet(text=PASTED), db=tiny, reference="nu")
    record = tiny.read_batch_record(result.batch_id)
    assert (record["status"], record["attempts"], record["worker_pid"]) == ("done", 1, os.getpid())
    assert record["reference"] == "nu" and record["lease_until"] is None
    assert (record["progress_done"], record["progress_total"]) == (4, 4)


def test_a_batch_that_changes_nothing_leaves_the_catalog_as_read(tiny):
    """Lists read before such a batch stay valid; a batch that changes a setting
    makes them stale."""
    before = current_visibility(db=tiny)
    nothing = apply_batch(read_sheet(text=f"{JAS}\tnee\n{MOK}\tmisschien\n"), db=tiny)
    assert nothing.summary()["applied"] == 0 and nothing.status == "done"
    assert len(before.flags) == len(tiny.read_products())  # still current
    changed = apply_batch(read_sheet(text=f"{JAS}\tja\n"), db=tiny)
    assert changed.summary()["applied"] == 1
    again = current_visibility(db=tiny)
    with pytest.raises(StaleError):
        before.hidden  # noqa: B018 - read on first use
    assert again.summary() == current_visibility(db=tiny).summary()


def test_a_failure_while_applying_inline_applies_nothing(tiny, monkeypatch):
    """The inline path applies on the connection it classified on: the failure rolls
    back the change, and the failure itself is recorded."""
    before = tiny.read_products()

    def boom(self, con, changes):
        con.execute("UPDATE products SET backorder_allowed = NOT backorder_allowed")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "update_settings", boom)
    result = apply_batch(read_sheet(text=PASTED), db=tiny)
    assert result.status == "failed" and "disk full" in result.error
    assert result.newly_hidden.empty and result.newly_visible.empty
    record = tiny.read_batch_record(result.batch_id)
    assert record["status"] == "failed" and "nothing was applied" in record["error"]
    assert (record["newly_hidden"], record["newly_visible"], record["rows_total"]) == (0, 0, 4)
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    assert tiny.read_batch(result.batch_id)[1].empty  # no row log


def test_an_interrupted_inline_batch_is_failed_by_the_next_look_at_the_queue(tiny, monkeypatch):
    before = tiny.read_products()
    monkeypatch.setenv("BACKORDER_OPS_LEASE_SECONDS", "0")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "update_settings", interrupted)
    with pytest.raises(KeyboardInterrupt):
        apply_batch(read_sheet(text=PASTED), db=tiny)
    [batch_id] = tiny.list_batches().query("kind == 'backorder'")["id"].tolist()
    assert tiny.read_batch_record(batch_id)["status"] == "running"
    time.sleep(0.05)  # the lease runs out
    assert recover_stale(tiny) == [(batch_id, "failed")]
    assert "Apply the sheet again" in tiny.read_batch_record(batch_id)["error"]
    pd.testing.assert_frame_equal(tiny.read_products(), before)


def test_a_batch_whose_catalog_changed_while_it_was_classified_is_classified_again(
    tiny, monkeypatch
):
    """What is applied, and the row log kept (its text packed meanwhile), follow the
    catalog as the batch writes to it, not as it was when the rows were classified."""
    handle = submit_batch(read_sheet(text=f"{KAARS}\tja\n{MOK}\tja\n"), db=tiny, in_thread=False)
    classify, meanwhile = jobs.classify_batch, []

    def classify_then_someone_sets_kaars(*args, **kwargs):
        result = classify(*args, **kwargs)
        if not meanwhile:  # once: the other batch classifies through here too
            meanwhile.append("running")
            meanwhile.append(apply_batch(read_sheet(text=f"{KAARS}\tja\n"), db=tiny))
        return result

    monkeypatch.setattr(jobs, "classify_batch", classify_then_someone_sets_kaars)
    result = run_batch(handle.id, db=tiny)
    assert meanwhile[1].summary()["applied"] == 1
    for rows in (result.rows, tiny.read_batch(handle.id)[1]):
        assert rows["status"].tolist() == ["unchanged", "applied"]
        assert "already has 'Backorders toegestaan' = ja" in rows["message"].iloc[0]
        assert "changes from nee to ja" in rows["message"].iloc[1]
    assert tiny.read_batch_record(handle.id)["applied"] == 1


def test_a_queued_batch_whose_sheet_was_not_kept_fails_with_a_message(tiny):
    handle = submit_batch(read_sheet(text=PASTED), db=tiny, in_thread=False)
    with tiny.transaction() as con:
        con.execute("UPDATE batches SET sheet_meta = NULL WHERE id = ?", [handle.id])
    assert run_worker(db=tiny, once=True) == 1
    record = tiny.read_batch_record(handle.id)
    assert record["status"] == "failed" and "has no kept sheet" in record["error"]


def test_a_lease_runs_out_when_it_ends_not_at_the_next_whole_second(tiny):
    """Regression: leases were compared with the time to the second, so a dead worker's
    batch could wait up to a second longer than its lease to be run again."""
    handle = submit_batch(read_sheet(text=PASTED), db=tiny, in_thread=False)
    while datetime.now().microsecond > 100_000:  # start early in a second: the check
        time.sleep(0.01)  # below then falls in the same second as the lease's end
    assert tiny.claim_batch(handle.id, pid=99999, lease_seconds=0.3) == 1
    time.sleep(0.4)
    assert tiny.stale_batches()["id"].tolist() == [handle.id]


def test_a_stale_background_batch_is_queued_again_and_an_inline_one_failed(tiny, monkeypatch):
    monkeypatch.setenv("BACKORDER_OPS_LEASE_SECONDS", "0")
    background = submit_batch(read_sheet(text=PASTED), db=tiny, in_thread=False)
    inline = submit_batch(read_sheet(text=PASTED), db=tiny, inline=True)
    for handle in (background, inline):  # claimed by a "worker" that then died
        assert tiny.claim_batch(handle.id, pid=99999, lease_seconds=-1) == 1
    assert sorted(recover_stale(tiny)) == [(background.id, "queued"), (inline.id, "failed")]
    assert "Apply the sheet again" in tiny.read_batch_record(inline.id)["error"]
    monkeypatch.setenv("BACKORDER_OPS_LEASE_SECONDS", "60")
    assert run_worker(db=tiny, once=True) == 1
    assert tiny.read_batch_record(background.id)["attempts"] == 2
    assert background.status == "done"


# -- separate processes -----------------------------------------------------------------


def _big_catalog(tmp_path: Path, products: int) -> tuple[Path, pd.DataFrame]:
    """A catalog of standalone products, half with stock 0, as parquet."""
    rng = np.random.default_rng(7)
    bodies = pd.Series(np.arange(products) + 871_000_000_000, dtype="int64").astype("str")
    digits = pd.Series([b + str(d) for b in bodies for d in range(10)])
    eans = digits[check_digit_ok(digits)].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "EAN": eans,
            "Naam": "Product " + eans.str[-5:],
            "Voorraad": rng.integers(-2, 3, len(eans)),
            "Backorders toegestaan": np.where(rng.random(len(eans)) < 0.5, "ja", "nee"),
        }
    )
    path = tmp_path / "catalog.parquet"
    frame.to_parquet(path)
    return path, frame


def _big_sheet(tmp_path: Path, eans: pd.Series, rows: int) -> Path:
    rng = np.random.default_rng(11)
    chosen = eans.to_numpy()[rng.choice(len(eans), rows, replace=False)]
    sheet = pd.DataFrame(
        {"EAN": chosen, "Backorder toegestaan?": np.where(rng.random(rows) < 0.5, "1", "0")}
    )
    path = tmp_path / "batch.csv"
    sheet.to_csv(path, index=False, sep=";")
    return path


def test_background_batch_end_to_end_with_a_worker_process(tiny, tmp_path):
    catalog, frame = _big_catalog(tmp_path, 20_000)
    assert load_catalog(catalog, db=tiny).status == "done"
    sheet = _big_sheet(tmp_path, frame["EAN"], 20_000)

    queued = cli(tiny.path, "batch", "apply", str(sheet), "--background", "--json",
                 "--reference", "achtergrond")  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    answer = json.loads(queued.stdout)
    batch_id = answer["batch"]["id"]
    assert answer["batch"] == {"id": batch_id, "reference": "achtergrond", "status": "queued"}
    assert answer["summary"]["rows"] == 20_000

    worker = subprocess.Popen(
        [sys.executable, "-m", "backorder_ops", "--db", str(tiny.path), "worker", "--once"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Progress stored after every chunk: the batch is classified faster than the
        # usual half second between two reports. Chunks of 100 rows (200 reports) keep
        # it running long enough to be seen running.
        env={
            **os.environ, "BACKORDER_OPS_CHUNK_ROWS": "250", "BACKORDER_OPS_PROGRESS_SECONDS": "0",
        },
    )  # fmt: skip
    statuses, progress = [], []
    while worker.poll() is None:
        record = read_record(tiny, batch_id)
        statuses.append(record["status"])
        progress.append(record["progress_done"])
        time.sleep(0.02)
    out, err = worker.communicate()
    assert worker.returncode == 0, err
    final = read_record(tiny, batch_id)
    statuses.append(final["status"])
    seen = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert seen == ["queued", "running", "done"]
    assert 0 < max(p for p, s in zip(progress, statuses, strict=False) if s == "running") <= 20_000
    assert (final["progress_done"], final["progress_total"]) == (20_000, 20_000)
    assert f"Batch {batch_id}: done" in out and "Traceback" not in err


def test_a_killed_worker_leaves_the_catalog_alone_and_the_batch_runs_once(tiny, tmp_path):
    catalog, frame = _big_catalog(tmp_path, 100_000)
    assert load_catalog(catalog, db=tiny).status == "done"
    sheet = _big_sheet(tmp_path, frame["EAN"], 100_000)
    before = tiny.read_products()
    expected = preview_batch(read_sheet(sheet), db=tiny)

    queued = cli(tiny.path, "batch", "apply", str(sheet), "--background", "--json")
    batch_id = json.loads(queued.stdout)["batch"]["id"]
    # Chunks of 20 rows: classifying takes seconds instead of a tenth of one, so there
    # is time to kill the worker part-way.
    env = {**os.environ, "BACKORDER_OPS_CHUNK_ROWS": "20", "BACKORDER_OPS_LEASE_SECONDS": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "backorder_ops", "--db", str(tiny.path), "worker", "--once"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    while True:  # kill it part-way: once it has classified some rows
        record = read_record(tiny, batch_id)
        if record["status"] == "running" and record["progress_done"] >= 1_000:
            break
        assert worker.poll() is None, "the worker ended before it could be killed"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    assert read_record(tiny, batch_id)["status"] == "running"
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    assert tiny.read_batch(batch_id)[1].empty  # no row log

    time.sleep(1.2)  # let the dead worker's lease run out
    again = cli(tiny.path, "worker", "--once", env={"BACKORDER_OPS_LEASE_SECONDS": "60"})
    assert again.returncode == 0, again.stderr
    record = read_record(tiny, batch_id)
    assert (record["status"], record["attempts"]) == ("done", 2)
    record_, rows, changes = tiny.read_batch(batch_id)
    assert len(rows) == 100_000  # one row log, not two
    assert rows["status"].value_counts().to_dict() == (
        expected.rows["status"].value_counts().to_dict()
    )
    after = tiny.read_products().set_index("ean")["backorder_allowed"]
    applied = expected.rows[expected.rows["status"] == "applied"]
    assert (after[applied["ean"]].to_numpy() == applied["new_value"].to_numpy(bool)).all()
    untouched = ~before["ean"].isin(applied["ean"])
    assert (
        after[before.loc[untouched, "ean"]].to_numpy()
        == before.loc[untouched, "backorder_allowed"].to_numpy()
    ).all()


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("SELECT 1").fetchall()
    print("ready", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
    """
)


def test_a_busy_database_makes_a_second_process_wait_then_succeed(tiny):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tiny.path), "1.5"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "ready"
    result = cli(tiny.path, "visible", "--json", env={"BACKORDER_OPS_LOCK_TIMEOUT": "30"})
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["visible"]) > 0


def test_a_busy_database_that_stays_busy_fails_with_one_clear_message(tiny):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tiny.path), "20"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = cli(
            tiny.path, "batch", "apply", "-", input=PASTED,
            env={"BACKORDER_OPS_LOCK_TIMEOUT": "1"},
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: The database {tiny.path} is in use by process {holder.pid}; try again when "
        "the batch has finished."
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert tiny.list_batches()["kind"].tolist() == ["load"]  # nothing was recorded
