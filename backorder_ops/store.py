"""The embedded DuckDB store: the only module that speaks SQL.

Connections are short-lived (open, work, close): while one process holds a DuckDB
file open for writing, no other process can open it at all. Opening therefore
retries with back-off for a while before giving up with a clear message.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import DatabaseBusyError, DatabaseError, NotFoundError
from .rules import is_visible

DEFAULT_DB = Path("data") / "backorder.duckdb"
SCHEMA_VERSION = 4
DEFAULT_WAIT_SECONDS = 30.0

PRODUCT_COLUMNS = ["key", "ean", "sku", "name", "parent_key", "stock", "backorder_allowed"]
BATCH_ROW_COLUMNS = [
    "row", "ean_given", "ean", "key", "value_given", "value",
    "old_value", "new_value", "status", "reason", "message",
]  # fmt: skip
#: A table of products described (what a change hides or shows): columns and types.
DESCRIBED_TYPES = {
    "key": "int64", "ean": "str", "sku": "str", "name": "str", "stock": "int64",
    "role": "str", "parent_ean": "str", "parent_name": "str",
}  # fmt: skip
#: The text of a row log, kept apart from the rest (see Store.insert_batch_rows).
ROW_TEXT_COLUMNS = ["ean_given", "ean", "value_given", "message"]
_ROW_SELECT = ", ".join(f'"{c}"' for c in BATCH_ROW_COLUMNS)  # "row" is a keyword
VISIBILITY_COLUMNS = [
    "change", "key", "ean", "sku", "name", "stock", "role", "parent_ean", "parent_name",
]  # fmt: skip

_SCHEMA = [
    "CREATE TABLE meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    """CREATE TABLE products (
        key BIGINT PRIMARY KEY,          -- GTIN-14 key: the digits padded to 14
        ean VARCHAR NOT NULL,            -- the EAN as loaded, shown in reports
        sku VARCHAR,
        name VARCHAR,
        parent_key BIGINT,               -- NULL for a parent product
        stock BIGINT NOT NULL,
        backorder_allowed BOOLEAN NOT NULL DEFAULT false
    )""",
    """CREATE TABLE shop (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sell_when_out_of_stock BOOLEAN NOT NULL,
        updated TIMESTAMP
    )""",
    "INSERT INTO shop VALUES (1, false, NULL)",
    "CREATE SEQUENCE batch_ids START 1",
    """CREATE TABLE batches (
        id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,           -- backorder, shop or load
        reference VARCHAR,
        created TIMESTAMP NOT NULL,
        finished TIMESTAMP,
        status VARCHAR NOT NULL,         -- queued, running, done, failed, refused
        source VARCHAR,
        strict BOOLEAN NOT NULL DEFAULT false,
        rows_total INTEGER NOT NULL DEFAULT 0,
        applied INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        newly_hidden INTEGER NOT NULL DEFAULT 0,
        newly_visible INTEGER NOT NULL DEFAULT 0,
        notify VARCHAR,
        notify_status VARCHAR,
        notify_error VARCHAR,
        error VARCHAR
    )""",
    """CREATE TABLE batch_rows (
        batch_id BIGINT NOT NULL,
        "row" INTEGER,
        ean_given VARCHAR,
        ean VARCHAR,
        key BIGINT,
        value_given VARCHAR,
        value BOOLEAN,
        old_value BOOLEAN,
        new_value BOOLEAN,
        status VARCHAR NOT NULL,
        reason VARCHAR,
        message VARCHAR
    )""",
    """CREATE TABLE batch_visibility (
        batch_id BIGINT NOT NULL,
        change VARCHAR NOT NULL,         -- hidden or visible
        key BIGINT NOT NULL,
        ean VARCHAR NOT NULL,
        sku VARCHAR,
        name VARCHAR,
        stock BIGINT,
        role VARCHAR,                    -- product, parent or variant
        parent_ean VARCHAR,
        parent_name VARCHAR
    )""",
]

# Migrations from version N to N+1, applied in order. A new file gets the version 1
# schema above and then every migration, so that both paths are the same.
_MIGRATIONS: dict[int, list[str]] = {
    # 2: background batches (queue, progress, lease), the sheet kept for the worker,
    # and undo batches linked to the batch they undo.
    1: [
        "ALTER TABLE batches ADD COLUMN progress_done INTEGER DEFAULT 0",
        "ALTER TABLE batches ADD COLUMN progress_total INTEGER DEFAULT 0",
        "ALTER TABLE batches ADD COLUMN started TIMESTAMP",
        "ALTER TABLE batches ADD COLUMN lease_until TIMESTAMP",
        "ALTER TABLE batches ADD COLUMN worker_pid INTEGER",
        "ALTER TABLE batches ADD COLUMN attempts INTEGER DEFAULT 0",
        "ALTER TABLE batches ADD COLUMN sheet_meta VARCHAR",
        "ALTER TABLE batches ADD COLUMN undoes BIGINT",
        """CREATE TABLE batch_input (
            batch_id BIGINT NOT NULL,
            "row" INTEGER NOT NULL,
            ean_given VARCHAR,
            value_given VARCHAR
        )""",
    ],
    # 3: every product's visibility kept with it, judged again whenever the catalog,
    # a setting or the shop setting is written, so that reading it is a plain scan.
    2: ["ALTER TABLE products ADD COLUMN visible BOOLEAN DEFAULT false"],
    # 4: the text of a row log (cells, EANs, messages) kept as one compressed block per
    # batch beside the rows; the rows keep what the history is queried by.
    3: ["CREATE TABLE batch_row_text (batch_id BIGINT PRIMARY KEY, data BLOB NOT NULL)"],
}
# Migrations after which every product's visibility must be judged.
_JUDGE_AFTER = {2}


def default_path() -> Path:
    """The database path: ``BACKORDER_OPS_DB`` if set, else ``data/backorder.duckdb``."""
    return Path(os.environ.get("BACKORDER_OPS_DB") or DEFAULT_DB)


def _wait_seconds() -> float:
    try:
        return float(os.environ.get("BACKORDER_OPS_LOCK_TIMEOUT", DEFAULT_WAIT_SECONDS))
    except ValueError:
        return DEFAULT_WAIT_SECONDS


@contextmanager
def in_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on an open connection: committed at the end, rolled back on error."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


T = TypeVar("T")


class Flips(NamedTuple):
    """The keys of the products a change hid and showed, each sorted."""

    hidden: np.ndarray
    shown: np.ndarray


class Store:
    """A backorder_ops database file.

    >>> store = Store("data/demo.duckdb")  # doctest: +SKIP
    >>> store.read_products().head()  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike | None = None, *, wait: float | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.wait = _wait_seconds() if wait is None else wait

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- connections ---------------------------------------------------------------

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        deadline = time.monotonic() + self.wait
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only, config=config)
                con.execute("SET enable_progress_bar = false")  # never DuckDB's bar on stdout
                return con
            except duckdb.IOException as error:
                text = str(error)
                if "lock" not in text.lower():
                    raise DatabaseError(f"{self.path}: cannot be opened ({text}).") from None
                pid = re.search(r"PID (\d+)", text)
                holder = f"process {pid.group(1)}" if pid else "another process"
            except duckdb.ConnectionException as error:
                # This process already has the file open in the other mode (a worker
                # thread in a notebook): a reader joins it read-write; a writer waits.
                if "different configuration" not in str(error):
                    raise DatabaseError(f"{self.path}: cannot be opened ({error}).") from None
                if read_only:
                    read_only = False
                    continue
                holder = "this process"
            except duckdb.Error as error:
                raise DatabaseError(
                    f"{self.path}: is not a backorder_ops database or is damaged ({error})."
                ) from None
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    f"The database {self.path} is in use by {holder}; try again when the "
                    "batch has finished."
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection to a database whose schema is current."""
        if read_only and not self.path.exists():
            read_only = False  # a new file must be created (and its schema written)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open(read_only)
        try:
            version = self._version(con)
            if version != SCHEMA_VERSION:
                if read_only:
                    con.close()
                    con = self._open(False)
                self._migrate(con, self._version(con))
            yield con
        finally:
            con.close()

    @contextmanager
    def connect_while(
        self, work: Callable[[], T], *, read_only: bool = False
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, T]]:
        """A connection, as :meth:`connect` gives, opened in a thread while ``work()``
        (reading a sheet, say) runs here; yields the connection and what work returned.

        Opening a large file takes some 40 ms that reading a sheet hides. An error of
        ``work`` comes first, and the connection is closed. A file that does not exist
        yet is only created once ``work`` has succeeded.
        """
        if not self.path.exists():
            result = work()
            with self.connect(read_only=read_only) as con:
                yield con, result
            return
        opener = self.connect(read_only=read_only)
        with ExitStack() as opened:
            with ThreadPoolExecutor(1, thread_name_prefix="backorder_ops-open") as pool:
                opening = pool.submit(opener.__enter__)
                try:
                    result = work()
                finally:
                    if opening.exception() is None:  # waits; an opened file is closed
                        opened.push(opener)  # when this block ends, whatever happens
            yield opening.result(), result

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed at the end, rolled back on error."""
        with self.connect() as con, in_transaction(con):
            yield con

    @staticmethod
    def _version(con: duckdb.DuckDBPyConnection) -> int:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()[0]
        if not exists:
            return 0
        row = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, con: duckdb.DuckDBPyConnection, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path}: was written by a newer backorder_ops (schema {version}); "
                "upgrade backorder_ops to use it."
            )
        con.begin()
        if version == 0:
            for statement in _SCHEMA:
                con.execute(statement)
            con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
            version = 1
        for step in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[step]:
                con.execute(statement)
        if _JUDGE_AFTER & set(range(version, SCHEMA_VERSION)):
            self._judge(con)
        con.execute(
            "UPDATE meta SET value = ? WHERE name = 'schema_version'", [str(SCHEMA_VERSION)]
        )
        con.commit()

    # -- catalog ---------------------------------------------------------------------

    def read_products(self, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
        """All products, with key types fixed (``int64`` keys, ``Int64`` parent keys)."""
        if con is None:
            with self.connect(read_only=True) as con:
                return self.read_products(con)
        return _typed_products(
            _fetch(
                con, f"SELECT {', '.join(PRODUCT_COLUMNS)} FROM products ORDER BY key", whole=True
            )
        )

    def read_products_with_parents(
        self, con: duckdb.DuckDBPyConnection, keys, columns: list[str] = PRODUCT_COLUMNS
    ) -> pd.DataFrame:
        """The products with these keys and their parents, typed as :meth:`read_products`.

        ``columns``: the columns to read, ``key`` first (all of them unless told).
        """
        chosen = pd.DataFrame({"key": np.asarray(keys, dtype="int64")})
        products = _fetch(
            con,
            f"""
            WITH wanted AS (
                SELECT key FROM chosen
                UNION SELECT parent_key FROM products SEMI JOIN chosen USING (key)
                WHERE parent_key IS NOT NULL
            )
            SELECT {", ".join(columns)} FROM products SEMI JOIN wanted USING (key) ORDER BY key
            """,
            whole=True,
            chosen=chosen,
        )
        return _typed_products(products)

    def read_families(self, con: duckdb.DuckDBPyConnection, keys) -> pd.DataFrame:
        """The products with these keys, with their parents and all their parents' variants.

        A family (a parent with its variants, or a standalone product) is what a
        setting decides the visibility of: a batch needs only the families of its
        EANs. Typed as :meth:`read_products`.
        """
        chosen = pd.DataFrame({"key": np.asarray(keys, dtype="int64")})
        products = _fetch(
            con,
            f"""
            SELECT {", ".join(PRODUCT_COLUMNS)} FROM products
            WHERE coalesce(parent_key, key) IN (
                SELECT coalesce(p.parent_key, p.key) FROM products p SEMI JOIN chosen c
                ON c.key = p.key
            )
            ORDER BY key
            """,
            whole=True,
            chosen=chosen,
        )
        return _typed_products(products)

    def visibility(self, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        """Every product's ``key``, ``ean`` and ``visible``, as kept in the store."""
        return _typed_flags(_fetch(con, "SELECT key, ean, visible FROM products ORDER BY key"))

    def visibility_counts(self, con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
        """How many products there are, and how many of them the shop shows."""
        products, visible = con.execute(
            "SELECT count(*), coalesce(count_if(visible), 0) FROM products"
        ).fetchone()
        return int(products), int(visible)

    def judge(self, con: duckdb.DuckDBPyConnection, shop: bool) -> pd.DataFrame:
        """Every product's ``key``, ``ean`` and ``visible``, worked out afresh by the rule.

        What :meth:`visibility` keeps must always equal this; the tests check it.
        """
        return _typed_flags(_fetch(con, _judge_sql(shop) + " ORDER BY key"))

    def _judge(self, con: duckdb.DuckDBPyConnection) -> None:
        """Judge the visibility of every product again."""
        con.execute(
            f"""
            UPDATE products SET visible = judged.visible FROM ({_judge_sql(self.read_shop(con))})
            judged WHERE products.key = judged.key
            AND products.visible IS DISTINCT FROM judged.visible
            """
        )

    def _judge_families(self, con: duckdb.DuckDBPyConnection, owners) -> Flips:
        """Judge the visibility of these owners' families again; the keys it hid and showed."""
        owners_frame = pd.DataFrame(  # noqa: F841 - read by DuckDB below
            {"key": np.unique(np.asarray(owners, dtype="int64"))}
        )
        judged = _judge_sql(self.read_shop(con), "owners_frame")
        # What flips first, then only those rows updated: together quicker than an
        # UPDATE ... RETURNING, which DuckDB runs on one thread.
        flips = _fetch(
            con,
            f"SELECT judged.key, judged.visible FROM ({judged}) judged "
            "JOIN products p ON p.key = judged.key "
            "WHERE p.visible IS DISTINCT FROM judged.visible",
            owners_frame=owners_frame,
        )
        con.execute(
            "UPDATE products SET visible = flips.visible FROM flips WHERE products.key = flips.key"
        )
        key, visible = flips["key"].to_numpy("int64"), flips["visible"].to_numpy(bool)
        return Flips(hidden=np.sort(key[~visible]), shown=np.sort(key[visible]))

    def describe(self, con: duckdb.DuckDBPyConnection, keys) -> pd.DataFrame:
        """EAN, SKU, name, stock, role and parent of the products with these keys, by EAN.

        The same table as :func:`backorder_ops.visibility.describe_products`, read
        from the store.
        """
        chosen = pd.DataFrame({"key": np.asarray(keys, dtype="int64")})
        described = _fetch(
            con,
            """
            WITH chosen AS (
                SELECT p.key, p.ean, p.sku, p.name, p.stock, p.parent_key
                FROM products p SEMI JOIN chosen c ON c.key = p.key
            ), parents AS (
                SELECT DISTINCT v.parent_key AS key FROM products v
                SEMI JOIN chosen c ON c.key = v.parent_key
            )
            SELECT p.key, p.ean, p.sku, p.name, p.stock,
                   CASE WHEN p.key IN (SELECT key FROM parents) THEN 'parent'
                        WHEN p.parent_key IS NOT NULL THEN 'variant'
                        ELSE 'product' END AS role,
                   o.ean AS parent_ean, o.name AS parent_name
            FROM chosen p LEFT JOIN products o ON o.key = p.parent_key
            ORDER BY p.ean NULLS LAST, p.key
            """,
            chosen=chosen,
        )
        return described.astype(DESCRIBED_TYPES)

    def write_products(
        self, con: duckdb.DuckDBPyConnection, products: pd.DataFrame, *, merge: bool
    ) -> None:
        """Replace the catalog with ``products``, or upsert them with ``merge=True``."""
        frame = products[PRODUCT_COLUMNS]  # noqa: F841 - read by DuckDB below
        self._bump_revision(con)
        if not merge:
            # Judged on the way in: cheaper than updating every row after.
            con.execute("DELETE FROM products")
            con.execute(
                "INSERT INTO products BY NAME SELECT f.*, j.visible FROM frame f "
                f"JOIN ({_judge_sql(self.read_shop(con), table='frame')}) j ON j.key = f.key"
            )
            return
        # The families a merge touches: the ones its products belonged to before (a
        # variant may move to another parent) and the ones they belong to now.
        before = con.execute(
            "SELECT coalesce(parent_key, key) AS owner FROM products "
            "WHERE key IN (SELECT key FROM frame)"
        ).fetchnumpy()["owner"]
        con.execute(
            "INSERT INTO products BY NAME SELECT * FROM frame ON CONFLICT (key) DO UPDATE "
            "SET ean = excluded.ean, sku = excluded.sku, name = excluded.name, "
            "parent_key = excluded.parent_key, stock = excluded.stock, "
            "backorder_allowed = excluded.backorder_allowed"
        )
        now_owners = frame["parent_key"].fillna(frame["key"]).to_numpy(dtype="int64")
        self._judge_families(con, np.concatenate([before, now_owners]))

    def update_settings(self, con: duckdb.DuckDBPyConnection, changes: pd.DataFrame) -> Flips:
        """Set ``backorder_allowed`` from a frame of ``key`` and ``new_value``.

        Returns the keys of the products the change hid and showed.
        """
        frame = changes[["key", "new_value"]]  # noqa: F841 - read by DuckDB below
        self._bump_revision(con)
        con.execute(
            "UPDATE products SET backorder_allowed = frame.new_value "
            "FROM frame WHERE products.key = frame.key"
        )
        return self._judge_families(con, changes["key"].dropna())

    def read_shop(self, con: duckdb.DuckDBPyConnection | None = None) -> bool:
        """The shop setting "Producten kunnen bestellen wanneer deze niet op voorraad zijn"."""
        if con is None:
            with self.connect(read_only=True) as con:
                return self.read_shop(con)
        return bool(con.execute("SELECT sell_when_out_of_stock FROM shop").fetchone()[0])

    def write_shop(self, con: duckdb.DuckDBPyConnection, value: bool) -> None:
        """Set the shop setting."""
        self._bump_revision(con)
        con.execute("UPDATE shop SET sell_when_out_of_stock = ?, updated = ?", [bool(value), now()])
        self._judge(con)

    def revision(self, con: duckdb.DuckDBPyConnection) -> int:
        """A number that changes whenever the catalog or a setting is written."""
        row = con.execute("SELECT value FROM meta WHERE name = 'catalog_revision'").fetchone()
        return int(row[0]) if row else 0

    def _bump_revision(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "INSERT INTO meta VALUES ('catalog_revision', '1') ON CONFLICT (name) DO UPDATE "
            "SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)"
        )

    # -- history ---------------------------------------------------------------------

    def insert_batch(self, con: duckdb.DuckDBPyConnection, **record) -> int:
        """Insert a batch record and return its id."""
        record.setdefault("created", now())
        columns = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        return int(
            con.execute(
                f"INSERT INTO batches (id, {columns}) VALUES (nextval('batch_ids'), {marks}) "
                "RETURNING id",
                list(record.values()),
            ).fetchone()[0]
        )

    def update_batch(self, con: duckdb.DuckDBPyConnection, batch_id: int, **fields) -> None:
        """Change fields of a batch record."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        con.execute(f"UPDATE batches SET {assignments} WHERE id = ?", [*fields.values(), batch_id])

    def insert_batch_rows(
        self,
        con: duckdb.DuckDBPyConnection,
        batch_id: int,
        rows: pd.DataFrame,
        *,
        text: Future[bytes | None] | None = None,
    ) -> None:
        """Log the classified rows of a batch.

        Where the rows are numbered (a sheet's rows), their text (:data:`ROW_TEXT_COLUMNS`)
        is kept as one zstd-compressed Arrow block in ``batch_row_text``: DuckDB's own
        compression of that much text, when the file is checkpointed, costs several
        times more (0.2 s against 0.03 s for 100k rows) for a larger result.
        :meth:`read_batch` puts the text back. ``text`` is that block being made
        meanwhile by :func:`pack_row_text` (in a thread: it holds no lock of Python's).
        """
        frame = rows.reindex(columns=BATCH_ROW_COLUMNS).assign(batch_id=batch_id)
        block = text.result() if text is not None else pack_row_text(rows)
        if block is not None:
            con.execute("INSERT INTO batch_row_text VALUES (?, ?)", [batch_id, block])
            frame = frame.drop(columns=ROW_TEXT_COLUMNS)  # noqa: F841 - read by DuckDB below
        con.execute("INSERT INTO batch_rows BY NAME SELECT * FROM frame")

    def insert_batch_visibility(
        self,
        con: duckdb.DuckDBPyConnection,
        batch_id: int,
        hidden: pd.DataFrame,
        shown: pd.DataFrame,
    ) -> None:
        """Keep which products a batch made disappear (``hidden``) or reappear (``shown``)."""
        changes = pd.concat([hidden.assign(change="hidden"), shown.assign(change="visible")])
        frame = changes.reindex(columns=VISIBILITY_COLUMNS).assign(batch_id=batch_id)  # noqa: F841
        con.execute("INSERT INTO batch_visibility BY NAME SELECT * FROM frame")

    # -- the queue of background batches ---------------------------------------------

    def insert_batch_input(
        self, con: duckdb.DuckDBPyConnection, batch_id: int, rows: pd.DataFrame
    ) -> None:
        """Keep a queued batch's sheet rows (``row``, ``ean_given``, ``value_given``)."""
        frame = rows[["row", "ean_given", "value_given"]].assign(batch_id=batch_id)  # noqa: F841
        con.execute("INSERT INTO batch_input BY NAME SELECT * FROM frame")

    def read_batch_input(self, batch_id: int) -> pd.DataFrame:
        """A queued batch's sheet rows, in sheet order."""
        with self.connect(read_only=True) as con:
            rows = con.execute(
                'SELECT "row", ean_given, value_given FROM batch_input WHERE batch_id = ? '
                'ORDER BY "row"',
                [batch_id],
            ).df()
        return rows.astype({"row": "int64", "ean_given": "str", "value_given": "str"})

    def read_batch_record(self, batch_id: int) -> dict:
        """One batch's record (status, counts, progress, ...)."""
        with self.connect(read_only=True) as con:
            record = con.execute("SELECT * FROM batches WHERE id = ?", [batch_id]).df()
        if record.empty:
            raise NotFoundError(f"There is no batch {batch_id} in {self.path}.")
        return _record(record)

    def next_queued(self) -> int | None:
        """The oldest queued batch, if any."""
        with self.connect(read_only=True) as con:
            row = con.execute("SELECT min(id) FROM batches WHERE status = 'queued'").fetchone()
        return None if row[0] is None else int(row[0])

    def claim_batch(self, batch_id: int, *, pid: int, lease_seconds: float) -> int | None:
        """Mark a queued batch running for this worker; its attempt number, or None if taken."""
        with self.transaction() as con:
            row = con.execute(
                "UPDATE batches SET status = 'running', attempts = attempts + 1, started = ?, "
                "lease_until = ?, worker_pid = ?, progress_done = 0 "
                "WHERE id = ? AND status = 'queued' RETURNING attempts",
                [now(), later(lease_seconds), pid, batch_id],
            ).fetchone()
        return None if row is None else int(row[0])

    def report_progress(
        self, batch_id: int, attempt: int, done: int, total: int, *, lease_seconds: float
    ) -> None:
        """Store a running batch's progress and extend its lease."""
        with self.transaction() as con:
            con.execute(
                "UPDATE batches SET progress_done = ?, progress_total = ?, lease_until = ? "
                "WHERE id = ? AND attempts = ? AND status = 'running'",
                [done, total, later(lease_seconds), batch_id, attempt],
            )

    def finish_batch(
        self, con: duckdb.DuckDBPyConnection, batch_id: int, attempt: int, **fields
    ) -> bool:
        """End a running batch (inside the caller's transaction), if it is still ours."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        row = con.execute(
            f"UPDATE batches SET {assignments}, finished = ?, lease_until = NULL "
            "WHERE id = ? AND attempts = ? AND status = 'running' RETURNING id",
            [*fields.values(), now(), batch_id, attempt],
        ).fetchone()
        return row is not None

    def stale_batches(self) -> pd.DataFrame:
        """Batches left running past their lease (their worker died): id and attempts."""
        with self.connect(read_only=True) as con:
            return con.execute(
                "SELECT id, attempts, worker_pid FROM batches "
                "WHERE status = 'running' AND lease_until < ? ORDER BY id",
                [later(0)],  # to the microsecond, as leases are: now() is to the second
            ).df()

    def requeue_batch(self, batch_id: int, attempt: int, *, error: str | None = None) -> bool:
        """Put a stale running batch back in the queue, or fail it when ``error`` is given."""
        with self.transaction() as con:
            status = "failed" if error else "queued"
            row = con.execute(
                "UPDATE batches SET status = ?, error = ?, lease_until = NULL, "
                "finished = CASE WHEN ? = 'failed' THEN ? END "
                "WHERE id = ? AND attempts = ? AND status = 'running' RETURNING id",
                [status, error, status, now(), batch_id, attempt],
            ).fetchone()
        return row is not None

    # -- what reports and undo ask of the history ------------------------------------

    def shop_setting_before(self, con: duckdb.DuckDBPyConnection, batch_id: int) -> bool:
        """The shop setting just before a batch: the last shop change applied before it."""
        row = con.execute(
            "SELECT r.new_value FROM batch_rows r JOIN batches b ON b.id = r.batch_id "
            "WHERE r.key IS NULL AND r.status = 'applied' AND b.status = 'done' "
            "AND b.kind IN ('shop', 'undo') AND b.id < ? ORDER BY b.id DESC LIMIT 1",
            [batch_id],
        ).fetchone()
        return bool(row[0]) if row else False

    def first_change_after(self, con: duckdb.DuckDBPyConnection, batch_id: int) -> int | None:
        """The first later batch that changed the catalog or a setting, if any."""
        row = con.execute(
            "SELECT min(id) FROM batches WHERE id > ? AND status = 'done' "
            "AND (applied > 0 OR kind = 'load')",
            [batch_id],
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def later_setting_changes(
        self, con: duckdb.DuckDBPyConnection, batch_id: int, finished
    ) -> pd.Series:
        """The last later batch that changed each product's setting (the shop setting: key -1)."""
        finished = None if finished is None or pd.isna(finished) else pd.Timestamp(finished)
        finished = None if finished is None else finished.to_pydatetime()
        changes = con.execute(
            "SELECT coalesce(r.key, -1) AS key, max(r.batch_id) AS batch_id "
            "FROM batch_rows r JOIN batches b ON b.id = r.batch_id "
            "WHERE r.status = 'applied' AND b.status = 'done' AND b.id <> ? "
            "AND (b.id > ? OR (? IS NOT NULL AND b.finished > ?)) "
            "GROUP BY 1",
            [batch_id, batch_id, finished, finished],
        ).df()
        return pd.Series(
            changes["batch_id"].to_numpy(dtype="int64"),
            index=changes["key"].to_numpy(dtype="int64"),
        )

    def undone_by(self, con: duckdb.DuckDBPyConnection, batch_id: int) -> list[int]:
        """Undo batches of this batch that applied something."""
        found = con.execute(
            "SELECT id FROM batches WHERE undoes = ? AND status = 'done' AND applied > 0 "
            "ORDER BY id",
            [batch_id],
        ).fetchall()
        return [int(row[0]) for row in found]

    def list_batches(self, *, limit: int | None = None) -> pd.DataFrame:
        """Batches, most recent first."""
        with self.connect(read_only=True) as con:
            sql = "SELECT * FROM batches ORDER BY id DESC"
            if limit:
                sql += f" LIMIT {int(limit)}"
            return con.execute(sql).df()

    def read_batch(self, batch_id: int) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
        """One batch: its record, its row log and its visibility changes."""
        with self.connect(read_only=True) as con:
            record = con.execute("SELECT * FROM batches WHERE id = ?", [batch_id]).df()
            if record.empty:
                raise NotFoundError(f"There is no batch {batch_id} in {self.path}.")
            rows = con.execute(
                f"SELECT {_ROW_SELECT} FROM batch_rows "
                'WHERE batch_id = ? ORDER BY "row" NULLS FIRST',
                [batch_id],
            ).df()
            text = con.execute(
                "SELECT data FROM batch_row_text WHERE batch_id = ?", [batch_id]
            ).fetchone()
            if text is not None:
                rows = _unpack_text(rows, text[0])
            changes = con.execute(
                f"SELECT {', '.join(VISIBILITY_COLUMNS)} FROM batch_visibility "
                "WHERE batch_id = ? ORDER BY change, ean",
                [batch_id],
            ).df()
        return _record(record), rows, changes


def pack_row_text(rows: pd.DataFrame) -> bytes | None:
    """The row numbers and text columns of a row log, as a compressed Arrow stream; None
    unless the rows are numbered, each once (they are then logged as they are)."""
    rows = rows.reindex(columns=["row", *ROW_TEXT_COLUMNS])
    numbers = rows["row"]
    if not len(rows) or numbers.isna().any() or not numbers.is_unique:
        return None
    table = pa.table(
        {"row": pa.array(numbers.to_numpy(dtype="int64"))}
        | {
            name: pa.array(rows[name].astype("str"), type=pa.large_string())
            for name in ROW_TEXT_COLUMNS
        }  # fmt: skip
    )
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _unpack_text(rows: pd.DataFrame, data: bytes) -> pd.DataFrame:
    """``rows`` of a row log with their text put back from :func:`pack_row_text`'s block."""
    text = pa.ipc.open_stream(data).read_all()
    at = pd.Index(text["row"].to_numpy()).get_indexer(rows["row"].to_numpy(dtype="int64"))
    if (at < 0).any():
        raise DatabaseError("The text of a batch's row log does not match its rows.")
    at = pa.array(at)
    return rows.assign(
        **{name: pd.array(text[name].take(at), dtype="str") for name in ROW_TEXT_COLUMNS}
    )


def _fetch(
    con: duckdb.DuckDBPyConnection, sql: str, *, whole: bool = False, **frames: pd.DataFrame
) -> pd.DataFrame:
    """A query's result as a DataFrame, by way of Arrow: several times faster than
    ``.df()`` for text columns. ``frames`` are the DataFrames the query reads, by name.

    DuckDB hands a result over in pieces of about 120k rows; with ``whole``, each
    column is put in one piece, as products are looked up by position many times
    over (classifying a batch) and Arrow's take from pieces copies twice.
    """
    # DuckDB 2 streams results: one left half-read (a fetchone) blocks con.sql() and
    # register(). Executing and reading a trivial query closes it.
    con.execute("SELECT 1").fetchall()
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        table = con.sql(sql).to_arrow_table()
    finally:
        for name in frames:
            con.unregister(name)
    table = table.combine_chunks() if whole else table
    # Integer columns with NULLs stay integers (Int64), not floats.
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def _judge_sql(shop: bool, owners: str | None = None, table: str = "products") -> str:
    """A query of ``key``, ``ean`` and ``visible`` by the rule, for all or some owners.

    The rule is :func:`backorder_ops.rules.is_visible` itself, turned into a SQL
    expression; this only applies it to units and takes the OR over a parent's
    variants, as :func:`~backorder_ops.rules.compute_visibility` does. With
    ``owners`` (a table of ``key``), only those owners' families are judged; ``table``
    is where the products are read from.
    """
    rule = is_visible(
        duckdb.ColumnExpression("stock"),
        duckdb.ColumnExpression("owner_backorder"),
        duckdb.ConstantExpression(bool(shop)),
    )
    where = f"WHERE coalesce(p.parent_key, p.key) IN (SELECT key FROM {owners})" if owners else ""
    return f"""
        WITH units AS (
            SELECT p.key, p.ean, p.parent_key,
                   coalesce(o.backorder_allowed, false) AS owner_backorder, p.stock
            FROM {table} p LEFT JOIN {table} o ON o.key = coalesce(p.parent_key, p.key)
            {where}
        ), judged AS (
            SELECT key, ean, parent_key, {rule} AS visible FROM units
        ), parents AS (
            SELECT parent_key AS key, bool_or(visible) AS visible
            FROM judged WHERE parent_key IS NOT NULL GROUP BY parent_key
        )
        SELECT j.key, j.ean, coalesce(p.visible, j.visible) AS visible
        FROM judged j LEFT JOIN parents p ON p.key = j.key
    """


def _typed_flags(flags: pd.DataFrame) -> pd.DataFrame:
    return flags.astype({"key": "int64", "ean": "str", "visible": "bool"})


#: The types of the product columns, as the store reads them.
PRODUCT_TYPES = {
    "key": "int64",
    "ean": "str",
    "sku": "str",
    "name": "str",
    "parent_key": "Int64",
    "stock": "int64",
    "backorder_allowed": "bool",
}


def _typed_products(products: pd.DataFrame) -> pd.DataFrame:
    # DuckDB gives Int64 where a column has NULLs and int64 where not: fix one set.
    return products.astype({name: PRODUCT_TYPES[name] for name in products.columns})


def _record(frame: pd.DataFrame) -> dict:
    record = frame.iloc[0].to_dict()
    return {k: (None if pd.isna(v) else v) for k, v in record.items()}


def later(seconds: float) -> datetime:
    """The local time this many seconds from now (a lease's end)."""
    return datetime.now() + timedelta(seconds=seconds)


def now() -> datetime:
    """The current local time, to the second, as stored in the history."""
    return datetime.now().replace(microsecond=0)
