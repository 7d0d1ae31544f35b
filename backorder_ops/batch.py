"""The batch "Product Backorder": read a sheet, classify its rows, preview, apply.

RULES sections 3 and 4. Classification is vectorised: one pass of column
operations over all rows, no Python loop over the data.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import ean as ean_mod
from .errors import StructureError
from .reading import Grid, find_columns, read_grid, read_text
from .store import Store
from .values import ACCEPTED, parse_flags
from .visibility import as_store, lookup, visibility_changes

SYNONYMS = {
    "ean": {"ean", "ean-code", "ean code", "gtin", "barcode"},
    "value": {
        "backorder toegestaan",
        "backorders toegestaan",
        "backorder allowed",
        "backorders allowed",
        "backorder",
    },
}
LABELS = {"ean": "EAN", "value": "Backorder toegestaan?"}
DESCRIBE = "two columns: 'EAN' and 'Backorder toegestaan?' (1/ja or 0/nee)"

STATUSES = ("applied", "unchanged", "rejected")
#: Reasons a row is rejected, in the order in which they win (RULES section 4).
REASONS = (
    "missing_ean",
    "invalid_ean",
    "unknown_ean",
    "variant_not_allowed",
    "missing_value",
    "invalid_value",
    "conflicting_duplicate",
)
BATCH_STATUSES = ("queued", "running", "done", "failed", "refused")
#: Rows matched per step of a batch, between two progress reports.
CHUNK_ROWS = int(os.environ.get("BACKORDER_OPS_CHUNK_ROWS", 20_000))

#: ``progress(done, total)``: rows done out of rows in the batch.
Progress = Callable[[int, int], None]

#: The classified rows of a batch sheet: one status per row, a reason iff rejected.
ROWS_SCHEMA = pa.DataFrameSchema(
    {
        "row": pa.Column("int64", pa.Check.ge(1), unique=True),
        "ean_given": pa.Column("str", nullable=True),
        "ean": pa.Column("str", nullable=True),
        "key": pa.Column("Int64", nullable=True),
        "value_given": pa.Column("str", nullable=True),
        "value": pa.Column("boolean", nullable=True),
        "old_value": pa.Column("boolean", nullable=True),
        "new_value": pa.Column("boolean", nullable=True),
        "status": pa.Column("str", pa.Check.isin(STATUSES)),
        "reason": pa.Column("str", pa.Check.isin(REASONS), nullable=True),
        "message": pa.Column("str"),
    },
    checks=[
        pa.Check(
            lambda df: (df["status"] == "rejected") == df["reason"].notna(),
            name="reason_iff_rejected",
        ),
        pa.Check(
            lambda df: (df["status"] != "applied") | (df["old_value"] != df["new_value"]),
            name="applied_changes_value",
        ),
    ],
    strict=True,
    name="classified batch rows",
)

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass
class BatchSheet:
    """The rows of a batch sheet: EAN and value cells as text, indexed by row number."""

    rows: pd.DataFrame  # ean_given, value_given; index "row"
    grid: Grid
    fields: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.grid.source

    def __len__(self) -> int:
        return len(self.rows)


def read_sheet(
    source: str | os.PathLike | bytes | pd.DataFrame | None = None,
    *,
    text: str | None = None,
    sheet: str | None = None,
    name: str | None = None,
) -> BatchSheet:
    """Read a "Product Backorder" batch sheet from a file, file bytes, a frame or pasted text.

    >>> read_sheet(text="EAN\\tBackorder toegestaan?\\n8712345678906\\tja\\n").rows
    ... # doctest: +NORMALIZE_WHITESPACE
                  ean_given value_given
    row
    2         8712345678906          ja
    """
    if text is not None:
        grid = read_text(text, name=name or "pasted text")
    elif source is None:
        raise TypeError("read_sheet() needs a source or text=")
    else:
        grid = read_grid(source, sheet=sheet, name=name)
    columns = find_columns(
        grid,
        SYNONYMS,
        key_field="ean",
        required=("ean", "value"),
        header_required=False,
        describe=DESCRIBE,
        labels=LABELS,
    )
    rows = columns.rows.rename(columns={"ean": "ean_given", "value": "value_given"})
    # Rows with neither an EAN nor a value carry nothing to do (a remark at most).
    rows = rows[rows["ean_given"].notna() | rows["value_given"].notna()]
    warnings = []
    if columns.ignored:
        warnings.append("Ignored columns: " + ", ".join(columns.ignored) + ".")
    return BatchSheet(rows=rows, grid=grid, fields=columns.fields, warnings=warnings)


def classify_rows(
    sheet: BatchSheet,
    products: pd.DataFrame,
    *,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
) -> pd.DataFrame:
    """Give every row of the sheet one status, a reason when rejected, and a message.

    ``products`` is the catalog as :meth:`Store.read_products` returns it. The
    result follows :data:`ROWS_SCHEMA`, one line per sheet row, in sheet order.
    ``progress(done, total)`` is called as rows are matched, a chunk at a time.
    """
    rows = sheet.rows
    index = rows.index
    catalog = products.set_index("key")[["ean", "name", "parent_key", "backorder_allowed"]]
    # Each row's EAN, value and product are worked out a chunk of rows at a time
    # (vectorised within a chunk) so that a long batch can report progress;
    # duplicates and statuses need all rows and are decided after.
    parts = []
    chunk_rows = chunk_rows or CHUNK_ROWS
    for start in range(0, len(rows), chunk_rows):
        part = rows.iloc[start : start + chunk_rows]
        part_eans = ean_mod.normalise_eans(part["ean_given"])
        part_value, part_problem = parse_flags(part["value_given"])
        parts.append((part_eans, part_value, part_problem))
        if progress is not None:
            progress(min(start + chunk_rows, len(rows)), len(rows))
    if parts:
        eans = pd.concat([p[0] for p in parts])
        value = pd.concat([p[1] for p in parts])
        value_problem = pd.concat([p[2] for p in parts])
    else:
        eans = ean_mod.normalise_eans(rows["ean_given"])
        value, value_problem = parse_flags(rows["value_given"])
    match = eans[["key"]].join(catalog, on="key")
    found = match["ean"].notna()
    is_variant = found & match["parent_key"].notna()

    conditions = [
        eans["problem"] == ean_mod.EMPTY,
        eans["problem"].notna(),
        ~found,
        is_variant,
        value_problem == "missing",
        value_problem == "invalid",
    ]
    reason = pd.Series(
        np.select([c.fillna(False).to_numpy(dtype=bool) for c in conditions], REASONS[:6], ""),
        index=index,
        dtype="str",
    ).replace("", pd.NA)
    candidate = reason.isna()
    key = eans["key"]
    distinct = value[candidate].astype("int8").groupby(key[candidate]).transform("nunique")
    conflict = pd.Series(False, index=index)
    conflict[candidate] = (distinct > 1).to_numpy()
    reason = reason.mask(conflict, "conflicting_duplicate")
    candidate &= ~conflict

    current = match["backorder_allowed"].astype("boolean")
    first = candidate & ~(key.where(candidate).duplicated(keep="first") & candidate)
    applied = first & (value != current).fillna(False).astype(bool)
    status = pd.Series("rejected", index=index, dtype="str")
    status = status.mask(candidate, "unchanged").mask(applied, "applied")

    parent_of = lookup(catalog[["ean", "name"]], match["parent_key"])
    classified = pd.DataFrame(
        {
            "row": index.to_numpy(dtype="int64"),
            "ean_given": rows["ean_given"],
            "ean": match["ean"].fillna(eans["text"]).astype("str"),
            "key": key.where(found),
            "value_given": rows["value_given"],
            "value": value,
            "old_value": current.where(found & ~is_variant),
            "new_value": value.where(candidate),
            "status": status,
            "reason": reason,
        },
        index=index,
    )
    classified["message"] = _messages(
        classified, sheet, eans, match, parent_of, value_problem, first
    )
    classified = classified.reset_index(drop=True)
    return ROWS_SCHEMA.validate(classified)


def _messages(rows, sheet, eans, match, parent_of, value_problem, first) -> pd.Series:
    """One sentence per row, from the template of its case, built for those rows only."""
    setting = "'Backorders toegestaan'"
    yes_no = {True: "ja", False: "nee"}
    case = rows["reason"].fillna(rows["status"])
    unchanged = case == "unchanged"
    case = case.mask(unchanged & first, "already").mask(unchanged & ~first, "repeat")
    # The row where each product first appears, for repeats.
    first_row = rows["row"].where(first).groupby(rows["key"]).transform("first")

    def named(f):
        return f["ean"] + (" (" + f["name"] + ")").fillna("")

    def conflict_rows(f):
        # All rows of the same product, for each conflicting row.
        return f.groupby("key")["row"].transform(lambda s: ", ".join(map(str, s)))

    def ean_cell(f):
        return sheet.grid.cell_names(sheet.fields["ean"], f["row"])

    def value_cell(f):
        return sheet.grid.cell_names(sheet.fields["value"], f["row"])

    templates = {
        "applied": lambda f: (
            setting + " changes from " + f["old_value"].map(yes_no).astype("str") + " to "
            + f["value"].map(yes_no).astype("str") + " for " + named(f) + "."
        ),
        "already": lambda f: (
            named(f) + " already has " + setting + " = " + f["value"].map(yes_no).astype("str")
            + "; nothing changes."
        ),
        "repeat": lambda f: (
            "repeats row " + f["first_row"].astype("Int64").astype("str") + " for " + named(f)
            + " with the same value; nothing more changes."
        ),
        "missing_ean": lambda f: (
            "the EAN (" + ean_cell(f) + ") is empty while a value is filled in."
        ),
        "invalid_ean": lambda f: (
            "the EAN '" + f["text"] + "' (" + ean_cell(f) + ") "
            + f["problem"].map(ean_mod.describe_problem).astype("str") + "."
        ),
        "unknown_ean": lambda f: (
            "no product in the catalog has EAN '" + f["text"] + "' (" + ean_cell(f) + ")."
        ),
        "variant_not_allowed": lambda f: (
            named(f) + " is a variant; " + setting + " can only be set on parent products. "
            "Use the parent's EAN " + f["parent_ean"]
            + (" (" + f["parent_name"] + ")").fillna("") + " instead."
        ),
        "missing_value": lambda f: (
            "the value (" + value_cell(f) + ") is empty; fill in " + ACCEPTED + "."
        ),
        "invalid_value": lambda f: (
            "'" + f["value_given"] + "' (" + value_cell(f) + ") is not a valid value; use "
            + ACCEPTED + "."
        ),
        "conflicting_duplicate": lambda f: (
            named(f) + " appears on rows " + conflict_rows(f) + " with different values; "
            "none of these rows is applied, as it is not clear which one was meant."
        ),
    }  # fmt: skip
    facts = pd.DataFrame(
        {
            "row": rows["row"],
            "key": rows["key"],
            "ean": rows["ean"],
            "name": match["name"].astype("str"),
            "value": rows["value"],
            "old_value": rows["old_value"],
            "value_given": rows["value_given"].astype("str"),
            "text": eans["text"].fillna(""),
            "problem": eans["problem"],
            "parent_ean": parent_of["ean"].astype("str"),
            "parent_name": parent_of["name"].astype("str"),
            "first_row": first_row,
        }
    )
    message = pd.Series(pd.NA, index=rows.index, dtype="str")
    for name, template in templates.items():
        chosen = case == name
        if chosen.any():
            message[chosen] = template(facts[chosen]).to_numpy()
    # A match found only once the zeros Excel dropped were put back is worth a word.
    restored = rows["key"].notna() & (eans["digits"].str.len() < rows["ean"].str.len()).fillna(
        False
    ).astype(bool)
    if restored.any():
        message[restored] = (
            message[restored] + " (EAN '" + facts.loc[restored, "text"] + "' matched "
            + rows.loc[restored, "ean"] + " after restoring the leading zeros that Excel dropped.)"
        ).to_numpy()  # fmt: skip
    return "Row " + rows["row"].astype("str") + ": " + message


@dataclass
class BatchResult:
    """A classified batch: the rows, what disappears and reappears, and its outcome."""

    rows: pd.DataFrame
    newly_hidden: pd.DataFrame
    newly_visible: pd.DataFrame
    source: str
    status: str
    reference: str | None = None
    strict: bool = False
    batch_id: int | None = None
    notify: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    notify_status: str | None = None  # pending, sent, written, failed
    notify_detail: str | None = None  # where the mail went, or why it failed
    rows_waiting: int | None = None  # rows of a queued or running batch, not yet classified

    @property
    def rejected(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "rejected"]

    def summary(self) -> dict:
        counts = self.rows["status"].value_counts()
        rows = len(self.rows) if self.rows_waiting is None else self.rows_waiting
        return {"rows": rows} | {s: int(counts.get(s, 0)) for s in STATUSES}

    def to_json(self) -> dict:
        """The object of RULES section 5."""
        rows = self.rows[["row", "ean", "value", "status", "reason", "message"]]
        return {
            "batch": {"id": self.batch_id, "reference": self.reference, "status": self.status},
            "summary": self.summary(),
            "rows": json.loads(rows.to_json(orient="records")),
            "visibility": {
                "newly_hidden": sorted(self.newly_hidden["ean"].tolist()),
                "newly_visible": sorted(self.newly_visible["ean"].tolist()),
            },
            "warnings": list(self.warnings),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        parts = [
            f"<p><b>{html.escape(self.source)}</b> — {self.status}: {s['rows']} rows, "
            f"{s['applied']} applied, {s['unchanged']} unchanged, {s['rejected']} rejected; "
            f"{len(self.newly_hidden)} products disappear, {len(self.newly_visible)} reappear."
            "</p>"
        ]
        for title, frame in (
            ("Rejected rows", self.rejected[["row", "ean", "reason", "message"]]),
            ("Disappear", self.newly_hidden.drop(columns="key")),
            ("Reappear", self.newly_visible.drop(columns="key")),
        ):
            if not frame.empty:
                parts.append(f"<h4>{title}</h4>" + frame.head(200).to_html(index=False))
        return "".join(parts)


def evaluate(
    sheet: BatchSheet,
    products: pd.DataFrame,
    shop: bool,
    *,
    strict: bool = False,
    progress: Progress | None = None,
) -> BatchResult:
    """Classify a sheet against a catalog and work out what the batch would flip."""
    rows = classify_rows(sheet, products, progress=progress)
    refused = strict and bool((rows["status"] == "rejected").any())
    changes = rows.loc[rows["status"] == "applied", ["key", "new_value"]]
    if refused or changes.empty:
        hidden, shown = visibility_changes(products, shop, products.iloc[:0], shop)
        hidden, shown = hidden.iloc[:0], shown.iloc[:0]
    else:
        after = products.copy()
        new = changes.set_index(changes["key"].astype("int64"))["new_value"].astype(bool)
        hit = after["key"].isin(new.index)
        after.loc[hit, "backorder_allowed"] = after.loc[hit, "key"].map(new).to_numpy()
        hidden, shown = visibility_changes(products, shop, after, shop)
    warnings = list(sheet.warnings)
    if refused:
        warnings.append(
            f"Strict mode: {int((rows['status'] == 'rejected').sum())} rejected row(s), so the "
            "whole batch is refused and nothing is applied."
        )
    return BatchResult(
        rows=rows,
        newly_hidden=hidden,
        newly_visible=shown,
        source=sheet.source,
        status="refused" if refused else "done",
        strict=strict,
        warnings=warnings,
    )


def check_address(address: str | None) -> str | None:
    """Validate an e-mail address for "Stuur mij een mail wanneer de taak is volbracht"."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    if not _EMAIL.fullmatch(address):
        raise StructureError(
            f"'{address}' is not an e-mail address; give one like naam@voorbeeld.nl."
        )
    return address


