"""The same job without backorder_ops: the pandas script a careful analyst writes.

This is the baseline of the benchmarks (issue 3). It follows RULES.md to the
letter, and gives the same answers as backorder_ops (``tests/test_baseline.py``
checks that), but the way people usually write it:

- ``pd.read_excel(engine="openpyxl", dtype=str)`` (or ``read_csv``) so that EANs
  keep their leading zeros;
- one EAN at a time: trimmed, checked with python-stdnum, padded to 14 digits
  (the GTIN-14 key) and looked up in a dict;
- a loop over the batch rows (``iterrows``) giving each row its status and
  reason in the order of RULES section 4, then a second pass for duplicates;
- ``.loc`` updates of the settings, one applied row at a time;
- ``.apply(axis=1)`` for the visibility rule (RULES section 2), before and after,
  and set arithmetic for what disappears and reappears;
- ``DataFrame.to_excel(engine="openpyxl")`` for the report.

Run it on its own::

    python -m benchmarks.baseline CATALOG BATCH [--report hidden.xlsx]
"""

from __future__ import annotations

import argparse
import math
import re
import time
from pathlib import Path

import pandas as pd
from stdnum import ean as stdnum_ean

CATALOG_COLUMNS = {
    "EAN": "ean",
    "SKU": "sku",
    "Naam": "name",
    "Parent EAN": "parent_ean",
    "Voorraad": "stock",
    "Backorders toegestaan": "backorder",
}
BATCH_COLUMNS = {"EAN": "ean_given", "Backorder toegestaan?": "value_given"}
CATALOG_LENGTHS = (8, 12, 13, 14)

# RULES section 4: the accepted values, trimmed and case-insensitive.
TRUE_WORDS = {"1", "ja", "j", "yes", "y", "true"}
FALSE_WORDS = {"0", "nee", "n", "no", "false"}

# Spaces a cell may carry around its text (RULES section 3), besides ordinary whitespace.
SPACES = " \t\r\n\u00a0\u2007\u202f\u200b\ufeff"
SCIENTIFIC = re.compile(r"[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")
WHOLE_NUMBER = re.compile(r"([0-9]+)[.,]0+")  # "8712345678906.0": a number cell as text
DIGITS = re.compile(r"[0-9]+")
ONE_OR_ZERO = re.compile(r"([01])[.,]0*")  # the numbers 1 and 0, "1.0" included


# -- cells -------------------------------------------------------------------------


def clean(cell) -> str | None:
    """The cell's text, trimmed (and without Excel's leading apostrophe); None if empty."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
        return None
    text = str(cell).strip(SPACES)
    if text.startswith("'"):
        text = text[1:].strip(SPACES)
    return text or None


def digits_of(text: str) -> str | None:
    """The digits of an EAN cell's text, or None when it is not a whole number."""
    if SCIENTIFIC.fullmatch(text):
        return None  # "8,71235E+12": the last digits are gone
    whole = WHOLE_NUMBER.fullmatch(text)
    if whole:
        text = whole.group(1)
    return text if DIGITS.fullmatch(text) else None


def batch_key(text: str) -> str | None:
    """The GTIN-14 key of a batch EAN (any length up to 14), or None when invalid."""
    digits = digits_of(text)
    if digits is None or len(digits) > 14:
        return None
    key = digits.zfill(14)
    return key if stdnum_ean.is_valid(key) else None


def catalog_key(cell) -> str | None:
    """The GTIN-14 key of a catalog EAN cell (8, 12, 13 or 14 digits), or None when invalid."""
    text = clean(cell)
    digits = digits_of(text) if text is not None else None
    if digits is None or len(digits) not in CATALOG_LENGTHS:
        return None
    return digits.zfill(14) if stdnum_ean.is_valid(digits) else None


def parse_flag(cell) -> bool | None:
    """``ja``/``1``/... → True, ``nee``/``0``/... → False; None when empty or not accepted."""
    text = clean(cell)
    if text is None:
        return None
    word = text.strip().casefold()
    number = ONE_OR_ZERO.fullmatch(word)
    if number:
        word = number.group(1)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


# -- reading -----------------------------------------------------------------------


def read_table(path: str | Path) -> pd.DataFrame:
    """A spreadsheet or ``;``-CSV as text cells, so that EANs keep their zeros."""
    path = Path(path)
    if path.suffix == ".xlsx":
        return pd.read_excel(path, engine="openpyxl", dtype=str)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, skip_blank_lines=False)


