"""Seeded catalogs and batch sheets for the benchmarks (issue 3).

Catalogs (RULES section 6 headers): parents with size/colour variants, standalone
products, stock from negative to plenty, about 10% of the parent products with
backorders on, valid GS1 EANs (EAN-13, plus UPC-12 codes with a leading zero).
Batch sheets (RULES section 4 headers): mostly good rows, plus unknown EANs, wrong
check digits, variant EANs, repeated and conflicting duplicates, UPCs whose
leading zero was lost in a number cell, missing and invalid cells.

The same size always gives the same cells. Files are written into
``benchmarks/data/`` only when missing::

    python -m benchmarks.generate                          # 10k, 100k, 1M, 10M products
    python -m benchmarks.generate --sizes 10k,100k --batches 1k@10k
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

SEED = 20261204
DATA_DIR = Path(__file__).resolve().parent / "data"

CATALOG_HEADER = ["EAN", "SKU", "Naam", "Parent EAN", "Voorraad", "Backorders toegestaan"]
BATCH_HEADER = ["EAN", "Backorder toegestaan?"]
CATALOG_FORMATS = ("xlsx", "csv", "parquet")
BATCH_FORMATS = ("xlsx", "csv")
#: Catalogs at least this large are written as .parquet only.
PARQUET_ONLY_FROM = 10_000_000
DEFAULT_SIZES = "10k,100k,1m,10m"
DEFAULT_BATCHES = "1k@10k,100k@1m"

#: Share of families that are a parent with variants, and of families sold as UPC-12.
VARIANT_FAMILIES = 0.30
UPC_FAMILIES = 0.05
BACKORDERS_ON = 0.10

PRODUCT_TYPES = np.array([
    "Trui", "T-shirt", "Hoodie", "Jeans", "Chino", "Jurk", "Blouse", "Polo", "Overhemd",
    "Vest", "Regenjas", "Parka", "Sneaker", "Laars", "Sjaal", "Muts", "Sokken", "Rugzak",
    "Kussen", "Plaid", "Dekbedovertrek", "Handdoek", "Mok", "Kaars", "Vaas", "Bidon",
])  # fmt: skip
MATERIALS = np.array([
    "Merino", "Organic Katoen", "Linnen", "Denim", "Wol", "Fleece", "Viscose", "Bamboe",
    "Leer", "Canvas", "Keramiek", "Glas", "Gerecycled", "Basic", "Premium",
])  # fmt: skip
SIZES = np.array(["XS", "S", "M", "L", "XL", "XXL"])
COLOURS = np.array(["zwart", "wit", "navy", "grijs", "beige", "groen", "rood", "bordeaux"])

#: Share of each kind of batch row; "good" takes the rest.
BATCH_MIX = {
    "repeat": 0.03,  # same EAN and value as an earlier row
    "conflict": 0.02,  # same EAN as an earlier row, other value
    "variant": 0.05,
    "unknown": 0.03,
    "bad_check": 0.02,
    "lost_zero": 0.02,  # UPC-12 typed into a number cell: its leading zero is gone
    "missing_ean": 0.01,
    "missing_value": 0.01,
    "invalid_value": 0.01,
    "scientific": 0.005,
    "not_digits": 0.005,
    "empty_row": 0.002,
}
INVALID_VALUES = ["misschien", "2", "jaa", "x", "-", "nvt"]
NOT_DIGITS = ["87123-45678", "EAN onbekend", "n.v.t.", "8712345678906a"]


# -- sizes and paths ---------------------------------------------------------------


def parse_size(text: str) -> int:
    """``"10k"`` → 10000, ``"1m"`` → 1000000, ``"2500"`` → 2500."""
    match = re.fullmatch(r"\s*(\d+)\s*([km]?)\s*", text.lower())
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 300, 10k, 1m)")
    return int(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2)]


def label(n: int) -> str:
    """The short name of a size, as used in file names: 10000 → ``"10k"``."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def catalog_path(n: int, fmt: str, out: Path = DATA_DIR) -> Path:
    return Path(out) / f"catalog_{label(n)}.{fmt}"


