"""The DuckDB store: schema version, persistence, a busy file, a foreign file, history."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import JAS, JAS_M, JAS_S, KAARS, MOK, TINY_ROWS, TRUI, UPC

from backorder_ops import (
    DatabaseBusyError,
    DatabaseError,
    NotFoundError,
    Store,
    StructureError,
    apply_batch,
    load_catalog,
    read_sheet,
    set_shop_setting,
)
from backorder_ops.store import SCHEMA_VERSION, default_path
from backorder_ops.visibility import describe_products

# A process that opens the database read-write and holds it. With ``hold`` = "stdin"
# it lets go when its standard input closes (or after a minute, as a safety net);
# with a number it lets go after that many seconds.
HOLDER = textwrap.dedent(
    """
    import select, sys, time
    import duckdb

    path, hold = sys.argv[1], sys.argv[2]
    con = duckdb.connect(path)
    con.execute("SELECT count(*) FROM products").fetchall()
    print("ready", flush=True)
    if hold == "stdin":
        select.select([sys.stdin], [], [], 60)
    else:
        time.sleep(float(hold))
    con.close()
    print("released", flush=True)
    """
)


def start_holder(path: Path, hold: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), hold],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.strip() == "ready", process.stderr.read()
    return process


def stop_holder(process: subprocess.Popen) -> str:
    try:
        out, _ = process.communicate(timeout=60)  # closes stdin: the holder lets go
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


# -- schema ----------------------------------------------------------------------------


def test_a_new_file_gets_the_schema_and_its_version(tmp_path):
    path = tmp_path / "sub" / "dir" / "new.duckdb"
    store = Store(path)
    assert store.read_products().empty
    assert store.read_shop() is False
    assert path.is_file()
    con = duckdb.connect(str(path), read_only=True)
    try:
        version = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}  # fmt: skip
    finally:
        con.close()
    assert version == [(str(SCHEMA_VERSION),)]
    assert {"meta", "products", "shop", "batches", "batch_rows", "batch_visibility"} <= tables


def test_a_newer_schema_version_is_refused(tiny):
    con = duckdb.connect(str(tiny.path))
    con.execute(
        "UPDATE meta SET value = ? WHERE name = 'schema_version'", [str(SCHEMA_VERSION + 1)]
    )
    con.close()
    with pytest.raises(DatabaseError) as error:
        Store(tiny.path).read_products()
    assert f"schema {SCHEMA_VERSION + 1}" in str(error.value)
    assert "newer" in str(error.value)
    with pytest.raises(DatabaseError):
        set_shop_setting(True, db=Store(tiny.path))
    # Refusing does not touch the file: the version is still the newer one.
    con = duckdb.connect(str(tiny.path), read_only=True)
    try:
        value = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        shop = con.execute("SELECT sell_when_out_of_stock FROM shop").fetchone()
    finally:
        con.close()
    assert value == (str(SCHEMA_VERSION + 1),)
    assert shop == (False,)


def test_data_persists_across_store_instances(tmp_path, tiny_catalog_csv):
    path = tmp_path / "persist.duckdb"
    load_catalog(tiny_catalog_csv, db=Store(path))
    set_shop_setting(True, db=Store(path), reference="zomer")
    again = Store(path)
    products = again.read_products()
    assert len(products) == len(TINY_ROWS)
    assert sorted(products["ean"]) == sorted(r[0] for r in TINY_ROWS)
    assert Store(str(path)).read_shop() is True
    assert Store(path).list_batches()["reference"].tolist() == ["zomer", "replace tiny.csv"]
    # The data is in the file itself: plain DuckDB sees it too.
    con = duckdb.connect(str(path), read_only=True)
    try:
        count = con.execute("SELECT count(*) FROM products").fetchone()[0]
    finally:
        con.close()
    assert count == len(TINY_ROWS)


def test_read_products_types_and_values(tiny):
    products = tiny.read_products()
    assert list(products.columns) == [
        "key", "ean", "sku", "name", "parent_key", "stock", "backorder_allowed",
    ]  # fmt: skip
    assert str(products["key"].dtype) == "int64"
    assert str(products["parent_key"].dtype) == "Int64"
    assert str(products["stock"].dtype) == "int64"
    assert str(products["backorder_allowed"].dtype) == "bool"
    assert products["key"].is_monotonic_increasing
    by_ean = products.set_index("ean")
    assert by_ean.loc[JAS_S, "parent_key"] == int(JAS)
    assert pd.isna(by_ean.loc[JAS, "parent_key"])
    assert by_ean.loc[UPC, "key"] == int(UPC)
    assert bool(by_ean.loc[TRUI, "backorder_allowed"]) is True


def test_a_failed_transaction_changes_nothing(tiny):
    before = tiny.read_products()
    with pytest.raises(RuntimeError), tiny.transaction() as con:
        tiny.write_products(con, before.iloc[:1], merge=False)
        tiny.write_shop(con, True)
        raise RuntimeError("half-way")
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    assert tiny.read_shop() is False


def test_write_products_merge_and_replace(tiny):
    products = tiny.read_products()
    changed = products[products["ean"] == MOK].assign(stock=99, name="Mok XL")
    with tiny.transaction() as con:
        tiny.write_products(con, changed, merge=True)
    after = tiny.read_products().set_index("ean")
    assert len(after) == len(products)
    assert (after.loc[MOK, "stock"], after.loc[MOK, "name"]) == (99, "Mok XL")
    with tiny.transaction() as con:
        tiny.write_products(con, changed, merge=False)
    assert tiny.read_products()["ean"].tolist() == [MOK]


def test_update_settings(tiny):
    keys = pd.DataFrame({"key": [int(KAARS), int(TRUI)], "new_value": [True, False]})
    with tiny.transaction() as con:
        tiny.update_settings(con, keys)
    flags = tiny.read_products().set_index("ean")["backorder_allowed"]
    assert (bool(flags[KAARS]), bool(flags[TRUI]), bool(flags[MOK])) == (True, False, False)


# -- a busy database -------------------------------------------------------------------


def test_a_busy_database_names_the_process_that_holds_it(tiny):
    holder = start_holder(tiny.path, "stdin")
    try:
        with pytest.raises(DatabaseBusyError) as error:
            Store(tiny.path, wait=0.5).read_products()
        assert holder.poll() is None  # still holding: the error was not a fluke
    finally:
        out = stop_holder(holder)
    message = str(error.value)
    assert str(holder.pid) in message
    assert "try again when the batch has finished" in message
    assert str(tiny.path) in message
    assert not isinstance(error.value, duckdb.Error)
    assert "released" in out
    # Once the holder has let go the database opens again.
    assert len(Store(tiny.path, wait=0.5).read_products()) == len(TINY_ROWS)


def test_a_busy_database_is_busy_for_writers_too(tiny):
    holder = start_holder(tiny.path, "stdin")
    try:
        with pytest.raises(DatabaseBusyError, match=str(holder.pid)):
            set_shop_setting(True, db=Store(tiny.path, wait=0.3))
    finally:
        stop_holder(holder)
    assert tiny.read_shop() is False


def test_the_store_waits_for_a_holder_that_lets_go(tiny):
    holder = start_holder(tiny.path, "1")
    try:
        products = Store(tiny.path, wait=10).read_products()
        set_shop_setting(True, db=Store(tiny.path, wait=10))
    finally:
        out = stop_holder(holder)
    assert "released" in out
    assert holder.returncode == 0
    assert len(products) == len(TINY_ROWS)
    assert Store(tiny.path).read_shop() is True


def test_wait_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKORDER_OPS_LOCK_TIMEOUT", "1.5")
    assert Store(tmp_path / "a.duckdb").wait == 1.5
    monkeypatch.setenv("BACKORDER_OPS_LOCK_TIMEOUT", "soon")
    assert Store(tmp_path / "a.duckdb").wait == 30.0
    assert Store(tmp_path / "a.duckdb", wait=0).wait == 0


# -- a file that is not ours -----------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), b"EAN;Voorraad\n8712345678906;1\n", b"SQLite format 3\x00" + bytes(200)],
    ids=["random", "csv", "sqlite"],
)
def test_a_file_that_is_not_duckdb_is_a_database_error(tmp_path, tiny_catalog_csv, content):
    path = tmp_path / "foreign.duckdb"
    path.write_bytes(content)
    with pytest.raises(DatabaseError) as error:
        Store(path, wait=0.5).read_products()
    assert not isinstance(error.value, duckdb.Error)
    assert error.value.__cause__ is None or not isinstance(error.value.__cause__, duckdb.Error)
    assert str(path) in str(error.value)
    with pytest.raises(DatabaseError):
        load_catalog(tiny_catalog_csv, db=Store(path, wait=0.5))
    assert path.read_bytes() == content  # never overwritten


def test_a_directory_is_a_database_error(tmp_path):
    with pytest.raises(DatabaseError):
        Store(tmp_path, wait=0.5).read_products()


# -- history ---------------------------------------------------------------------------


def test_list_batches_most_recent_first(tiny):
    set_shop_setting(True, db=tiny, reference="zomer")
    sheet = read_sheet(text=f"EAN\tBackorder toegestaan?\n{KAARS}\tja\n{JAS_M}\tja\n")
    apply_batch(sheet, db=tiny, reference="week 49")
    set_shop_setting(False, db=tiny)
    batches = tiny.list_batches()
    assert batches["kind"].tolist() == ["shop", "backorder", "shop", "load"]
    assert batches["id"].is_monotonic_decreasing
    assert batches["id"].is_unique
    assert batches["reference"].tolist()[1:3] == ["week 49", "zomer"]
    assert batches["status"].tolist() == ["done"] * 4
    row = batches.iloc[1]
    assert (row["rows_total"], row["applied"], row["rejected"]) == (2, 1, 1)
    assert tiny.list_batches(limit=2)["id"].tolist() == batches["id"].tolist()[:2]


def test_read_batch(tiny):
    sheet = read_sheet(text=f"EAN\tBackorder toegestaan?\n{KAARS}\tja\n{JAS_M}\tja\n")
    result = apply_batch(sheet, db=tiny, reference="week 49")
    record, rows, changes = tiny.read_batch(result.batch_id)
    assert record["id"] == result.batch_id
    assert (record["kind"], record["reference"], record["status"]) == ("backorder", "week 49",
                                                                       "done")  # fmt: skip
    assert record["notify"] is None
    assert rows[["row", "ean", "status", "reason"]].fillna("").values.tolist() == [
        [2, KAARS, "applied", ""],
        [3, JAS_M, "rejected", "variant_not_allowed"],
    ]
    assert changes[["change", "ean"]].values.tolist() == [["visible", KAARS]]


def test_read_batch_of_an_unknown_id(tiny):
    with pytest.raises(NotFoundError, match="999"):
        tiny.read_batch(999)


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.delenv("BACKORDER_OPS_DB", raising=False)
    assert default_path() == Path("data") / "backorder.duckdb"
    assert Store().path == Path("data") / "backorder.duckdb"
    monkeypatch.setenv("BACKORDER_OPS_DB", str(tmp_path / "env.duckdb"))
    assert Store().path == tmp_path / "env.duckdb"
    assert Store(tmp_path / "given.duckdb").path == tmp_path / "given.duckdb"


def test_a_version_1_file_is_migrated_and_keeps_its_data(tmp_path):
    """A file written before background batches existed opens, migrates and keeps its rows."""
    import duckdb

    from backorder_ops import store as store_module

    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    for statement in store_module._SCHEMA:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO batches (id, kind, created, status, reference) "
        "VALUES (nextval('batch_ids'), 'backorder', now(), 'done', 'oud')"
    )
    con.close()

    store = Store(path)
    batches = store.list_batches()
    assert batches[["id", "reference", "status"]].values.tolist() == [[1, "oud", "done"]]
    assert {"progress_done", "lease_until", "attempts", "undoes"} <= set(batches.columns)
    with store.connect(read_only=True) as con:
        version = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    assert int(version[0]) == store_module.SCHEMA_VERSION


def test_a_version_2_file_gets_its_products_visibility_judged(tmp_path):
    """Schema 3 keeps each product's visibility: a file from before is judged on opening."""
    import duckdb

    from backorder_ops import store as store_module

    path = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(path))
    for statement in [*store_module._SCHEMA, *store_module._MIGRATIONS[1]]:
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    # key, ean, sku, name, parent_key, stock, backorder_allowed
    con.execute(
        """INSERT INTO products VALUES
        (1, '1', NULL, 'in stock', NULL, 3, false),
        (2, '2', NULL, 'sold out', NULL, 0, false),
        (3, '3', NULL, 'sold out, backorders', NULL, 0, true),
        (4, '4', NULL, 'parent', NULL, 9, false),
        (5, '5', NULL, 'variant, sold out', 4, 0, false)"""
    )
    con.close()

    store = Store(path)
    with store.connect(read_only=True) as con:
        kept = store.visibility(con).set_index("key")["visible"].to_dict()
        assert store.visibility_counts(con) == (5, 2)
        version = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    # The parent's own stock does not count: its only variant is sold out.
    assert kept == {1: True, 2: False, 3: True, 4: False, 5: False}
    assert int(version[0]) == store_module.SCHEMA_VERSION