def load_catalog(path: str | Path) -> pd.DataFrame:
    """Read and check the product export; the result is indexed by the GTIN-14 key.

    Columns: ``ean`` (as in the file), ``sku``, ``name``, ``parent_key``, ``stock``,
    ``backorder_allowed``. Raises ValueError on invalid rows (the script stops).
    """
    products = read_table(path).rename(columns=CATALOG_COLUMNS)
    products["ean"] = products["ean"].map(clean)
    products["key"] = products["ean"].map(catalog_key)
    products["parent_key"] = products["parent_ean"].map(catalog_key)
    products["stock"] = products["stock"].astype("int64")
    products["backorder_allowed"] = products["backorder"].map(parse_flag)

    problems = []
    bad_ean = products["key"].isna()
    if bad_ean.any():
        problems.append(f"{bad_ean.sum()} invalid EANs (rows {_rows(bad_ean)})")
    bad_parent = products["parent_ean"].map(clean).notna() & products["parent_key"].isna()
    if bad_parent.any():
        problems.append(f"{bad_parent.sum()} invalid parent EANs (rows {_rows(bad_parent)})")
    duplicate = products["key"].notna() & products["key"].duplicated(keep=False)
    if duplicate.any():
        problems.append(f"{duplicate.sum()} duplicate EANs (rows {_rows(duplicate)})")
    is_variant = products["parent_key"].notna()
    parent_of = dict(zip(products["key"], products["parent_key"], strict=True))
    orphan = is_variant & ~products["parent_key"].isin(parent_of)
    if orphan.any():
        problems.append(f"{orphan.sum()} variants without their parent (rows {_rows(orphan)})")
    nested = is_variant & products["parent_key"].map(parent_of).notna()
    if nested.any():
        problems.append(f"{nested.sum()} variants of a variant (rows {_rows(nested)})")
    bad_flag = products["backorder"].map(clean).notna() & products["backorder_allowed"].isna()
    if bad_flag.any():
        problems.append(f"{bad_flag.sum()} invalid backorder values (rows {_rows(bad_flag)})")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))

    # Variants have no setting of their own: they follow their parent.
    products["backorder_allowed"] = products["backorder_allowed"].fillna(False).astype(bool)
    products.loc[is_variant, "backorder_allowed"] = False
    columns = ["key", "ean", "sku", "name", "parent_key", "stock", "backorder_allowed"]
    return products[columns].set_index("key")


def _rows(mask: pd.Series) -> str:
    rows = (mask[mask].index + 2).tolist()  # the header is row 1
    return ", ".join(map(str, rows[:5])) + (" ..." if len(rows) > 5 else "")


def read_batch(path: str | Path) -> pd.DataFrame:
    """The batch sheet: ``row`` (as the user sees it), ``ean_given``, ``value_given``."""
    sheet = read_table(path).rename(columns=BATCH_COLUMNS)
    sheet["row"] = sheet.index + 2  # the header is row 1; pandas keeps empty rows
    return sheet[["row", "ean_given", "value_given"]]


# -- the batch -----------------------------------------------------------------------


