"""backorder_ops against the baseline script, stage by stage, in one run (issue 3).

    python -m benchmarks.run              # 1M-product export, 10M visibility, 100k batch
    python -m benchmarks.run --quick      # 10k export, 100k visibility, 1k batch
    python -m benchmarks.run --repeat 7 --only classify,apply

Every measurement runs in a fresh subprocess: it sets up its stage (reads what the
stage starts from; not timed), then times the stage and reads its peak resident
memory (``VmHWM`` from ``/proc``, reset after the setup, so it is the peak while the
stage ran, including what the setup keeps in memory; tracemalloc would miss
Arrow's and DuckDB's allocations). Toolkit and baseline take turns, ``--repeat``
times; a side whose first run takes longer than ``--once-after`` seconds runs
once. The table gives the median seconds and the highest peak.

Data come from :mod:`benchmarks.generate` (made when missing); the databases and
baseline states the stages start from are prepared in ``benchmarks/data/work-*``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import generate

HERE = Path(__file__).resolve().parent
SIDES = ("toolkit", "baseline")


@dataclass(frozen=True)
class Scale:
    name: str
    catalog: int  # the export: load, batch, diff, end to end
    big: int  # the large visibility run
    batch: int  # rows of the batch sheet
    report: int  # products in the report
    readers: int = 100_000  # rows of the workbook in the readers table


SCALES = {
    "full": Scale("full", 1_000_000, 10_000_000, 100_000, 100_000),
    "quick": Scale("quick", 10_000, 100_000, 1_000, 1_000),
}


@dataclass
class Bench:
    """The files of one scale, and a scratch folder for the stage being measured."""

    scale: Scale
    data: Path = generate.DATA_DIR
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))

    @property
    def work(self) -> Path:
        return self.data / f"work-{self.scale.name}"

    def catalog(self, fmt: str) -> Path:
        return generate.catalog_path(self.scale.catalog, fmt, self.data)

    def batch(self, fmt: str = "xlsx", *, numbers_first: bool = False) -> Path:
        s = self.scale
        return generate.batch_path(s.batch, s.catalog, fmt, self.data, numbers_first=numbers_first)

    @property
    def big(self) -> Path:
        return generate.catalog_path(self.scale.big, "parquet", self.data)

    @property
    def readers_sheets(self) -> dict[str, tuple[Path, Path, str]]:
        """name -> (xlsx, the same cells as CSV, EAN column header)."""
        n, rows = self.scale.readers, self.scale.batch
        return {
            f"{generate.label(n)}-row catalog": (
                generate.catalog_path(n, "xlsx", self.data),
                generate.catalog_path(n, "csv", self.data),
                "EAN",
            ),
            f"{generate.label(rows)}-row batch": (self.batch("xlsx"), self.batch("csv"), "EAN"),
            f"{generate.label(rows)}-row batch, number cells first": (
                self.batch("xlsx", numbers_first=True),
                self.batch("csv", numbers_first=True),
                "EAN",
            ),
        }

    # What the stages start from, made by prepare().
    db = property(lambda self: self.work / "toolkit.duckdb")
    db_after = property(lambda self: self.work / "toolkit-after.duckdb")
    db_big = property(lambda self: self.work / "toolkit-big.duckdb")
    state = property(lambda self: self.work / "baseline.parquet")
    state_after = property(lambda self: self.work / "baseline-after.parquet")
    state_big = property(lambda self: self.work / "baseline-big.parquet")
    report_frame = property(lambda self: self.work / "report.parquet")


# -- preparing the data ------------------------------------------------------------------


def prepare(bench: Bench, *, reuse: bool) -> None:
    """Generate the files, then the databases and states the stages start from."""
    s = bench.scale
    print(f"Data in {bench.data} (generated when missing):", flush=True)
    generate.ensure_catalog(s.catalog, out=bench.data, verbose=True)
    generate.ensure_catalog(s.big, ("parquet",), out=bench.data, verbose=True)
    generate.ensure_catalog(s.readers, ("xlsx", "csv"), out=bench.data, verbose=True)
    generate.ensure_batch(s.batch, s.catalog, out=bench.data, verbose=True)
    generate.ensure_batch(s.batch, s.catalog, out=bench.data, numbers_first=True, verbose=True)

    stamp = bench.work / "prepared.json"
    wanted = {"versions": versions(), "scale": s.__dict__}
    if reuse and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"Reusing {bench.work}.", flush=True)
        return
    shutil.rmtree(bench.work, ignore_errors=True)
    bench.work.mkdir(parents=True)
    print(f"Preparing {bench.work}:", flush=True)
    # Each step runs in its own process, so that this one stays small.
    for step in ("toolkit", "toolkit-big", "baseline", "baseline-big"):
        started = time.perf_counter()
        _child(["--prepare", step], bench)
        print(f"  {step}: {time.perf_counter() - started:.1f} s", flush=True)
    stamp.write_text(json.dumps(wanted))


def prepare_step(bench: Bench, step: str) -> None:
    import backorder_ops as bo

    from . import baseline

    if step == "toolkit":
        _must(bo.load_catalog(bench.catalog("parquet"), db=str(bench.db)))
        shutil.copy(bench.db, bench.db_after)
        bo.apply_batch(bench.batch("xlsx"), db=str(bench.db_after), reference="bench")
        hidden = bo.current_visibility(db=str(bench.db)).hidden
        hidden.head(bench.scale.report).drop(columns="visible").to_parquet(bench.report_frame)
    elif step == "toolkit-big":
        _must(bo.load_catalog(bench.big, db=str(bench.db_big)))
    elif step == "baseline":
        catalog = baseline.load_catalog(bench.catalog("parquet"))
        catalog.to_parquet(bench.state)
        rows = baseline.classify(baseline.read_batch(bench.batch("xlsx")), catalog)
        baseline.apply_changes(catalog, rows).to_parquet(bench.state_after)
    elif step == "baseline-big":
        baseline.load_catalog(bench.big).to_parquet(bench.state_big)


def _must(report) -> None:
    if report.status != "done":
        raise SystemExit(f"loading failed: {report.summary()}\n{report.issues.head()}")


# -- the stages ----------------------------------------------------------------------------
#
# Each side of a stage is a setup function: it gets the Bench, does what is not timed,
# and returns the function to time. That function returns a small "answer" (counts),
# which must be the same for both sides: they did the same job.

Setup = Callable[[Bench], Callable[[], object]]


@dataclass(frozen=True)
class Stage:
    name: str
    label: str  # with {catalog}, {big}, {batch}, {report} filled in from the scale
    toolkit: Setup | None
    baseline: Setup | None
    same_as: str | None = None  # a stage whose toolkit answer this one must match


def _counts(statuses, hidden=None, shown=None) -> dict:
    counts = {s: int(n) for s, n in statuses.value_counts().sort_index().items()}
    if hidden is not None:
        counts |= {"newly_hidden": len(hidden), "newly_visible": len(shown)}
    return counts


def _visible_counts(flags) -> dict:
    return {"visible": int(flags.sum()), "hidden": int((~flags).sum())}


def tk_load(fmt: str) -> Setup:
    def setup(bench: Bench):
        import backorder_ops as bo

        source, db = bench.catalog(fmt), bench.scratch / "load.duckdb"

        def body():
            report = bo.load_catalog(source, db=str(db))
            return {"products": report.loaded}

        return body

    return setup


def bl_load(fmt: str) -> Setup:
    def setup(bench: Bench):
        from . import baseline

        source, state = bench.catalog(fmt), bench.scratch / "state.parquet"

        def body():
            catalog = baseline.load_catalog(source)
            catalog.to_parquet(state)
            return {"products": len(catalog)}

        return body

    return setup


def tk_visibility(big: bool) -> Setup:
    def setup(bench: Bench):
        import backorder_ops as bo

        db = bench.db_big if big else bench.db

        def body():
            s = bo.current_visibility(db=str(db)).summary()
            return {"visible": s["visible"], "hidden": s["hidden"]}

        return body

    return setup


def tk_visibility_flags(bench: Bench):
    import backorder_ops as bo

    def body():
        # Every product's flag and EAN, as the JSON output lists them.
        return _visible_counts(bo.current_visibility(db=str(bench.db)).flags["visible"])

    return body


def bl_visibility(big: bool) -> Setup:
    def setup(bench: Bench):
        import pandas as pd

        from . import baseline

        state = bench.state_big if big else bench.state

        def body():
            return _visible_counts(baseline.visibility(pd.read_parquet(state)))

        return body

    return setup


COUNT_BY_FLAGS = (
    "SELECT backorder_allowed, stock > 0 AS in_stock, count(*) FROM products GROUP BY ALL"
)
# Visibility needs a group per owner (a parent with its variants, or a standalone product).
COUNT_BY_OWNER = """
SELECT count(*) FROM (
    SELECT coalesce(parent_key, key) AS owner, count(*) FROM products GROUP BY owner
)
"""
# The rule of RULES section 2 as one aggregation per owner. It relies on what the store
# guarantees: a variant's own backorder_allowed is false, so bool_or gives the parent's.
RULE_BY_OWNER = """
WITH owners AS (
    SELECT coalesce(parent_key, key) AS owner,
           bool_or(backorder_allowed) AS allowed,
           count(parent_key) AS variants,
           count_if(parent_key IS NOT NULL AND stock > 0) AS variants_in_stock,
           bool_or(parent_key IS NULL AND stock > 0) AS own_stock
    FROM products GROUP BY owner
)
SELECT sum(CASE WHEN allowed OR (SELECT sell_when_out_of_stock FROM shop) THEN variants + 1
                WHEN variants > 0 THEN variants_in_stock + (variants_in_stock > 0)::INT
                ELSE own_stock::INT END) AS visible,
       sum(variants + 1) AS products
