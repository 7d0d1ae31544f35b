"""The ``backorder-ops`` command line: a thin mirror of the library.

Each command gathers its input, calls one library function and prints the
result as a table (default) or as JSON (``--json``, RULES section 5).
Exit codes: 0 done, 1 refused or failed, 2 bad usage or a structure error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import traceback

import click
import pandas as pd
from tqdm import tqdm

from . import render
from .batch import BatchResult, preview_batch, read_sheet
from .catalog import load_catalog
from .errors import BackorderOpsError
from .jobs import apply_batch, run_worker, submit_batch
from .notify import retry_notify
from .report import Report
from .store import Store
from .undo import undo_batch
from .visibility import current_visibility, set_shop_setting

EXIT_DONE, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class _Group(click.Group):
    """Turns every error a user can cause into one line on standard error, exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BackorderOpsError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.Abort, BrokenPipeError):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as error:  # a bug of ours: one line, the traceback on request
            if os.environ.get("BACKORDER_OPS_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"Error: unexpected problem ({type(error).__name__}: {error}). "
                "Set BACKORDER_OPS_DEBUG=1 to see the details.",
                err=True,
            )
            ctx.exit(EXIT_USAGE)


def _emit(data: dict | list) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(cls=_Group)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    envvar="BACKORDER_OPS_DB",
    help="Database file (default data/backorder.duckdb, or BACKORDER_OPS_DB).",
)
@click.version_option(package_name="backorder_ops")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Preview and apply "Product Backorder" batches: which products disappear?"""
    ctx.obj = Store(db)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--sheet", help="Sheet name in a workbook (default: the first sheet).")
@click.option("--merge", is_flag=True, help="Insert and update these rows; keep the others.")
@click.option("--skip-invalid", is_flag=True, help="Load the valid rows, skip the invalid ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
@click.pass_obj
def load(store: Store, file: str, sheet: str | None, merge: bool, skip_invalid: bool,
         as_json: bool) -> None:  # fmt: skip
    """Load a product export (.xlsx, .xls, .ods, .csv, .parquet) as the catalog.

    Example: backorder-ops load data/sample/catalogus.xlsx
    """
    report = load_catalog(file, db=store, merge=merge, skip_invalid=skip_invalid, sheet=sheet)
    if as_json:
        _emit(report.to_json())
    else:
        s = report.summary()
        if report.status == "done":
            click.echo(
                f"Loaded {s['loaded']} product(s) from {report.source} "
                f"({'merged' if merge else 'catalog replaced'}): {s['visible']} visible, "
                f"{s['hidden']} hidden."
            )
        else:
            click.echo(f"Nothing loaded from {report.source}: the file has invalid rows.")
        if not report.issues.empty:
            skipped = "Skipped rows" if report.status == "done" else "Invalid rows"
            click.echo(f"\n{skipped} ({s['rejected']}):")
            click.echo(render.table(report.issues, {"row": "row", "code": "problem",
                                                    "message": "message"}))  # fmt: skip
            if report.status != "done":
                click.echo("\nFix these rows, or load the valid ones with --skip-invalid.")
        for warning in report.warnings:
            click.echo(f"Note: {warning}")
    if report.status != "done":
        rejected = report.summary()["rejected"]
        click.echo(
            f"Error: nothing loaded from {report.source}: "
            + (f"{rejected} row(s) are invalid." if rejected else "no valid product rows."),
            err=True,
        )
        sys.exit(EXIT_USAGE)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="List every hidden product.")
@click.option("--json", "as_json", is_flag=True, help="Print visible and hidden EANs as JSON.")
@click.pass_obj
def visible(store: Store, show_all: bool, as_json: bool) -> None:
    """Show how many products the shop shows, and which ones it hides.

    Example: backorder-ops visible --json
    """
    result = current_visibility(db=store)
    if as_json:
        _emit(result.to_json())
        return
    s = result.summary()
    click.echo(
        f"{s['visible']} of {s['products']} product(s) visible, {s['hidden']} hidden. Shop "
        f"setting 'Producten kunnen bestellen wanneer deze niet op voorraad zijn': "
        f"{'on' if s['sell_when_out_of_stock'] else 'off'}."
    )
    if s["hidden"]:
        click.echo("\nHidden products, by parent:")
        click.echo(render.grouped_products(result.hidden, limit=None if show_all else 200))


@cli.command()
@click.option(
    "--sell-when-out-of-stock",
    "setting",
    type=click.Choice(["on", "off"], case_sensitive=False),
    help="Set 'Producten kunnen bestellen wanneer deze niet op voorraad zijn'.",
)
@click.option("--reference", help="Referentie kept in the history.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def shop(store: Store, setting: str | None, reference: str | None, as_json: bool) -> None:
    """Show or set the shop setting, and what the change makes disappear or reappear.

    Example: backorder-ops shop --sell-when-out-of-stock on
    """
    if setting is None:
        value = store.read_shop()
        if as_json:
            _emit({"sell_when_out_of_stock": value})
        else:
            click.echo(
                "Producten kunnen bestellen wanneer deze niet op voorraad zijn: "
                f"{'on' if value else 'off'}"
            )
        return
    change = set_shop_setting(setting.lower() == "on", db=store, reference=reference)
    if as_json:
        _emit(change.to_json())
        return
    state = "on" if change.sell_when_out_of_stock else "off"
    click.echo(
        f"Shop setting is now {state} (was {'on' if change.previous else 'off'}); "
        f"recorded as batch {change.batch_id}."
    )
    _print_changes(change.newly_hidden, change.newly_visible)


def _print_changes(hidden: pd.DataFrame, shown: pd.DataFrame) -> None:
    click.echo(f"\nDisappear from the shop ({len(hidden)}):")
    click.echo(render.grouped_products(hidden))
    click.echo(f"\nReappear in the shop ({len(shown)}):")
    click.echo(render.grouped_products(shown))


@cli.group()
def batch() -> None:
    """The batch "Product Backorder": EAN + "Backorder toegestaan?" (1/ja, 0/nee)."""


_sheet_argument = click.argument("sheet")
_sheet_option = click.option("--sheet", "sheet_name", help="Sheet name (default: the first).")


def _read(sheet: str, sheet_name: str | None):
    if sheet == "-":
        return read_sheet(text=sys.stdin.read(), name="pasted text")
    return read_sheet(sheet, sheet=sheet_name)


@batch.command()
@_sheet_argument
@_sheet_option
@click.option("--strict", is_flag=True, help="Refuse the whole batch if any row is rejected.")
@click.option("--reference", help="Referentie, shown with the result.")
@click.option("--json", "as_json", is_flag=True, help="Print the RULES section 5 JSON.")
@click.pass_obj
def preview(store: Store, sheet: str, sheet_name: str | None, strict: bool,
            reference: str | None, as_json: bool) -> None:  # fmt: skip
    """Check a batch sheet and show what it would change; writes nothing.

    SHEET is an .xlsx/.xls/.ods/.csv/.tsv file, or - to read text pasted from a
    spreadsheet on standard input.

    Example: backorder-ops batch preview data/sample/batch_week49.xlsx
    """
    result = preview_batch(_read(sheet, sheet_name), db=store, strict=strict, reference=reference)
    _finish(result, as_json, preview=True)


@batch.command()
@_sheet_argument
@_sheet_option
@click.option("--reference", help="Referentie, kept in the history with the batch.")
@click.option("--notify", metavar="ADDRESS", help="Mail this address when the batch ends.")
@click.option("--strict", is_flag=True, help="Refuse the whole batch if any row is rejected.")
@click.option(
    "--background", is_flag=True, help="Queue the batch for `backorder-ops worker`; return at once."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the RULES section 5 JSON.")
@click.pass_obj
def apply(store: Store, sheet: str, sheet_name: str | None, reference: str | None,
          notify: str | None, strict: bool, background: bool, quiet: bool,
          as_json: bool) -> None:  # fmt: skip
    """Apply a batch sheet: every valid row, in one transaction, kept in the history.

    With --background the sheet is checked and queued, and its id printed at once;
    `backorder-ops worker` then applies it.

    Example: backorder-ops batch apply data/sample/batch_week49.xlsx --reference "week 49"
    """
    rows = _read(sheet, sheet_name)
    if background:
        handle = submit_batch(
            rows, db=store, reference=reference, strict=strict, notify=notify, in_thread=False
        )
        if as_json:
            _emit(handle.result().to_json())
        else:
            click.echo(
                f"Batch {handle.id} queued ({len(rows)} row(s)). Run `backorder-ops worker` to "
                f"apply it; `backorder-ops history {handle.id}` shows how it is doing."
            )
        return
    with _progress_bar(enabled=not (as_json or quiet), total=len(rows)) as progress:
        result = apply_batch(
            rows, db=store, reference=reference, strict=strict, notify=notify, progress=progress
        )
    _finish(result, as_json, preview=False)


@contextlib.contextmanager
def _progress_bar(*, enabled: bool, total: int, label: str = "rows"):
    """A tqdm bar on standard error, shown only when the work takes more than a moment."""
    if not enabled:
        yield None
        return
    with tqdm(total=total, unit=label, file=sys.stderr, delay=0.5, leave=False) as bar:

        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        yield progress


@cli.command()
@click.option("--once", is_flag=True, help="Run the queued batches, then stop.")
@click.option("--poll", type=float, default=1.0, show_default=True, help="Seconds between looks.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def worker(store: Store, once: bool, poll: float, quiet: bool) -> None:
    """Apply queued batches (from `batch apply --background`) in order.

    Keeps looking for new batches until Ctrl-C, which lets the batch in hand finish
    first; --once stops when the queue is empty.

    Example: backorder-ops worker --once
    """
    stopping = threading.Event()

    def stop(_signum, _frame):
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        click.echo("Stopping after the batch in hand (Ctrl-C again to stop now).", err=True)

    previous = signal.signal(signal.SIGINT, stop)
    bars: dict[int, object] = {}

    def on_start(batch_id: int) -> None:
        click.echo(f"Batch {batch_id}: running.")

    def progress_for(batch_id: int):
        if quiet:
            return None
        bar = tqdm(unit="rows", file=sys.stderr, delay=0.5, leave=False, desc=f"batch {batch_id}")
        bars[batch_id] = bar

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return progress

    def on_end(result: BatchResult) -> None:
        bar = bars.pop(result.batch_id, None)
        if bar is not None:
            bar.close()
        s = result.summary()
        click.echo(
            f"Batch {result.batch_id}: {result.status} — {s['applied']} applied, "
            f"{s['unchanged']} unchanged, {s['rejected']} rejected; "
            f"{len(result.newly_hidden)} disappear, {len(result.newly_visible)} reappear."
        )
        _print_mail(result)

    try:
        count = run_worker(
            db=store, once=once, poll=poll, should_stop=stopping.is_set, on_start=on_start,
            on_end=on_end, progress_for=progress_for,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    click.echo(f"Worker stopped after {count} batch(es).")


@cli.command("notify-retry")
@click.argument("batch_id", type=int)
@click.pass_obj
def notify_retry(store: Store, batch_id: int) -> None:
    """Send a finished batch's mail again (after it failed to go out).

    Example: backorder-ops notify-retry 7
    """
    delivery = retry_notify(batch_id, db=store)
    if delivery.status == "failed":
        click.echo(f"Error: the mail was not sent: {delivery.detail}", err=True)
        sys.exit(EXIT_REFUSED)
    click.echo(_mail_line(delivery.status, delivery.detail))


def _mail_line(status: str | None, detail: str | None) -> str:
    return {
        "sent": f"Mail sent to {detail}.",
        "written": f"No SMTP server set up (BACKORDER_OPS_SMTP_URL): the mail was written to "
        f"{detail}.",
        "failed": f"The mail could not be sent ({detail}); the batch stands. Try again with "
        "`backorder-ops notify-retry ID`.",
        "pending": "The mail goes out when the batch ends.",
    }.get(status or "", "")


def _print_mail(result: BatchResult) -> None:
    if result.notify:
        click.echo(_mail_line(result.notify_status, result.notify_detail))


def _finish(result: BatchResult, as_json: bool, *, preview: bool) -> None:
    if as_json:
        _emit(result.to_json())
    else:
        _print_batch(result, preview=preview)
    if result.status in ("refused", "failed"):
        sys.exit(EXIT_REFUSED)


def _print_batch(result: BatchResult, *, preview: bool) -> None:
    s = result.summary()
    title = "Preview of" if preview else f"Batch {result.batch_id}:"
    ref = f" (Referentie: {result.reference})" if result.reference else ""
    outcome = {
        "done": "would be applied" if preview else "applied",
        "refused": "would be refused (strict mode)" if preview else "refused, nothing applied",
        "failed": "failed, nothing applied",
    }.get(result.status, result.status)
    click.echo(f"{title} {result.source}{ref}: {outcome}.")
    click.echo(
        f"  {s['rows']} row(s): {s['applied']} applied, {s['unchanged']} unchanged, "
        f"{s['rejected']} rejected."
    )
    rejected = result.rejected
    if not rejected.empty:
        click.echo(f"\nRejected rows ({len(rejected)}):")
        click.echo(render.table(rejected, {"row": "row", "reason": "reason",
                                           "message": "message"}))  # fmt: skip
    if result.status == "done":
        _print_changes(result.newly_hidden, result.newly_visible)
    for warning in result.warnings:
        click.echo(f"Note: {warning}")
    _print_mail(result)


@cli.command()
@click.argument("batch_id", required=False, type=int)
@click.option("--limit", type=int, default=50, show_default=True, help="Batches to list.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def history(store: Store, batch_id: int | None, limit: int, as_json: bool) -> None:
    """List batches, most recent first; with an ID, show that batch's rows.

    Example: backorder-ops history 3
    """
    if batch_id is None:
        batches = store.list_batches(limit=limit)
        if as_json:
            _emit(json.loads(batches.to_json(orient="records", date_format="iso")))
            return
        click.echo(render.table(batches, {
            "id": "id", "created": "when", "kind": "kind", "reference": "reference",
            "status": "status", "rows_total": "rows", "applied": "applied",
            "unchanged": "unchanged", "rejected": "rejected", "newly_hidden": "disappear",
            "newly_visible": "reappear",
        }, limit=None))  # fmt: skip
        return
    record, rows, changes = store.read_batch(batch_id)
    if as_json:
        _emit({
            "batch": record,
            "rows": json.loads(rows.to_json(orient="records")),
            "visibility": {
                "newly_hidden": sorted(changes.loc[changes["change"] == "hidden", "ean"]),
                "newly_visible": sorted(changes.loc[changes["change"] == "visible", "ean"]),
            },
        })  # fmt: skip
        return
    for name, value in record.items():
        if value is not None:
            click.echo(f"  {name:<14} {value}")
    if not rows.empty:
        click.echo("\nRows:")
        click.echo(render.table(rows, {"row": "row", "ean": "ean", "value_given": "value",
                                       "status": "status", "reason": "reason",
                                       "message": "message"}, limit=None))  # fmt: skip
    if not changes.empty:
        _print_changes(
            changes[changes["change"] == "hidden"], changes[changes["change"] == "visible"]
        )


@batch.command()
@click.argument("batch_id", type=int)
@click.option("--reference", help="Referentie, kept in the history with the undo.")
@click.option("--preview", "preview_only", is_flag=True, help="Show what would be restored only.")
@click.option("--json", "as_json", is_flag=True, help="Print the RULES section 5 JSON.")
@click.pass_obj
def undo(store: Store, batch_id: int, reference: str | None, preview_only: bool,
         as_json: bool) -> None:  # fmt: skip
    """Undo a batch: a new batch that restores the values it changed.

    A product whose setting has been changed since is left alone and reported
    (reason changed_since). The undo is kept in the history, linked to BATCH_ID.

    Example: backorder-ops batch undo 2 --reference "terug naar week 48"
    """
    result = undo_batch(batch_id, db=store, reference=reference, preview=preview_only)
    _finish(result, as_json, preview=preview_only)


@cli.group()
def report() -> None:
    """Reports: what disappears, reappears or is at risk, as text, JSON, .xlsx or .csv."""


def _report_out(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.lower().endswith((".xlsx", ".csv")):
        raise click.BadParameter("give a file name ending in .xlsx or .csv.")
    return value


def _report_options(command):
    for option in (
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
        click.option("--charts", is_flag=True, help="Also write the charts as PNG next to --out."),
        click.option("--out", metavar="FILE.xlsx|FILE.csv", callback=_report_out,
                     help="Write a workbook, or one .csv per sheet (FILE-Verdwijnt.csv, ...)."),
    ):  # fmt: skip
        command = option(command)
    return command


def _deliver(result: Report, out: str | None, charts: bool, as_json: bool) -> None:
    if charts and not out:
        raise click.UsageError("--charts needs --out: the PNG files are written next to it.")
    written = (result.write(out) + (result.write_charts(out) if charts else [])) if out else []
    if as_json:
        _emit(result.to_json() | {"files": [str(path) for path in written]})
        return
    for label, value in result.summary_frame().itertuples(index=False):
        click.echo(f"  {label}: {value}")
    for title, frame in (("Disappear", result.disappear), ("Reappear", result.reappear)):
        if frame is not None:
            click.echo(f"\n{title} ({len(frame)}):\n{render.grouped_products(frame)}")
    if result.rejected is not None and not result.rejected.empty:
        click.echo(f"\nRejected rows ({len(result.rejected)}):")
        click.echo(render.table(result.rejected, {"row": "row", "reason": "reason",
                                                  "message": "message"}))  # fmt: skip
    if result.at_risk is not None:
        click.echo(f"\nAt risk, by parent ({len(result.at_risk)}):")
        columns = {"parent_ean": "parent", "ean": "ean", "name": "name", "stock": "stock",
                   "listing_disappears": "whole listing goes"}  # fmt: skip
        at_risk = result.at_risk.assign(
            listing_disappears=result.at_risk["listing_disappears"].map({True: "yes", False: ""})
        )
        click.echo(render.table(at_risk, columns))
    for warning in result.warnings:
        click.echo(f"Note: {warning}")
    for path in written:
        click.echo(f"Wrote {path}")


@report.command("batch")
@click.argument("batch_id", type=int)
@_report_options
@click.pass_obj
def report_batch(store: Store, batch_id: int, out: str | None, charts: bool,
                 as_json: bool) -> None:  # fmt: skip
    """Report a batch from the history: what it made disappear and reappear, rejected rows.

    Example: backorder-ops report batch 2 --out rapport.xlsx --charts
    """
    _deliver(Report.from_history(store, batch_id), out, charts, as_json)


@report.command("preview")
@_sheet_argument
@_sheet_option
@_report_options
@click.pass_obj
def report_preview(store: Store, sheet: str, sheet_name: str | None, out: str | None,
                   charts: bool, as_json: bool) -> None:  # fmt: skip
    """Report what a batch sheet would change, before anything is applied; writes no history.

    Example: backorder-ops report preview data/sample/batch_week49.xlsx --out preview.xlsx
    """
    result = preview_batch(_read(sheet, sheet_name), db=store)
    _deliver(Report.from_batch(result, db=store), out, charts, as_json)


@report.command("shop")
@click.option(
    "--sell-when-out-of-stock", "setting", required=True,
    type=click.Choice(["on", "off"], case_sensitive=False),
    help="The value of 'Producten kunnen bestellen wanneer deze niet op voorraad zijn' to try.",
)  # fmt: skip
@_report_options
@click.pass_obj
def report_shop(store: Store, setting: str, out: str | None, charts: bool,
                as_json: bool) -> None:  # fmt: skip
    """What-if: what the shop setting would make disappear or reappear; nothing is changed.

    Example: backorder-ops report shop --sell-when-out-of-stock off --out wat-als.xlsx
    """
    change = set_shop_setting(setting.lower() == "on", db=store, dry_run=True)
    _deliver(Report.from_shop_change(change, db=store), out, charts, as_json)


@report.command("current")
@click.option("--threshold", type=click.IntRange(min=0), default=2, show_default=True,
              help="At risk: visible only thanks to a stock of at most this many.")  # fmt: skip
@_report_options
@click.pass_obj
def report_current(store: Store, threshold: int, out: str | None, charts: bool,
                   as_json: bool) -> None:  # fmt: skip
    """The shop now, and the products at risk: visible only thanks to a low stock.

    Example: backorder-ops report current --threshold 3 --out risico.xlsx
    """
    _deliver(Report.current(store, threshold=threshold), out, charts, as_json)


def main() -> None:
    """Console entry point."""
    try:
        cli(prog_name="backorder-ops")
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