def preview_batch(
    sheet: BatchSheet | str | os.PathLike | bytes | pd.DataFrame,
    *,
    db: Store | str | None = None,
    strict: bool = False,
    reference: str | None = None,
) -> BatchResult:
    """Classify a batch and show what it would make disappear; writes nothing.

    >>> result = preview_batch("data/sample/batch_week49.xlsx", db="data/demo.duckdb")
    ... # doctest: +SKIP
    >>> result.newly_hidden[["ean", "name", "stock"]]  # doctest: +SKIP
    """
    sheet = sheet if isinstance(sheet, BatchSheet) else read_sheet(sheet)
    store = as_store(db)
    with store.connect(read_only=True) as con:
        products = store.read_products(con)
        shop = store.read_shop(con)
    result = evaluate(sheet, products, shop, strict=strict)
    result.reference = reference
    return result


def counts_of(result: BatchResult) -> dict:
    s = result.summary()
    return {
        "rows_total": s["rows"],
        "applied": s["applied"],
        "unchanged": s["unchanged"],
        "rejected": s["rejected"],
        "newly_hidden": len(result.newly_hidden),
        "newly_visible": len(result.newly_visible),
    }


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in ROWS_SCHEMA.columns})


def no_products() -> pd.DataFrame:
    return pd.DataFrame(columns=["key", "ean", "sku", "name", "stock", "role", "parent_ean",
                                 "parent_name"])  # fmt: skip