FROM owners
"""


def duckdb_query(sql: str, *, rule: bool = False) -> Setup:
    def setup(bench: Bench):
        import duckdb

        def body():
            con = duckdb.connect(str(bench.db_big), read_only=True)
            try:
                result = con.execute(sql).fetchall()
            finally:
                con.close()
            if not rule:
                return None
            visible, products = result[0]
            return {"visible": int(visible), "hidden": int(products - visible)}

        return body

    return setup


def tk_read_batch(bench: Bench):
    import backorder_ops as bo

    def body():
        bo.read_sheet(bench.batch("xlsx"))  # the toolkit drops empty rows: no answer to compare

    return body


def bl_read_batch(bench: Bench):
    from . import baseline

    def body():
        baseline.read_batch(bench.batch("xlsx"))

    return body


def tk_classify(bench: Bench):
    import backorder_ops as bo

    sheet = bo.read_sheet(bench.batch("xlsx"))
    products = bo.Store(bench.db).read_products()
    return lambda: _counts(bo.classify_rows(sheet, products)["status"])


def bl_classify(bench: Bench):
    import pandas as pd

    from . import baseline

    batch = baseline.read_batch(bench.batch("xlsx"))
    catalog = pd.read_parquet(bench.state)
    return lambda: _counts(baseline.classify(batch, catalog)["status"])


def tk_preview(bench: Bench):
    import backorder_ops as bo

    def body():
        result = bo.preview_batch(bench.batch("xlsx"), db=str(bench.db))
        return _counts(result.rows["status"], result.newly_hidden, result.newly_visible)

    return body


def _bl_batch(bench: Bench, *, save: Path | None):
    """The baseline's preview (``save=None``) or apply: the batch against its saved state."""
    import pandas as pd

    from . import baseline

    catalog = pd.read_parquet(bench.state)
    rows = baseline.classify(baseline.read_batch(bench.batch("xlsx")), catalog)
    before = baseline.visibility(catalog)
    updated = baseline.apply_changes(catalog, rows)
    hidden, shown = baseline.diff(updated, before, baseline.visibility(updated))
    if save is not None:
        updated.to_parquet(save)
    return _counts(rows["status"], hidden, shown)