def test_a_version_3_file_keeps_its_row_logs_text_and_new_logs_read_alike(tmp_path, tiny):
    """Schema 4 keeps a row log's text apart; logs written before keep theirs in the rows."""
    import duckdb

    from backorder_ops import store as store_module

    path = tmp_path / "v3.duckdb"
    con = duckdb.connect(str(path))
    for statement in [*store_module._SCHEMA, *store_module._MIGRATIONS[1],
                      *store_module._MIGRATIONS[2]]:  # fmt: skip
        con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    con.execute(
        "INSERT INTO batches (id, kind, created, status) "
        "VALUES (nextval('batch_ids'), 'backorder', now(), 'done')"
    )
    con.execute(
        """INSERT INTO batch_rows VALUES
        (1, 3, ' 8712345678906', '8712345678906', 8712345678906, 'nee', false, true, false,
         'applied', NULL, 'Row 3: changes.'),
        (1, 2, 'x', 'x', NULL, 'ja', true, NULL, NULL, 'rejected', 'invalid_ean', 'Row 2: x.')"""
    )
    con.close()

    _, rows, _ = Store(path).read_batch(1)
    assert rows[["row", "ean_given", "ean", "value_given", "message"]].values.tolist() == [
        [2, "x", "x", "ja", "Row 2: x."],
        [3, " 8712345678906", "8712345678906", "nee", "Row 3: changes."],
    ]

    # A batch logged now: its text is kept in one block, and read back as it was given.
    result = apply_batch(
        read_sheet(text=f"EAN\tBackorder toegestaan?\n{JAS}\tja\n'x\t1\n"), db=tiny
    )
    _, logged, _ = tiny.read_batch(result.batch_id)
    columns = ["row", "ean_given", "ean", "value_given", "status", "message"]
    assert logged[columns].values.tolist() == result.rows[columns].values.tolist()
    with tiny.connect(read_only=True) as con:
        inline = con.execute(
            "SELECT count(ean_given), count(message), count(status) FROM batch_rows "
            "WHERE batch_id = ?",
            [result.batch_id],
        ).fetchone()
    assert inline == (0, 0, 2)


