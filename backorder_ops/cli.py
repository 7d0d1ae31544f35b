"""The ``backorder-ops`` command line: a thin mirror of the library.

Each command gathers its input, calls one library function and prints the
result as a table (default) or as JSON (``--json``, RULES section 5).
Exit codes: 0 done, 1 refused or failed, 2 bad usage or a structure error.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import click
import pandas as pd

from . import render
from .batch import BatchResult, apply_batch, preview_batch, read_sheet
from .catalog import load_catalog
from .errors import BackorderOpsError
from .store import Store
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
        except (click.exceptions.Exit, click.ClickException, click.Abort):
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
@click.option("--json", "as_json", is_flag=True, help="Print the RULES section 5 JSON.")
@click.pass_obj
def apply(store: Store, sheet: str, sheet_name: str | None, reference: str | None,
          notify: str | None, strict: bool, as_json: bool) -> None:  # fmt: skip
    """Apply a batch sheet: every valid row, in one transaction, kept in the history.

    Example: backorder-ops batch apply data/sample/batch_week49.xlsx --reference "week 49"
    """
    result = apply_batch(
        _read(sheet, sheet_name), db=store, reference=reference, strict=strict, notify=notify
    )
    _finish(result, as_json, preview=False)


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


def main() -> None:
    """Console entry point."""
    cli(prog_name="backorder-ops")


if __name__ == "__main__":
    main()