def bl_preview(bench: Bench):
    # The baseline previews by applying the batch to a copy in memory, and saves nothing.
    return lambda: _bl_batch(bench, save=None)


def tk_apply(bench: Bench):
    import backorder_ops as bo

    db = bench.scratch / "apply.duckdb"
    shutil.copy(bench.db, db)

    def body():
        result = bo.apply_batch(bench.batch("xlsx"), db=str(db), reference="bench")
        return _counts(result.rows["status"], result.newly_hidden, result.newly_visible)

    return body


def bl_apply(bench: Bench):
    return lambda: _bl_batch(bench, save=bench.scratch / "state.parquet")


def tk_diff(bench: Bench):
    import backorder_ops as bo
    from backorder_ops.visibility import visibility_changes  # not in the public API

    before = bo.Store(bench.db).read_products()
    after = bo.Store(bench.db_after).read_products()

    def body():
        hidden, shown = visibility_changes(before, False, after, False)
        return {"newly_hidden": len(hidden), "newly_visible": len(shown)}

    return body


def bl_diff(bench: Bench):
    import pandas as pd

    from . import baseline

    before, after = pd.read_parquet(bench.state), pd.read_parquet(bench.state_after)

    def body():
        hidden, shown = baseline.diff(
            after, baseline.visibility(before), baseline.visibility(after)
        )
        return {"newly_hidden": len(hidden), "newly_visible": len(shown)}

    return body