def batch_path(
    rows: int, n: int, fmt: str, out: Path = DATA_DIR, *, numbers_first: bool = False
) -> Path:
    variant = "_numbers_first" if numbers_first else ""
    return Path(out) / f"batch_{label(rows)}_on_{label(n)}{variant}.{fmt}"


def catalog_formats(n: int) -> tuple[str, ...]:
    return ("parquet",) if n >= PARQUET_ONLY_FROM else CATALOG_FORMATS


# -- EANs --------------------------------------------------------------------------


def check_digits(body: np.ndarray) -> np.ndarray:
    """GS1 mod-10 check digits of integer bodies of at most 13 digits, vectorised.

    Weights are 3, 1, 3, ... counted from the body's last digit; leading zeros
    weigh nothing, so a body padded to 13 digits gets the same check digit.

    >>> check_digits(np.array([871234567890, 1234567890])).tolist()  # 8712345678906, 012345678905
    [6, 5]
    """
    body = np.asarray(body, dtype=np.int64)
    total = np.zeros(len(body), dtype=np.int64)
    rest = body.copy()
    for position in range(13):
        total += (rest % 10) * (3 if position % 2 == 0 else 1)
        rest //= 10
    return (10 - total % 10) % 10


def with_check_digit(body: np.ndarray, width: int) -> pd.Series:
    """EAN texts: the body followed by its check digit, left-padded with zeros to ``width``."""
    codes = np.asarray(body, dtype=np.int64) * 10 + check_digits(body)
    return pd.Series(codes).astype("str").str.zfill(width)


def unique_numbers(rng: np.random.Generator, n: int, below: int) -> np.ndarray:
    """``n`` distinct random integers in ``[0, below)``, in random order (one per stratum)."""
    step = below // n
    numbers = np.arange(n, dtype=np.int64) * step + rng.integers(0, step, n)
    return rng.permutation(numbers)


# -- catalogs ----------------------------------------------------------------------