def test_current_visibility_counts_at_once_and_lists_on_demand(tiny):
    from backorder_ops import StaleError, apply_batch, current_visibility

    shop = current_visibility(db=tiny)
    assert shop.summary() == {
        "products": 10, "visible": 7, "hidden": 3, "sell_when_out_of_stock": False,
    }  # fmt: skip
    assert sorted(shop.hidden["ean"]) == sorted([JAS_S, KAARS, UPC])
    assert len(shop.visible) == 7 and shop.visible["visible"].all()
    assert shop.to_json()["hidden"] == sorted([JAS_S, KAARS, UPC])
    # Described by the store as the pandas description of the whole catalog would.
    products = tiny.read_products()
    for flag, described in ((False, shop.hidden), (True, shop.visible)):
        keys = shop.flags.loc[shop.flags["visible"] == flag, "key"]
        expected = describe_products(products, keys).assign(visible=flag)
        pd.testing.assert_frame_equal(described, expected)
    assert set(shop.visible["role"]) == {"parent", "variant", "product"}

    # Lists not read yet are not read from a store that has changed since.
    later = current_visibility(db=tiny)
    apply_batch(pd.DataFrame({"EAN": [MOK], "Backorder toegestaan?": ["ja"]}), db=tiny)
    with pytest.raises(StaleError, match="call current_visibility\\(\\) again"):
        _ = later.hidden
    assert shop.hidden["ean"].tolist() == sorted([JAS_S, KAARS, UPC])  # read before: kept