def classify(batch: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """One status per non-empty row, with the reason of a rejection (RULES section 4).

    Returns ``row``, ``ean``, ``key``, ``value``, ``status``, ``reason`` in sheet order.
    """
    products = {
        key: (ean, parent_key, allowed)
        for key, ean, parent_key, allowed in zip(
            catalog.index,
            catalog["ean"],
            catalog["parent_key"],
            catalog["backorder_allowed"],
            strict=True,
        )
    }
    results = []
    values_of: dict[str, set[bool]] = {}  # key -> values of the rows still in the running
    for _, line in batch.iterrows():
        ean_text, value_text = clean(line["ean_given"]), clean(line["value_given"])
        if ean_text is None and value_text is None:
            continue  # an empty row is skipped without a word
        key = batch_key(ean_text) if ean_text is not None else None
        value = parse_flag(value_text)
        product = products.get(key)
        if ean_text is None:
            reason = "missing_ean"
        elif key is None:
            reason = "invalid_ean"
        elif product is None:
            reason = "unknown_ean"
        elif isinstance(product[1], str):
            reason = "variant_not_allowed"
        elif value_text is None:
            reason = "missing_value"
        elif value is None:
            reason = "invalid_value"
        else:
            reason = None
            values_of.setdefault(key, set()).add(value)
        results.append(
            {
                "row": int(line["row"]),
                "ean": product[0] if product is not None else ean_text,
                "key": key if product is not None else None,
                "value": value,
                "status": "rejected" if reason else None,
                "reason": reason,
            }
        )

    # Second pass: conflicting duplicates, repeats, and what actually changes.
    seen = set()
    for result in results:
        if result["reason"] is not None:
            continue
        key = result["key"]
        if len(values_of[key]) > 1:
            result["status"], result["reason"] = "rejected", "conflicting_duplicate"
        elif key in seen:
            result["status"] = "unchanged"  # a repeat of an earlier row
        else:
            seen.add(key)
            current = products[key][2]
            result["status"] = "applied" if result["value"] != current else "unchanged"
    return pd.DataFrame(results, columns=["row", "ean", "key", "value", "status", "reason"])


def apply_changes(catalog: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """A copy of the catalog with the applied rows' settings, set with ``.loc``."""
    updated = catalog.copy()
    applied = rows[rows["status"] == "applied"]
    for key, value in zip(applied["key"], applied["value"], strict=True):
        updated.loc[key, "backorder_allowed"] = value
    return updated


# -- visibility ----------------------------------------------------------------------


def visibility(catalog: pd.DataFrame, sell_when_out_of_stock: bool = False) -> pd.Series:
    """Whether the shop shows each product (RULES section 2), by key.

    A standalone product or a variant is visible when in stock, or when the shop
    setting or its owner's (its own, or its parent's) "Backorders toegestaan" is
    on. A parent with variants is visible iff at least one variant is.
    """
    setting = catalog["backorder_allowed"].to_dict()

    def unit_visible(product) -> bool:
        owner = product["parent_key"] if isinstance(product["parent_key"], str) else product.name
        return bool(product["stock"] > 0 or setting[owner] or sell_when_out_of_stock)

    unit = catalog.apply(unit_visible, axis=1)
    is_variant = catalog["parent_key"].notna()
    any_variant = unit[is_variant].groupby(catalog.loc[is_variant, "parent_key"]).any().to_dict()
    unit_of = unit.to_dict()

    def visible(product) -> bool:
        return any_variant.get(product.name, unit_of[product.name])

    return catalog.apply(visible, axis=1).astype(bool)


def diff(catalog: pd.DataFrame, before: pd.Series, after: pd.Series) -> tuple[list, list]:
    """The EANs (as in the catalog) that disappear and that reappear, each sorted."""
    hidden = before & ~after
    shown = ~before & after
    return sorted(catalog.loc[hidden, "ean"]), sorted(catalog.loc[shown, "ean"])


def describe(catalog: pd.DataFrame, eans: list[str]) -> pd.DataFrame:
    """EAN, SKU, name, stock, role and parent of the given products, for a report."""
    chosen = catalog[catalog["ean"].isin(set(eans))]
    parents = set(catalog["parent_key"].dropna())
    report = pd.DataFrame(
        {
            "ean": chosen["ean"],
            "sku": chosen["sku"],
            "name": chosen["name"],
            "stock": chosen["stock"],
            "role": [
                "variant" if isinstance(p, str) else "parent" if k in parents else "product"
                for k, p in zip(chosen.index, chosen["parent_key"], strict=True)
            ],
            "parent_ean": chosen["parent_key"].map(catalog["ean"]),
            "parent_name": chosen["parent_key"].map(catalog["name"]),
        }
    )
    return report.sort_values("ean").reset_index(drop=True)


def write_report(products: pd.DataFrame, path: str | Path) -> None:
    """The products that disappear, as an Excel sheet (pandas with openpyxl)."""
    products.to_excel(path, engine="openpyxl", index=False, sheet_name="Verdwijnen")


# -- the whole job ---------------------------------------------------------------------


def run(
    catalog_path: str | Path,
    batch_path: str | Path,
    report_path: str | Path | None = None,
    *,
    sell_when_out_of_stock: bool = False,
) -> dict:
    """Load the export, check the batch, work out what flips, apply it, write the report."""
    catalog = load_catalog(catalog_path)
    rows = classify(read_batch(batch_path), catalog)
    before = visibility(catalog, sell_when_out_of_stock)
    updated = apply_changes(catalog, rows)
    after = visibility(updated, sell_when_out_of_stock)
    hidden, shown = diff(updated, before, after)
    if report_path is not None:
        write_report(describe(updated, hidden), report_path)
    return {"rows": rows, "newly_hidden": hidden, "newly_visible": shown, "catalog": updated}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", type=Path)
    parser.add_argument("batch", type=Path)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.catalog, args.batch, args.report)
    counts = result["rows"]["status"].value_counts().to_dict()
    print(f"rows: {len(result['rows'])} {counts}")
    print(f"newly hidden: {len(result['newly_hidden'])}, "
          f"newly visible: {len(result['newly_visible'])}")  # fmt: skip
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