def _report(result, path: Path) -> None:
    """The toolkit's report of a batch: the library's Report, written to .xlsx."""
    import backorder_ops as bo

    bo.Report.from_batch(result).write(path)


def tk_report(bench: Bench):
    import pandas as pd

    import backorder_ops as bo

    hidden = pd.read_parquet(bench.report_frame)
    result = bo.BatchResult(
        rows=pd.DataFrame({"status": pd.Series(dtype="str")}),
        newly_hidden=hidden,
        newly_visible=hidden.iloc[:0],
        source="bench",
        status="done",
    )

    def body():
        _report(result, bench.scratch / "report.xlsx")
        return {"rows": len(hidden)}

    return body


def bl_report(bench: Bench):
    import pandas as pd

    from . import baseline

    frame = pd.read_parquet(bench.report_frame).drop(columns="key")

    def body():
        baseline.write_report(frame, bench.scratch / "report.xlsx")
        return {"rows": len(frame)}

    return body


def tk_end_to_end(bench: Bench):
    import backorder_ops as bo

    db = str(bench.scratch / "e2e.duckdb")

    def body():
        _must(bo.load_catalog(bench.catalog("xlsx"), db=db))
        bo.preview_batch(bench.batch("xlsx"), db=db)
        result = bo.apply_batch(bench.batch("xlsx"), db=db, reference="bench")
        _report(result, bench.scratch / "report.xlsx")
        return _counts(result.rows["status"], result.newly_hidden, result.newly_visible)

    return body


def bl_end_to_end(bench: Bench):
    from . import baseline

    def body():
        result = baseline.run(
            bench.catalog("xlsx"), bench.batch("xlsx"), bench.scratch / "report.xlsx"
        )
        result["catalog"].to_parquet(bench.scratch / "state.parquet")
        return _counts(result["rows"]["status"], result["newly_hidden"], result["newly_visible"])

    return body