def test_a_merge_judges_the_family_a_variant_leaves_and_the_one_it_joins(tiny):
    """JAS-M (stock 4) is the only variant keeping Winterjas visible; merged under
    Trui Merino, the jacket disappears, though no row of the merge names it."""
    products = tiny.read_products()
    keys = products.set_index("ean")["key"]
    moved = products[products["ean"] == JAS_M].assign(parent_key=keys[TRUI])
    with tiny.transaction() as con:
        tiny.write_products(con, moved.astype({"parent_key": "Int64"}), merge=True)
        kept = tiny.visibility(con).set_index("key")["visible"]
        judged = tiny.judge(con, False).set_index("key")["visible"]
    pd.testing.assert_series_equal(kept, judged)
    assert not kept[keys[JAS]] and kept[keys[JAS_M]] and kept[keys[TRUI]]


# -- a connection opened while a sheet is read -------------------------------------------


def other_process_writes(path: Path) -> subprocess.CompletedProcess:
    """Write to the file from another process: fails while this process holds it."""
    code = f"import duckdb; duckdb.connect({str(path)!r}).execute('CHECKPOINT')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.fixture
def kept_openers(monkeypatch) -> list:
    """Store.connect's context managers, kept: none is closed by being let go of."""
    kept, connect = [], Store.connect

    def keeping(self, **options):
        kept.append(connect(self, **options))
        return kept[-1]

    monkeypatch.setattr(Store, "connect", keeping)
    return kept


