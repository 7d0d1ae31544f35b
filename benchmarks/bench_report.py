"""Which writer for the report workbook? 100k disappearing products, per writer (issue 5).

    python -m benchmarks.bench_report                 # 100k rows, 3 runs per writer
    python -m benchmarks.bench_report --rows 10000 --repeat 1
    python -m benchmarks.bench_report --end-to-end   # from the history: batch -> report files

Every run is a fresh subprocess: it builds the report (not timed), resets its peak
memory, writes the file (timed) and reads its peak resident memory (``VmHWM``).
The first rows hold names that a careless writer turns into formulas or links
(``=HYPERLINK(...)``, ``+31 6 1234``, ``@SUM(A1)``, ``-5``, ``http://...``); after
the runs each writer's file is checked with openpyxl for formula cells.

Writers:

- ``report.xlsx``: :meth:`backorder_ops.Report.write`, the library's writer:
  xlsxwriter in constant-memory mode, ``write_string``/``write_number`` per column
  type, bold frozen header, autofilter, widths, and a Samenvatting sheet.
- ``xlsxwriter write_row``: the same workbook options, cells through the generic
  ``write_row`` (type dispatch per cell).
- ``xlsxwriter add_table``: an Excel table (header style and filter buttons); not
  possible in constant-memory mode, so the whole sheet is held in memory.
- ``pandas (xlsxwriter)``: ``DataFrame.to_excel`` with pandas' default engine when
  xlsxwriter is installed, with formulas and links switched off.
- ``pandas (openpyxl)``: ``DataFrame.to_excel(engine="openpyxl")``, as it comes.
- ``openpyxl write-only``: ``Workbook(write_only=True)`` with text cells forced to
  string (``WriteOnlyCell`` with ``data_type = "s"``).
- ``report.csv``: :meth:`Report.write` to CSV, for comparison.

``--end-to-end`` times the whole path for a batch that made ``--rows`` products
disappear: a catalog of that many standalone products (stock 0, backorders on) is
loaded and a batch switching them all off is applied (not timed); then
``Report.from_history`` (reading the batch back), ``write`` to ``.xlsx`` and to
``.csv``, and ``write_charts`` are timed one by one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NASTY = ['=HYPERLINK("http://x","klik")', "+31 6 1234", "@SUM(A1)", "-5", "http://example.com"]
TEXT_COLUMNS = ["ean", "sku", "name", "parent_ean", "parent_name", "role", "reason"]
WRITERS = {
    "report.xlsx": "xlsx",
    "xlsxwriter write_row": "xlsx",
    "xlsxwriter add_table": "xlsx",
    "pandas (xlsxwriter)": "xlsx",
    "pandas (openpyxl)": "xlsx",
    "openpyxl write-only": "xlsx",
    "report.csv": "csv",
}
SAFE = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def ean13(bodies) -> pd.Series:
    """Valid EAN-13s for 12-digit bodies: the GS1 check digit, vectorised."""

    bodies = np.asarray(bodies, dtype="int64")
    digits = (bodies[:, None] // 10 ** np.arange(11, -1, -1)) % 10
    check = (10 - (digits * np.tile([1, 3], 6)).sum(axis=1) % 10) % 10
    return pd.Series(bodies * 10 + check, dtype="int64").astype("str")


def make_products(rows: int):
    """``rows`` disappearing products as :func:`describe_products` gives them, seeded."""

    rng = np.random.default_rng(49)
    number = pd.Series(np.arange(rows), dtype="int64")
    ean = ean13(871234500000 + number)
    parent = number // 6
    variant = (number % 6) != 0
    products = pd.DataFrame(
        {
            "key": ean.astype("int64"),
            "ean": ean,
            "sku": "SKU-" + number.astype("str"),
            "name": "Trui Merino " + parent.astype("str") + " - maat " + (number % 6).astype("str"),
            "stock": rng.integers(-3, 1, rows),
            "role": np.where(variant, "variant", "product"),
            "parent_ean": ean13(879999900000 + parent).where(variant),
            "parent_name": ("Trui Merino " + parent.astype("str")).where(variant),
        }
    ).astype({"role": "str"})
    products.loc[: len(NASTY) - 1, "name"] = NASTY[: min(rows, len(NASTY))]
    products.loc[: len(NASTY) - 1, "sku"] = NASTY[: min(rows, len(NASTY))][::-1]
    return products


def make_report(rows: int):

    from backorder_ops.report import Report, _explain

    disappear = _explain(make_products(rows), hidden=True, cause="setting")
    summary = {"title": "Batch 1: benchmark", "batch_id": 1, "reference": "=cmd|' /C calc'!A0",
               "when": pd.Timestamp("2026-12-04 12:00").to_pydatetime(), "status": "done",
               "rows": rows, "applied": rows // 6, "disappear": rows, "reappear": 0}  # fmt: skip
    empty = disappear.iloc[:0]
    rejected = pd.DataFrame(
        {"row": pd.Series(dtype="Int64"), "ean_given": pd.Series(dtype="str"),
         "value_given": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
         "message": pd.Series(dtype="str")}
    )  # fmt: skip
    return Report(kind="batch", summary=summary, disappear=disappear, reappear=empty,
                  rejected=rejected)  # fmt: skip


# -- the writers -------------------------------------------------------------------------------


def _cells(frame):
    return [frame[c].astype("object").where(frame[c].notna(), None).tolist() for c in frame]


def write_xlsxwriter_row(frame, path: Path) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, **SAFE})
    sheet = workbook.add_worksheet("Verdwijnt")
    sheet.write_row(0, 0, list(frame.columns), workbook.add_format({"bold": True}))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(frame), frame.shape[1] - 1)
    for r, row in enumerate(zip(*_cells(frame), strict=True), start=1):
        sheet.write_row(r, 0, row)
    workbook.close()


def write_xlsxwriter_table(frame, path: Path) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), SAFE)
    sheet = workbook.add_worksheet("Verdwijnt")
    text = set(TEXT_COLUMNS)
    writers = [sheet.write_string if c in text else sheet.write_number for c in frame.columns]
    for r, row in enumerate(zip(*_cells(frame), strict=True), start=1):
        for j, value in enumerate(row):
            if value is not None:
                writers[j](r, j, value)
    sheet.add_table(0, 0, len(frame), frame.shape[1] - 1,
                    {"columns": [{"header": c} for c in frame.columns]})  # fmt: skip
    sheet.freeze_panes(1, 0)
    workbook.close()


def write_pandas(frame, path: Path, engine: str) -> None:

    kwargs = {"engine_kwargs": {"options": SAFE}} if engine == "xlsxwriter" else {}
    with pd.ExcelWriter(path, engine=engine, **kwargs) as writer:
        frame.to_excel(writer, sheet_name="Verdwijnt", index=False, freeze_panes=(1, 0))


def write_openpyxl(frame, path: Path) -> None:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Verdwijnt")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:H{len(frame) + 1}"
    bold = Font(bold=True)
    header = []
    for name in frame.columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    is_text = [c in TEXT_COLUMNS for c in frame.columns]
    for row in zip(*_cells(frame), strict=True):
        out = []
        for text, value in zip(is_text, row, strict=True):
            if text and value is not None:
                value = WriteOnlyCell(sheet, value=value)
                value.data_type = "s"  # never a formula
            out.append(value)
        sheet.append(out)
    workbook.save(path)


def write_one(name: str, rows: int, path: Path) -> dict:
    """Build the report, then time one writer (run in a fresh subprocess)."""
    report = make_report(rows)
    frame = report.disappear.drop(columns="key")
    _reset_peak()
    start = time.perf_counter()
    if name in ("report.xlsx", "report.csv"):
        report.write(path)
    elif name == "xlsxwriter write_row":
        write_xlsxwriter_row(frame, path)
    elif name == "xlsxwriter add_table":
        write_xlsxwriter_table(frame, path)
    elif name == "pandas (xlsxwriter)":
        write_pandas(frame, path, "xlsxwriter")
    elif name == "pandas (openpyxl)":
        write_pandas(frame, path, "openpyxl")
    elif name == "openpyxl write-only":
        write_openpyxl(frame, path)
    else:
        raise SystemExit(f"unknown writer {name!r}")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def formulas_in(path: Path, rows: int = 20) -> int:
    """Formula cells among the first rows of every sheet (the nasty names are there)."""
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    found = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(max_row=rows):
            found += sum(1 for cell in row if cell.data_type == "f")
    workbook.close()
    return found


def end_to_end(rows: int, scratch: Path) -> list[tuple[str, float]]:
    """Apply a batch that hides ``rows`` products, then time its report, step by step."""

    import backorder_ops as bo
    from backorder_ops.report import Report

    products = make_products(rows)
    catalog = pd.DataFrame(
        {"EAN": products["ean"], "SKU": products["sku"], "naam": products["name"],
         "voorraad": products["stock"], "backorders toegestaan": "ja"}
    )  # fmt: skip
    store = bo.Store(scratch / "end-to-end.duckdb")
    assert bo.load_catalog(catalog, db=store, name="catalog.csv").status == "done"
    sheet = bo.read_sheet(
        pd.DataFrame({"EAN": products["ean"], "Backorder toegestaan?": "nee"}), name="batch.csv"
    )
    result = bo.apply_batch(sheet, db=store)
    assert len(result.newly_hidden) == rows, len(result.newly_hidden)

    steps, start = [], time.perf_counter()
    report = Report.from_history(store, result.batch_id)
    steps.append(("Report.from_history", time.perf_counter() - start))
    for label, action in (
        ("write .xlsx", lambda: report.write(scratch / "rapport.xlsx")),
        ("write .csv (4 files)", lambda: report.write(scratch / "rapport.csv")),
        ("write_charts (2 PNG)", lambda: report.write_charts(scratch / "rapport.xlsx")),
    ):
        start = time.perf_counter()
        action()
        steps.append((label, time.perf_counter() - start))
    return steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated writer names")
    parser.add_argument("--end-to-end", action="store_true", help="time a report from history")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one writer
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(write_one(args.one, args.rows, Path(args.out))))
        return
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as scratch:
            steps = end_to_end(args.rows, Path(scratch))
        print(f"Report of a batch that hid {args.rows:,} products, from the history:\n")
        print("| step | seconds |\n|---|---:|")
        for label, seconds in steps:
            print(f"| {label} | {seconds:.2f} |")
        print(f"| total | {sum(s for _, s in steps):.2f} |")
        return

    names = args.only.split(",") if args.only else list(WRITERS)
    results: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeat):
            for name in names:  # take turns, so that drift hits every writer alike
                out = Path(scratch) / f"{name.replace(' ', '_')}.{WRITERS[name]}"
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_report", "--one", name,
                     "--rows", str(args.rows), "--out", str(out)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
        lines = [
            f"Report of {args.rows:,} disappearing products, median of {args.repeat} run(s):",
            "",
            "| writer | seconds | peak MB | formula cells from data |",
            "|---|---:|---:|---:|",
        ]
        for name in names:
            seconds = statistics.median(r["seconds"] for r in results[name])
            peak = max((r["peak_mb"] or 0) for r in results[name])
            out = Path(scratch) / f"{name.replace(' ', '_')}.{WRITERS[name]}"
            xlsx = WRITERS[name] == "xlsx"
            formulas = str(formulas_in(out)) if xlsx else "n/a (text, ' prefix)"
            lines.append(f"| {name} | {seconds:.2f} | {peak:.0f} | {formulas} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