STAGES = [
    Stage("load_xlsx", "load export, {catalog} .xlsx", tk_load("xlsx"), bl_load("xlsx")),
    Stage("load_csv", "load export, {catalog} .csv", tk_load("csv"), bl_load("csv")),
    Stage("visibility", "visibility, {catalog}", tk_visibility(False), bl_visibility(False)),
    Stage("visibility_big", "visibility, {big}", tk_visibility(True), bl_visibility(True)),
    Stage(
        "visibility_flags",
        "visibility, every product's flag and EAN read, {catalog}",
        tk_visibility_flags,
        bl_visibility(False),
    ),
    Stage(
        "ref_count_flags",
        "reference: bare DuckDB count(*) GROUP BY stock > 0, setting, {big}",
        duckdb_query(COUNT_BY_FLAGS),
        None,
    ),
    Stage(
        "ref_count_owner",
        "reference: bare DuckDB count(*) GROUP BY owner key, {big}",
        duckdb_query(COUNT_BY_OWNER),
        None,
    ),
    Stage(
        "ref_rule",
        "reference: the rule as one DuckDB GROUP BY owner (counts only), {big}",
        duckdb_query(RULE_BY_OWNER, rule=True),
        None,
        same_as="visibility_big",
    ),
    Stage("read_batch", "read batch sheet, {batch} rows .xlsx", tk_read_batch, bl_read_batch),
    Stage("classify", "classify {batch}-row batch (in memory)", tk_classify, bl_classify),
    Stage("preview", "preview {batch}-row batch on {catalog}", tk_preview, bl_preview),
    Stage("apply", "apply {batch}-row batch on {catalog}", tk_apply, bl_apply),
    Stage("diff", "diff before/after the batch, {catalog}", tk_diff, bl_diff),
    Stage("report", "write report, {report} products .xlsx", tk_report, bl_report),
    Stage(
        "end_to_end",
        "end to end: {catalog} .xlsx + {batch}-row batch",
        tk_end_to_end,
        bl_end_to_end,
    ),
]
STAGE_BY_NAME = {s.name: s for s in STAGES}


# -- the readers table ---------------------------------------------------------------------


def _ean_text(cell) -> str:
    """A reader's EAN cell as text; a float that is a whole number as its digits."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None or cell != cell else str(cell).strip()


def read_openpyxl_pandas(path: Path, column: str) -> list:
    import pandas as pd

    return pd.read_excel(path, engine="openpyxl", dtype=str)[column].tolist()


def read_openpyxl(path: Path, column: str) -> list:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    rows = workbook.worksheets[0].iter_rows(values_only=True)
    index = list(next(rows)).index(column)
    eans = [row[index] if len(row) > index else None for row in rows]
    workbook.close()
    return eans


def read_calamine_pandas(path: Path, column: str) -> list:
    import pandas as pd

    return pd.read_excel(path, engine="calamine", dtype=str)[column].tolist()


def read_calamine(path: Path, column: str) -> list:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    index = rows[0].index(column)
    return [row[index] for row in rows[1:]]


def read_fastexcel(path: Path, column: str, *, as_text: bool = True) -> list:
    import fastexcel

    dtypes = {column: "string"} if as_text else None
    sheet = fastexcel.read_excel(str(path)).load_sheet(0, dtypes=dtypes)
    return sheet.to_arrow().column(column).to_pylist()


READERS = {
    "openpyxl (pandas read_excel, dtype=str)": read_openpyxl_pandas,
    "openpyxl (read-only, iter_rows)": read_openpyxl,
    "python-calamine (pandas read_excel, dtype=str)": read_calamine_pandas,
    "python-calamine (CalamineWorkbook.to_python)": read_calamine,
    "fastexcel (EAN column as string)": read_fastexcel,
    "fastexcel (types inferred)": lambda path, column: read_fastexcel(path, column, as_text=False),
}


def reader_setup(reader: str, sheet: str) -> Setup:
    def setup(bench: Bench):
        import pandas as pd

        xlsx, csv, column = bench.readers_sheets[sheet]
        expected = pd.read_csv(csv, sep=";", dtype=str, keep_default_na=False)[column]
        expected = [_ean_text(e) for e in expected]
        function = READERS[reader]

        def body():
            got = [_ean_text(e) for e in function(xlsx, column)]
            wrong = sum(g != e for g, e in zip(got, expected, strict=False))
            return {"wrong": wrong + abs(len(got) - len(expected))}

        return body

    return setup


# -- measuring -------------------------------------------------------------------------------


def _peak_reset() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_mb(field_name: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(bench: Bench, what: str, side: str) -> dict:
    """Set up and time one stage side (or reader) in this process."""
    if what.startswith("reader:"):
        _, reader, sheet = what.split(":", 2)
        setup = reader_setup(reader, sheet)
    else:
        setup = getattr(STAGE_BY_NAME[what], side)
    body = setup(bench)
    gc.collect()
    reset = _peak_reset()
    start_mb = _status_mb("VmRSS")
    started = time.perf_counter()
    answer = body()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mb": _status_mb("VmHWM"),
        "start_mb": start_mb,
        "peak_reset": reset,
        "answer": answer,
    }


def _child(args: list[str], bench: Bench) -> tuple[dict | None, float]:
    """Run this module in a fresh process; its JSON answer and its max RSS (MB)."""
    command = [sys.executable, "-m", "benchmarks.run", "--scale", bench.scale.name,
               "--data", str(bench.data), "--scratch", str(bench.scratch), *args]  # fmt: skip
    process = subprocess.Popen(command, cwd=HERE.parent, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed (exit {process.returncode})")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), usage.ru_maxrss / 1024


def measure(bench: Bench, what: str, side: str) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=bench.work))
    try:
        result, maxrss = _child(["--worker", what, side],
                                Bench(bench.scale, bench.data, scratch))  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not result["peak_reset"]:
        result["peak_mb"] = maxrss  # includes the setup's peak
    return result


def run_pair(
    bench: Bench, what: str, sides, repeat: int, once_after: float, *, shown: str = ""
) -> dict:
    """Toolkit and baseline in turns; returns per side the list of runs."""
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for rep in range(repeat):
        order = sides if rep % 2 == 0 else tuple(reversed(sides))
        for side in order:
            done = runs[side]
            if done and done[0]["seconds"] > once_after:
                continue
            done.append(measure(bench, what, side))
            last = done[-1]
            print(f"    {shown or side:8} {last['seconds']:9.3f} s {last['peak_mb']:8.0f} MB",
                  flush=True)  # fmt: skip
    return runs


def summarise(runs: list[dict]) -> dict | None:
    if not runs:
        return None
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "runs": len(runs),
        "answer": runs[0]["answer"],
    }


# -- reporting -------------------------------------------------------------------------------


def versions() -> dict:
    names = ["backorder_ops", "pandas", "numpy", "pyarrow", "duckdb", "openpyxl",
             "python-calamine", "fastexcel", "xlsxwriter", "python-stdnum", "pandera"]  # fmt: skip
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def code_version() -> str:
    """The commit measured, and whether the working tree had changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        commit, dirty = (
            git("rev-parse", "--short", "HEAD"),
            git("status", "--porcelain", "backorder_ops"),
        )
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}" + (" with uncommitted changes in backorder_ops/" if dirty else "")


