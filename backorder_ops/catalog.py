"""Product exports: reading, validating (pandera) and loading them into the store.

RULES section 6. Problems inside the file are rows of a :class:`LoadReport`; a
file that cannot be used at all raises :class:`~backorder_ops.errors.StructureError`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

from . import ean as ean_mod
from .reading import find_columns, read_grid
from .store import Store
from .values import parse_flags

SYNONYMS = {
    "ean": {"ean", "ean-code", "ean code", "gtin", "barcode"},
    "sku": {"sku", "artikelnummer"},
    "name": {"naam", "name", "titel", "title", "productnaam"},
    "parent_ean": {"parent ean", "parent", "hoofdproduct", "hoofdproduct ean"},
    "stock": {"voorraad", "stock", "quantity"},
    "backorder_allowed": {
        "backorders toegestaan",
        "backorder toegestaan",
        "backorder allowed",
        "backorders allowed",
    },
}
LABELS = {
    "ean": "EAN",
    "sku": "SKU",
    "name": "Naam",
    "parent_ean": "Parent EAN",
    "stock": "Voorraad",
    "backorder_allowed": "Backorders toegestaan",
}
DESCRIBE = "a header row with at least 'EAN' and 'Voorraad' (stock)"

_FIELD_OF_CODE = {
    "invalid_ean": "ean",
    "duplicate_ean": "ean",
    "invalid_stock": "stock",
    "invalid_parent": "parent_ean",
    "parent_not_found": "parent_ean",
    "parent_is_variant": "parent_ean",
    "invalid_backorder": "backorder_allowed",
    "has_variants": "parent_ean",
}

#: Codes of problems that refuse a load, in the order they are reported per row.
CODES = {
    "invalid_ean": "the EAN {value!r} {detail}",
    "duplicate_ean": "EAN {value!r} appears on rows {detail}",
    "invalid_stock": "the stock {value!r} is not a whole number",
    "invalid_parent": "the parent EAN {value!r} {detail}",
    "parent_not_found": "the parent EAN {value!r} is not a product in the file",
    "parent_is_variant": "the parent EAN {value!r} is itself a variant",
    "parent_rejected": "the parent product {value!r} is rejected, so this variant is too",
    "invalid_backorder": "the backorder value {value!r} is not one of 1/ja, 0/nee",
    "has_variants": (
        "the product has variants in the catalog, so it cannot become a variant of {value!r}"
    ),
}


def catalog_schema(parents: pd.Series) -> pa.DataFrameSchema:
    """The pandera schema of a normalised product export.

    ``parents`` maps every product key a variant may point at to that product's
    own parent key (``<NA>`` for a parent product). Each check is named by the
    problem code it reports, so that failures translate one to one.
    """
    return pa.DataFrameSchema(
        {
            "key": pa.Column(
                "Int64",
                nullable=True,
                checks=pa.Check(lambda s: s.notna(), name="invalid_ean", ignore_na=False),
            ),
            "stock": pa.Column(
                "Int64",
                nullable=True,
                checks=pa.Check(lambda s: s.notna(), name="invalid_stock", ignore_na=False),
            ),
            "parent_ok": pa.Column(bool, checks=pa.Check(lambda s: s, name="invalid_parent")),
            "parent_key": pa.Column(
                "Int64",
                nullable=True,
                checks=[
                    pa.Check(lambda s: s.isin(parents.index), name="parent_not_found"),
                    pa.Check(
                        lambda s: s.map(parents).isna().astype(bool), name="parent_is_variant"
                    ),
                ],
            ),
            "backorder_ok": pa.Column(bool, checks=pa.Check(lambda s: s, name="invalid_backorder")),
            "nesting_ok": pa.Column(bool, checks=pa.Check(lambda s: s, name="has_variants")),
        },
        checks=pa.Check(
            lambda df: ~df["key"].duplicated(keep=False).astype(bool) | df["key"].isna(),
            name="duplicate_ean",
        ),
        name="product export",
    )


@dataclass
class LoadReport:
    """What a load did or would do: the counts, the rejected rows and warnings."""

    source: str
    status: str  # done or refused
    rows: int
    loaded: int
    issues: pd.DataFrame  # row, column, cell, code, message
    warnings: list[str] = field(default_factory=list)
    merge: bool = False
    visible: int = 0
    hidden: int = 0

    @property
    def valid(self) -> bool:
        return self.issues.empty

    def summary(self) -> dict:
        return {
            "rows": self.rows,
            "loaded": self.loaded,
            "rejected": int(self.issues["row"].nunique()) if not self.issues.empty else 0,
            "visible": self.visible,
            "hidden": self.hidden,
        }

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "status": self.status,
            "mode": "merge" if self.merge else "replace",
            "summary": self.summary(),
            "issues": json.loads(self.issues.to_json(orient="records")),
            "warnings": self.warnings,
        }

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>{html.escape(self.source)}</b>: {self.status}, {self.loaded} of "
            f"{self.rows} rows loaded.</p>"
        )
        return head + (self.issues.to_html(index=False) if not self.issues.empty else "")


def read_catalog(
    source, *, sheet: str | None = None, name: str | None = None, known: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], str]:
    """Read and validate a product export.

    Returns ``(products, issues, warnings, source_name)``: ``products`` holds the
    valid rows in store form; ``issues`` one line per problem with the row number
    as the user sees it. ``known`` are products already in the store, used by a
    merge to resolve parents that are not in the file.
    """
    grid = read_grid(source, sheet=sheet, name=name)
    columns = find_columns(
        grid,
        SYNONYMS,
        key_field="ean",
        required=("ean", "stock"),
        header_required=True,
        describe=DESCRIBE,
        labels=LABELS,
    )
    raw = columns.rows.reindex(columns=list(SYNONYMS))
    warnings = []
    if columns.ignored:
        warnings.append("Ignored columns: " + ", ".join(columns.ignored) + ".")

    eans = ean_mod.normalise_eans(raw["ean"], catalog=True)
    parents = ean_mod.normalise_eans(raw["parent_ean"], catalog=True)
    stock_num = pd.to_numeric(raw["stock"].str.replace(",", ".", regex=False), errors="coerce")
    whole = stock_num.notna() & (stock_num % 1 == 0)
    flags, flag_problem = parse_flags(raw["backorder_allowed"])

    frame = pd.DataFrame(
        {
            "key": eans["key"],
            "ean": eans["digits"].where(eans["problem"].isna()),
            "sku": raw["sku"],
            "name": raw["name"],
            "parent_key": parents["key"],
            "stock": stock_num.where(whole).astype("Float64").astype("Int64"),
            "backorder_allowed": flags.fillna(False),
        },
        index=raw.index,
    )

    # Parents may be products in the file or, merging, already in the store.
    pool = frame.loc[frame["key"].notna(), ["key", "parent_key"]].drop_duplicates("key")
    if known is not None and not known.empty:
        pool = pd.concat([known[["key", "parent_key"]], pool]).drop_duplicates("key", keep="last")
    checked = frame.assign(
        parent_ok=raw["parent_ean"].isna() | parents["problem"].isna(),
        backorder_ok=(flag_problem != "invalid").fillna(True).astype(bool),
        # Merging: a product with variants in the store cannot become a variant itself.
        nesting_ok=~(frame["parent_key"].notna() & frame["key"].isin(_stored_parents(known, frame)))
        .fillna(False)
        .astype(bool),
    )
    try:
        catalog_schema(pool.set_index("key")["parent_key"]).validate(checked, lazy=True)
        issues = _no_problems()
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases.dropna(subset=["index"])
        issues = pd.DataFrame(
            {
                "row": cases["index"].astype("int64"),
                "code": cases["check"].astype("str"),
            }
        ).drop_duplicates()
        issues["field"] = issues["code"].map(_FIELD_OF_CODE)
        issues["detail"] = ""
        problem_of = {"invalid_ean": eans["problem"], "invalid_parent": parents["problem"]}
        for code, problem in problem_of.items():
            mask = issues["code"] == code
            issues.loc[mask, "detail"] = (
                problem.reindex(issues.loc[mask, "row"])
                .fillna(ean_mod.EMPTY)
                .map(ean_mod.describe_problem)
                .to_numpy()
            )
    issues = _describe(issues, raw, eans, grid, columns.fields)

    is_variant = frame["parent_key"].notna()
    ignored = is_variant & flags.fillna(False).astype(bool)
    if ignored.any():
        rows = ", ".join(map(str, ignored[ignored].index[:10]))
        more = "" if ignored.sum() <= 10 else f" and {int(ignored.sum()) - 10} more"
        warnings.append(
            f"{int(ignored.sum())} variant(s) have 'Backorders toegestaan' filled in (row(s) "
            f"{rows}{more}); variants follow their parent, so it is ignored."
        )
    frame["backorder_allowed"] = frame["backorder_allowed"].astype(bool) & ~is_variant
    good = frame.drop(index=issues["row"].unique())
    # A variant whose parent row was rejected cannot be loaded either.
    reachable = pool["key"][pool["key"].isin(good["key"])]
    if known is not None and not known.empty:
        reachable = pd.concat([reachable, known["key"]])
    orphan = good["parent_key"].notna() & ~good["parent_key"].isin(reachable)
    if orphan.any():
        rows = orphan[orphan].index
        orphans = pd.DataFrame(
            {"row": rows, "field": "parent_ean", "code": "parent_rejected", "detail": ""}
        )
        issues = pd.concat(
            [issues, _describe(orphans, raw, eans, grid, columns.fields)], ignore_index=True
        )
        good = good.drop(index=rows)
    products = good.astype({"key": "int64", "stock": "int64", "ean": "str"})
    return products.reset_index(drop=True), issues, warnings, grid.source


def _stored_parents(known: pd.DataFrame | None, frame: pd.DataFrame) -> pd.Series:
    """Keys of stored products that have stored variants the file does not redefine."""
    if known is None or known.empty:
        return pd.Series(dtype="Int64")
    kept = known[~known["key"].isin(frame["key"].dropna())]
    return kept["parent_key"].dropna()


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series(dtype="int64"),
            "field": pd.Series(dtype="str"),
            "code": pd.Series(dtype="str"),
            "detail": pd.Series(dtype="str"),
        }
    )


def _describe(issues, raw, eans, grid, fields) -> pd.DataFrame:
    """Add the cell and a message to each issue (vectorised per code)."""
    if issues.empty:
        return issues.assign(cell=pd.Series(dtype="str"), message=pd.Series(dtype="str"))[
            ["row", "field", "cell", "code", "message"]
        ]
    issues = issues.sort_values(["row", "code"], kind="stable").reset_index(drop=True)
    col = issues["field"].map(fields)
    cell = [grid.cell_name(int(c), int(r)) for c, r in zip(col, issues["row"], strict=True)]
    issues["cell"] = cell
    value = pd.Series(
        [raw.at[r, f] for r, f in zip(issues["row"], issues["field"], strict=True)],
        dtype="str",
    ).fillna("")
    # The rows each duplicate shares its EAN with.
    dup = issues["code"] == "duplicate_ean"
    if dup.any():
        keys = eans["key"]
        groups = keys[issues.loc[dup, "row"].to_numpy()]
        rows_by_key = (
            keys[keys.isin(groups.dropna())]
            .reset_index()
            .groupby("key")["row"]
            .agg(lambda r: ", ".join(map(str, r)))
        )
        issues.loc[dup, "detail"] = groups.map(rows_by_key).to_numpy()
    templates = issues["code"].map(CODES)
    issues["message"] = [
        f"Row {r}, {c}: " + t.format(value=v, detail=d) + "."
        for r, c, t, v, d in zip(
            issues["row"], issues["cell"], templates, value, issues["detail"], strict=True
        )
    ]
    return issues[["row", "field", "cell", "code", "message"]]


def load_catalog(
    source,
    *,
    db: Store | str | None = None,
    merge: bool = False,
    skip_invalid: bool = False,
    sheet: str | None = None,
    name: str | None = None,
) -> LoadReport:
    """Load a product export into the store (RULES section 6).

    By default the catalog is replaced (an export is a snapshot); ``merge=True``
    inserts and updates the given rows only. Any invalid row refuses the whole load
    (nothing changes) unless ``skip_invalid=True``, which loads the valid rows.

    >>> report = load_catalog("data/sample/catalogus.xlsx", db="data/demo.duckdb")  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    """
    store = db if isinstance(db, Store) else Store(db)
    known = store.read_products() if merge else None
    products, issues, warnings, label = read_catalog(source, sheet=sheet, name=name, known=known)
    rows = len(products) + int(issues["row"].nunique()) if not issues.empty else len(products)
    report = LoadReport(
        source=label,
        status="done",
        rows=rows,
        loaded=len(products),
        issues=issues,
        warnings=warnings,
        merge=merge,
    )
    if not issues.empty and not skip_invalid:
        report.status = "refused"
        report.loaded = 0
        return report
    if products.empty and not merge:
        report.status = "refused"
        report.warnings.append("No valid product rows; the catalog was left as it was.")
        return report
    with store.transaction() as con:
        store.write_products(con, products, merge=merge)
        total, visible = store.visibility_counts(con)
        store.insert_batch(
            con,
            kind="load",
            reference=("merge " if merge else "replace ") + label,
            status="done",
            source=label,
            finished=None,
            rows_total=rows,
            applied=len(products),
            rejected=int(issues["row"].nunique()) if not issues.empty else 0,
        )
    report.visible, report.hidden = visible, total - visible
    return report