def make_catalog(n: int, seed: int = SEED) -> pd.DataFrame:
    """A product export of ``n`` rows with the columns of RULES section 6.

    ``EAN`` and ``Parent EAN`` are text (UPC-12 codes start with ``0``),
    ``Voorraad`` an integer, ``Backorders toegestaan`` text or ``<NA>``.
    """
    rng = np.random.default_rng([seed, n])
    # Families: a standalone product, or a parent followed by 2-12 variants.
    has_variants = rng.random(n) < VARIANT_FAMILIES
    family_rows = 1 + np.where(has_variants, rng.integers(2, 13, n), 0)
    ends = np.cumsum(family_rows)
    families = int(np.searchsorted(ends, n)) + 1
    ends = np.minimum(ends[:families], n)
    starts = np.concatenate([[0], ends[:-1]])
    family = np.repeat(np.arange(families), ends - starts)
    position = np.arange(n) - starts[family]  # 0: the parent or standalone product
    is_variant = position > 0
    has_children = (position == 0) & ((ends - starts)[family] > 1)

    # EANs: Dutch EAN-13 (87...) and, for a few families, UPC-12 with a leading zero.
    number = unique_numbers(rng, n, 10**10)
    upc = (rng.random(families) < UPC_FAMILIES)[family]
    ean = with_check_digit(np.where(upc, number, 87 * 10**10 + number), 12)

    kind = rng.integers(0, len(PRODUCT_TYPES), families)
    material = rng.integers(0, len(MATERIALS), families)
    family_name = pd.Series(PRODUCT_TYPES[kind], dtype="str") + " " + MATERIALS[material]
    family_no = pd.Series(np.arange(families)).astype("str").str.zfill(7)
    variant = np.maximum(position - 1, 0)
    size = SIZES[variant % len(SIZES)]
    colour = COLOURS[(variant // len(SIZES) + family) % len(COLOURS)]
    suffix = pd.Series(" - " + colour + " " + size, dtype="str").where(is_variant, "")
    name = (family_name + " " + family_no).to_numpy()[family] + suffix
    sku = ("SKU" + family_no).to_numpy()[family] + pd.Series(
        "-" + pd.Series(position).astype("str"), dtype="str"
    ).where(is_variant, "")

    # Stock: a quarter out of stock (some oversold), the rest from a few to plenty.
    draw = rng.random(n)
    stock = np.where(
        draw < 0.05,
        rng.integers(-5, 0, n),
        np.where(draw < 0.25, 0, np.minimum(rng.geometric(0.04, n), 999)),
    )
    stock = np.where(has_children, 0, stock)  # the rule ignores a parent's own stock

    on = rng.random(n) < BACKORDERS_ON
    spelled = rng.random(n)
    setting = np.where(
        on,
        np.where(spelled < 0.8, "ja", "1"),
        np.where(spelled < 0.8, "nee", np.where(spelled < 0.9, "0", "")),
    )
    setting = pd.Series(setting, dtype="str").where(~is_variant & (setting != ""))
    parent_ean = pd.Series(ean.to_numpy()[starts[family]], dtype="str").where(is_variant)

    return pd.DataFrame(
        {
            "EAN": ean.astype("str"),
            "SKU": sku.astype("str"),
            "Naam": name.astype("str"),
            "Parent EAN": parent_ean,
            "Voorraad": stock.astype("int64"),
            "Backorders toegestaan": setting,
        }
    )


# -- batch sheets ------------------------------------------------------------------


def _value_cells(rng: np.random.Generator, values: np.ndarray) -> list:
    """Yes/no cells the way people fill them in: words, digits, numbers, booleans."""
    forms = rng.choice(
        ["word", "Word", "digit", "number", "bool", "decimal", "short", "english", "padded"],
        size=len(values),
        p=[0.45, 0.05, 0.15, 0.2, 0.04, 0.03, 0.03, 0.02, 0.03],
    )
    spell = {
        "word": ("nee", "ja"),
        "Word": ("NEE", "Ja"),
        "digit": ("0", "1"),
        "number": (0, 1),
        "bool": (False, True),
        "decimal": ("0.0", "1.0"),
        "short": ("n", "j"),
        "english": ("no", "yes"),
        "padded": (" nee ", " ja "),
    }
    return [spell[f][int(v)] for f, v in zip(forms, values, strict=True)]


def _ean_cells(rng: np.random.Generator, eans: Iterable[str]) -> list:
    """EAN cells as found in sheets: text, number cells (Excel's habit), stray spaces."""
    eans = list(eans)
    forms = rng.choice(
        ["text", "number", "spaces", "nbsp"], size=len(eans), p=[0.65, 0.27, 0.05, 0.03]
    )
    cells: list = []
    for ean, form in zip(eans, forms, strict=True):
        if form == "number":
            cells.append(int(ean))
        elif form == "spaces":
            cells.append(f" {ean} ")
        elif form == "nbsp":
            cells.append(f"{ean}\u00a0")
        else:
            cells.append(ean)
    return cells


def make_batch(catalog: pd.DataFrame, rows: int, seed: int = SEED) -> pd.DataFrame:
    """A "Product Backorder" sheet of ``rows`` rows against ``catalog``.

    Returns columns ``ean`` and ``value`` (cells: ``str``, ``int``, ``bool`` or
    ``None``) and ``kind`` (what the row was made to test), in sheet order.
    """
    rng = np.random.default_rng([seed, len(catalog), rows])
    least = 1 if rows >= 100 else 0  # small sheets still hold every kind of row
    counts = {kind: max(least, int(rows * share)) for kind, share in BATCH_MIX.items()}
    counts = {"good": rows - sum(counts.values())} | counts

    eans = catalog["EAN"].to_numpy(dtype=object)
    parent = catalog["Parent EAN"].isna().to_numpy()
    upc = (catalog["EAN"].str.len() == 12).to_numpy()
    parents = np.flatnonzero(parent & ~upc)
    upc_parents = np.flatnonzero(parent & upc)
    variants = np.flatnonzero(~parent)

    def pick(pool: np.ndarray, k: int) -> np.ndarray:
        return rng.choice(pool, size=k, replace=k > len(pool)) if len(pool) else pool[:0]

    lost = pick(upc_parents, counts["lost_zero"])
    good_pool = np.concatenate([parents, np.setdiff1d(upc_parents, lost)])
    good = pick(good_pool, counts["good"])
    good_values = rng.random(len(good)) < 0.5

    parts: list[pd.DataFrame] = []

    def add(kind: str, ean_cells: list, value_cells: list) -> None:
        parts.append(pd.DataFrame({"ean": ean_cells, "value": value_cells, "kind": kind}))

    def some_values(k: int) -> list:
        return _value_cells(rng, rng.random(k) < 0.5)

    add("good", _ean_cells(rng, eans[good]), _value_cells(rng, good_values))
    again = rng.integers(0, len(good), counts["repeat"] + counts["conflict"])
    repeat, conflict = again[: counts["repeat"]], again[counts["repeat"] :]
    add("repeat", _ean_cells(rng, eans[good[repeat]]), _value_cells(rng, good_values[repeat]))
    add(
        "conflict",
        _ean_cells(rng, eans[good[conflict]]),
        _value_cells(rng, ~good_values[conflict]),
    )
    k = counts["variant"]
    add("variant", _ean_cells(rng, eans[pick(variants, k)]), some_values(k))
    k = counts["unknown"]  # valid EANs under a prefix the catalog does not use
    unknown = with_check_digit(86 * 10**10 + rng.integers(0, 10**10, k), 13)
    add("unknown", _ean_cells(rng, unknown), some_values(k))
    k = counts["bad_check"]
    wrong = [e[:-1] + str((int(e[-1]) + d) % 10) for e, d in
             zip(eans[pick(parents, k)], rng.integers(1, 10, k), strict=True)]  # fmt: skip
    add("bad_check", _ean_cells(rng, wrong), some_values(k))
    add("lost_zero", [int(e) for e in eans[lost]], some_values(len(lost)))
    k = counts["missing_ean"]
    add("missing_ean", [None] * k, some_values(k))
    k = counts["missing_value"]
    add("missing_value", _ean_cells(rng, eans[pick(parents, k)]), [None] * k)
    k = counts["invalid_value"]
    add(
        "invalid_value",
        _ean_cells(rng, eans[pick(parents, k)]),
        list(rng.choice(INVALID_VALUES, size=k)),
    )
    k = counts["scientific"]  # "8,71235E+12": Excel showed the EAN as a number, then saved
    shown = [f"{e[0]}{',' if i % 2 else '.'}{e[1:6]}E+{len(e) - 1}" for i, e in
             enumerate(eans[pick(parents, k)])]  # fmt: skip
    add("scientific", shown, some_values(k))
    k = counts["not_digits"]
    add("not_digits", list(rng.choice(NOT_DIGITS, size=k)), some_values(k))
    k = counts["empty_row"]
    add("empty_row", [None] * k, [None] * k)

    sheet = pd.concat(parts, ignore_index=True).astype({"ean": object, "value": object})
    return sheet.iloc[rng.permutation(len(sheet))].reset_index(drop=True)


# -- writers -----------------------------------------------------------------------

_XLSX_OPTIONS = {
    "constant_memory": True,
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}


def _cells(series: pd.Series) -> list:
    """Python values of a column, ``None`` for missing cells."""
    return series.astype(object).where(series.notna(), None).tolist()


def write_xlsx(path: Path, header: list[str], columns: list[list], sheet: str) -> None:
    """Write columns of cells with xlsxwriter, row by row, in constant-memory mode.

    ``str`` cells are written as text (EANs keep their zeros), numbers as numbers,
    ``bool`` as booleans; ``None`` leaves the cell empty (a row of only ``None``
    is an empty row).
    """
    workbook = xlsxwriter.Workbook(str(path), _XLSX_OPTIONS)
    worksheet = workbook.add_worksheet(sheet)
    worksheet.write_row(0, 0, header)
    text, number, boolean = (
        worksheet.write_string,
        worksheet.write_number,
        worksheet.write_boolean,
    )
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            if isinstance(cell, str):
                text(r, c, cell)
            elif isinstance(cell, bool):
                boolean(r, c, cell)
            else:
                number(r, c, cell)
    workbook.close()


def _csv_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    return str(cell)


def write_csv(path: Path, header: list[str], columns: list[list]) -> None:
    """Write a ``;``-separated CSV as Dutch Excel saves it; a number cell becomes its digits."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows([_csv_text(c) for c in row] for row in zip(*columns, strict=True))


def write_catalog(frame: pd.DataFrame, path: Path) -> None:
    fmt = path.suffix.lstrip(".")
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
        return
    columns = [_cells(frame[c]) for c in CATALOG_HEADER]
    if fmt == "xlsx":
        write_xlsx(path, CATALOG_HEADER, columns, "Producten")
    elif fmt == "csv":
        write_csv(path, CATALOG_HEADER, columns)
    else:
        raise ValueError(f"unknown catalog format: {fmt}")


def write_batch(sheet: pd.DataFrame, path: Path) -> None:
    columns = [_cells(sheet["ean"]), _cells(sheet["value"])]
    if path.suffix == ".xlsx":
        write_xlsx(path, BATCH_HEADER, columns, "Product Backorder")
    else:
        write_csv(path, BATCH_HEADER, columns)


def _atomic(path: Path, write) -> None:
    """Write through a temporary name, so that an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    write(partial)
    os.replace(partial, path)


# -- ensuring files exist ----------------------------------------------------------


def ensure_catalog(
    n: int, formats: Iterable[str] | None = None, out: Path = DATA_DIR, *, verbose: bool = False
) -> dict[str, Path]:
    """The catalog of ``n`` products in each format, generated where missing."""
    formats = tuple(formats or catalog_formats(n))
    paths = {fmt: catalog_path(n, fmt, out) for fmt in formats}
    missing = [fmt for fmt, p in paths.items() if not p.exists()]
    if missing:
        started = time.perf_counter()
        frame = make_catalog(n)
        for fmt in missing:
            _atomic(paths[fmt], lambda p, f=frame: write_catalog(f, p))
        if verbose:
            print(f"  catalog {label(n)} ({', '.join(missing)}): "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return paths


def ensure_batch(
    rows: int,
    n: int,
    formats: Iterable[str] = BATCH_FORMATS,
    out: Path = DATA_DIR,
    *,
    numbers_first: bool = False,
    verbose: bool = False,
) -> dict[str, Path]:
    """The batch sheet of ``rows`` rows against the ``n``-product catalog, where missing.

    ``numbers_first`` puts the rows whose EAN is a number cell first: a reader that
    guesses a column's type from its first rows then takes the EANs for numbers.
    """
    paths = {fmt: batch_path(rows, n, fmt, out, numbers_first=numbers_first) for fmt in formats}
    missing = [fmt for fmt, p in paths.items() if not p.exists()]
    if missing:
        started = time.perf_counter()
        sheet = make_batch(make_catalog(n), rows)
        if numbers_first:
            number = sheet["ean"].map(lambda cell: isinstance(cell, int))
            sheet = sheet.iloc[np.argsort(~number.to_numpy(dtype=bool), kind="stable")]
        for fmt in missing:
            _atomic(paths[fmt], lambda p, s=sheet: write_batch(s, p))
        if verbose:
            print(f"  batch {label(rows)} on {label(n)} ({', '.join(missing)}): "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return paths


def parse_batches(text: str) -> list[tuple[int, int]]:
    """``"1k@10k,100k@1m"`` → ``[(1000, 10000), (100000, 1000000)]``."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        rows, _, catalog = item.partition("@")
        if not catalog:
            raise ValueError(f"not a batch: {item!r} (use ROWS@CATALOG, e.g. 100k@1m)")
        pairs.append((parse_size(rows), parse_size(catalog)))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"catalog sizes (default {DEFAULT_SIZES})")  # fmt: skip
    parser.add_argument(
        "--batches",
        default=None,
        help=f"batch sheets as ROWS@CATALOG (default {DEFAULT_BATCHES}, those whose "
        "catalog size is among --sizes)",
    )
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder (benchmarks/data)")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if args.batches is None:
        batches = [(r, n) for r, n in parse_batches(DEFAULT_BATCHES) if n in sizes]
    else:
        batches = parse_batches(args.batches)
    print(f"Generating into {args.out} (existing files are kept):")
    for n in sizes:
        ensure_catalog(n, out=args.out, verbose=True)
    for rows, n in batches:
        ensure_batch(rows, n, out=args.out, verbose=True)
    print("done.")


if __name__ == "__main__":
    main()