def test_a_connection_opened_while_reading_gives_both(tiny, kept_openers):
    with tiny.connect_while(lambda: "the sheet") as (con, sheet):
        assert sheet == "the sheet"
        assert con.execute("SELECT count(*) FROM products").fetchone()[0] == len(TINY_ROWS)
    done = other_process_writes(tiny.path)
    assert done.returncode == 0, done.stderr  # closed at the end


def test_a_failed_reading_comes_first_and_the_connection_is_closed(tiny, tmp_path, kept_openers):
    def unreadable():
        raise StructureError("batch.xlsx: cannot be read as a spreadsheet (not a zip).")

    with pytest.raises(StructureError, match="cannot be read"), tiny.connect_while(unreadable):
        pytest.fail("no connection is given when the reading fails")
    assert len(kept_openers) == 1  # it was opened, then closed:
    done = other_process_writes(tiny.path)
    assert done.returncode == 0, done.stderr
    # It comes first even when the file cannot be opened either.
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(b"not a database" * 100)
    with (
        pytest.raises(StructureError, match="cannot be read"),
        Store(damaged).connect_while(unreadable),
    ):
        pass
    # Once the reading works, the file's own error is told.
    with (
        pytest.raises(DatabaseError, match="damaged"),
        Store(damaged).connect_while(lambda: "the sheet"),
    ):
        pass


def test_a_new_file_is_created_only_once_the_reading_worked(tmp_path):
    path = tmp_path / "new.duckdb"

    def unreadable():
        raise StructureError("batch.xlsx: the workbook has no sheets.")

    with pytest.raises(StructureError), Store(path).connect_while(unreadable):
        pass
    assert not path.exists()
    with Store(path).connect_while(lambda: 1) as (con, one):
        assert one == 1 and con.execute("SELECT count(*) FROM products").fetchone()[0] == 0
    assert path.exists()