def machine() -> str:
    memory = "?"
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {memory} memory, {system}"


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _differs(stage: Stage, tk: dict | None, bl: dict | None, results: dict) -> bool:
    """Whether the two sides (or this stage and its ``same_as``) gave different answers."""
    if stage.same_as in results and tk:
        other = results[stage.same_as][2]
        return other is not None and other["answer"] != tk["answer"]
    return bool(tk and bl) and tk["answer"] != bl["answer"]


def stage_table(results: dict) -> str:
    """``results``: stage name -> (stage, label, toolkit summary, baseline summary)."""
    lines = [
        "| stage | toolkit s | baseline s | baseline/toolkit | toolkit peak MB "
        "| baseline peak MB | runs |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for stage, label, tk, bl in results.values():
        ratio = bl["seconds"] / tk["seconds"] if tk and bl and tk["seconds"] else None
        runs = "/".join(str(side["runs"]) if side else "—" for side in (tk, bl))
        same = " ⚠ answers differ" if _differs(stage, tk, bl, results) else ""
        lines.append(
            f"| {label}{same} | {_fmt(tk and tk['seconds'], 3)} | {_fmt(bl and bl['seconds'], 3)}"
            f" | {'—' if ratio is None else f'{ratio:,.1f}×'} | {_fmt(tk and tk['peak_mb'], 0)}"
            f" | {_fmt(bl and bl['peak_mb'], 0)} | {runs} |"
        )
    return "\n".join(lines)


def readers_table(results: dict) -> str:
    lines = ["| workbook | reader | s | peak MB | EANs exact |", "|---|---|--:|--:|---|"]
    for (sheet, reader), summary in results.items():
        wrong = summary["answer"]["wrong"]
        exact = "yes" if wrong == 0 else f"no: {wrong:,} wrong"
        lines.append(
            f"| {sheet} | {reader} | {summary['seconds']:.3f} | {summary['peak_mb']:.0f} "
            f"| {exact} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small scale (--scale quick)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--repeat", type=int, default=5, help="runs per side (default 5)")
    parser.add_argument(
        "--once-after",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="run a side once when its first run takes longer (default 60)",
    )
    parser.add_argument("--only", default="", help="comma-separated stage names (and 'readers')")
    parser.add_argument("--skip", default="", help="comma-separated stage names to leave out")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the prepared databases of an earlier run with the same versions",
    )
    parser.add_argument("--data", type=Path, default=generate.DATA_DIR)
    parser.add_argument("--scratch", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("STAGE", "SIDE"), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", metavar="STEP", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    scale = SCALES["quick" if args.quick else args.scale]
    bench = Bench(scale, args.data, args.scratch or Path(tempfile.gettempdir()))
    if args.worker:
        print(json.dumps(worker(bench, *args.worker)))
        return
    if args.prepare:
        prepare_step(bench, args.prepare)
        return

    names = [s.name for s in STAGES] + ["readers"]
    chosen = [n for n in (args.only.split(",") if args.only else names) if n]
    chosen = [n for n in chosen if n not in args.skip.split(",")]
    unknown = set(chosen) - set(names)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}")

    started = time.perf_counter()
    prepare(bench, reuse=args.reuse)
    sizes = {k: generate.label(getattr(scale, k)).upper() for k in ("catalog", "big", "batch",
                                                                    "report")}  # fmt: skip
    load_before = os.getloadavg()
    stage_results: dict[str, tuple] = {}
    for stage in STAGES:
        if stage.name not in chosen:
            continue
        label = stage.label.format(**sizes)
        print(f"  {label}", flush=True)
        sides = tuple(s for s in SIDES if getattr(stage, s) is not None)
        runs = run_pair(bench, stage.name, sides, args.repeat, args.once_after)
        tk, bl = (summarise(runs.get(side, [])) for side in SIDES)
        stage_results[stage.name] = (stage, label, tk, bl)

    reader_results: dict[tuple, dict] = {}
    if "readers" in chosen:
        readers = [r for r in READERS if importlib.util.find_spec(r.split()[0].replace("-", "_"))]
        if len(readers) < len(READERS):
            print("  (fastexcel is not installed: pip install fastexcel to measure it)")
        for sheet in bench.readers_sheets:
            for reader in readers:
                print(f"  read {sheet}: {reader}", flush=True)
                runs = run_pair(bench, f"reader:{reader}:{sheet}", ("toolkit",), args.repeat,
                                args.once_after, shown="reader")  # fmt: skip
                reader_results[(sheet, reader)] = summarise(runs["toolkit"])

    raw = {
        "stages": {name: {"label": r[1], "toolkit": r[2], "baseline": r[3]}
                   for name, r in stage_results.items()},
        "readers": [{"sheet": k[0], "reader": k[1], **v} for k, v in reader_results.items()],
    }  # fmt: skip
    (bench.data / f"results-{scale.name}.json").write_text(json.dumps(raw, indent=1))
    header = [
        f"Scale `{scale.name}`: catalog {sizes['catalog']}, large catalog {sizes['big']}, "
        f"batch {sizes['batch']} rows, report {sizes['report']} products; "
        f"median of up to {args.repeat} runs per side.",
        "",
        f"Machine: {machine()}. Load average (1 min) at the start of the stages "
        f"{load_before[0]:.1f}, at the end {os.getloadavg()[0]:.1f}.",
        "",
        f"Code: {code_version()}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
    ]
    text = "\n".join(header)
    if stage_results:
        text += "\n" + stage_table(stage_results) + "\n"
    if reader_results:
        text += "\nReading the EAN column of a workbook:\n\n" + readers_table(reader_results) + "\n"
    print()
    print(text)
    print(f"(whole run: {time.perf_counter() - started:.0f} s)")
    out = bench.data / f"results-{scale.name}.md"
    out.write_text(text)
    print(f"Written to {out}.")


if __name__ == "__main__":
    main()
