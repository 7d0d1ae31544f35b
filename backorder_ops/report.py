"""Reports: which products disappear, which reappear, which are at risk — as files and charts.

A :class:`Report` is made from a batch preview or result, an applied batch in the
history, a shop-setting change (or what-if), or the current state of the shop. It
holds a summary and up to four tables, shows itself in a notebook, gives
``to_json()``, writes an ``.xlsx`` workbook or ``.csv`` files, and draws charts.

Sheets, in this order, where they apply:

=============  ==========================================  ===========================
sheet          what                                        in reports of
=============  ==========================================  ===========================
Samenvatting   reference, when, counts, shop setting       all
Verdwijnt      products that disappear, and why            preview, batch, shop
Verschijnt     products that reappear, and why             preview, batch, shop
Afgewezen      rejected rows: row, EAN and value as given  preview, batch
Risico         visible only thanks to a low stock          current
=============  ==========================================  ===========================

Nothing from the data ever becomes a formula or a link. In a workbook every text
cell is written as a string cell (xlsxwriter with ``strings_to_formulas`` and
``strings_to_urls`` off, and ``write_string`` for text columns); EANs are text, so
Excel shows every digit. In CSV files a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is prefixed with ``'``; number columns
(stock, row) are left as they are, so ``-5`` stays a number.

The writer was chosen by measurement (``benchmarks/bench_report.py``): xlsxwriter in
constant-memory mode with typed ``write_string``/``write_number`` calls was the
fastest of xlsxwriter, pandas' ``to_excel`` (xlsxwriter and openpyxl engines) and
openpyxl's write-only mode, and its memory stays flat.

matplotlib is imported only when a chart is asked for, so ``import backorder_ops``
stays quick.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .batch import BatchResult
from .errors import BackorderOpsError
from .rules import compute_visibility, is_visible
from .store import Store, now
from .visibility import ShopChange, as_store, describe_products

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

DEFAULT_THRESHOLD = 2
SHOP_SETTING = "Producten kunnen bestellen wanneer deze niet op voorraad zijn"
SETTING = "'Backorders toegestaan'"

#: Sections of a report and the sheet (and CSV file suffix) each one is written to.
SHEETS = {
    "summary": "Samenvatting",
    "disappear": "Verdwijnt",
    "reappear": "Verschijnt",
    "rejected": "Afgewezen",
    "at_risk": "Risico",
}
#: Columns of each table section and their headers in files, in order.
COLUMNS = {
    "disappear": {
        "ean": "EAN", "sku": "SKU", "name": "name", "parent_ean": "parent EAN",
        "parent_name": "parent name", "stock": "stock", "role": "role", "reason": "reason",
    },
    "rejected": {
        "row": "row", "ean_given": "EAN (as given)", "value_given": "value (as given)",
        "reason": "reason", "message": "message",
    },
    "at_risk": {
        "parent_ean": "parent EAN", "parent_name": "parent name", "ean": "EAN", "sku": "SKU",
        "name": "name", "stock": "stock", "role": "role",
        "listing_disappears": "listing disappears when sold out",
    },
}  # fmt: skip
COLUMNS["reappear"] = COLUMNS["disappear"]
#: Columns written as numbers; flags are written as ja/nee; everything else is text.
NUMBER_COLUMNS = frozenset({"row", "stock"})
FLAG_COLUMNS = frozenset({"listing_disappears"})
#: The summary's value column holds text, numbers and dates: each cell by its type.
MIXED_COLUMNS = frozenset({"value"})
#: Labels of the summary's fields in files and on screen.
SUMMARY_LABELS = {
    "title": "report",
    "batch_id": "batch",
    "batch_kind": "kind",
    "undoes": "undoes batch",
    "reference": "Referentie",
    "source": "source",
    "when": "when",
    "status": "status",
    "rows": "rows",
    "applied": "applied",
    "unchanged": "unchanged",
    "rejected": "rejected",
    "disappear": "disappear",
    "reappear": "reappear",
    "sell_when_out_of_stock_before": SHOP_SETTING + " (before)",
    "sell_when_out_of_stock": SHOP_SETTING,
    "products": "products",
    "visible_before": "visible before",
    "hidden_before": "hidden before",
    "visible_after": "visible after",
    "hidden_after": "hidden after",
    "visible": "visible",
    "hidden": "hidden",
    "threshold": "at risk: stock at or below",
    "at_risk": "at risk (products and variants)",
    "at_risk_listings": "at risk: listings that disappear when these sell out",
    "note": "note",
}
#: Text that a spreadsheet would read as the start of a formula (RULES: no formulas from data).
FORMULA_START = r"^[=+\-@\t\r]"
MAX_WIDTH = 60
CHUNK_ROWS = 10_000
HTML_ROWS = 200


@dataclass
class Report:
    """What a batch, a shop-setting change or the current state means for the shop.

    ``kind`` is ``preview``, ``batch`` (an applied batch, undo batches included),
    ``shop`` (a shop-setting change or what-if) or ``current``. ``summary`` is a
    dict of plain values; the tables are DataFrames, ``None`` where a section does
    not apply (see :data:`SHEETS`).

    >>> report = Report.current("data/demo.duckdb", threshold=2)  # doctest: +SKIP
    >>> report.at_risk[["parent_name", "name", "stock"]]  # doctest: +SKIP
    >>> report.write("risico.xlsx")  # doctest: +SKIP
    """

    kind: str
    summary: dict[str, Any]
    disappear: pd.DataFrame | None = None
    reappear: pd.DataFrame | None = None
    rejected: pd.DataFrame | None = None
    at_risk: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)

    # -- making reports ----------------------------------------------------------------

    @classmethod
    def from_batch(cls, result: BatchResult, *, db: Store | str | None = None) -> Report:
        """A report of a batch preview or of a batch just applied (or undone).

        With ``db``, the summary also gives how many products are visible before and
        after, taken from the catalog as it is now: for a preview that is the state
        before the batch, for an applied batch the state after it.

        >>> result = preview_batch("batch_week49.xlsx", db="data/demo.duckdb")  # doctest: +SKIP
        >>> Report.from_batch(result, db="data/demo.duckdb").write("week49.xlsx")  # doctest: +SKIP
        """
        preview = result.batch_id is None
        undoes = getattr(result, "undoes", None)
        counts = result.summary()
        summary = {
            "title": (
                f"Preview of {result.source}"
                if preview
                else f"Batch {result.batch_id}: {result.source}"
            ),
            "batch_id": result.batch_id,
            "batch_kind": "undo" if undoes is not None else "backorder",
            "undoes": undoes,
            "reference": result.reference,
            "source": result.source,
            "when": now(),
            "status": "preview" if preview else result.status,
            **{k: counts[k] for k in ("rows", "applied", "unchanged", "rejected")},
            "disappear": len(result.newly_hidden),
            "reappear": len(result.newly_visible),
        }
        if db is not None:
            summary |= _counts_now(
                as_store(db), result.newly_hidden, result.newly_visible, now_is_after=not preview
            )
        return cls(
            kind="preview" if preview else "batch",
            summary=_known(summary),
            disappear=_explain(result.newly_hidden, hidden=True, cause="setting"),
            reappear=_explain(result.newly_visible, hidden=False, cause="setting"),
            rejected=_rejected(result.rows),
            warnings=list(result.warnings),
        )

    @classmethod
    def from_history(cls, store: Store | str | None, batch_id: int) -> Report:
        """A report of a batch in the history, from its row log and what it flipped.

        Visible and hidden counts before and after are given when no later batch
        has changed the catalog since (so that the catalog now is the state after).

        >>> Report.from_history("data/demo.duckdb", 2).write("batch-2.xlsx")  # doctest: +SKIP
        """
        store = as_store(store)
        record, rows, changes = store.read_batch(batch_id)
        with store.connect(read_only=True) as con:
            shop_before = store.shop_setting_before(con, batch_id)
            changed_since = store.first_change_after(con, batch_id)
        shop_rows = rows[rows["key"].isna() & (rows["status"] == "applied")]
        is_shop = record["kind"] == "shop" or (record["kind"] == "undo" and not shop_rows.empty)
        shop_after = bool(shop_rows["new_value"].iloc[-1]) if not shop_rows.empty else shop_before
        hidden = changes[changes["change"] == "hidden"].drop(columns="change")
        shown = changes[changes["change"] == "visible"].drop(columns="change")
        summary = {
            "title": f"Batch {batch_id}: {record['source'] or record['kind']}",
            "batch_id": batch_id,
            "batch_kind": record["kind"],
            "undoes": record.get("undoes"),
            "reference": record["reference"],
            "source": record["source"],
            "when": record["finished"] or record["created"],
            "status": record["status"],
            "rows": record["rows_total"],
            "applied": record["applied"],
            "unchanged": record["unchanged"],
            "rejected": record["rejected"],
            "disappear": len(hidden),
            "reappear": len(shown),
        }
        if is_shop:
            summary["sell_when_out_of_stock_before"] = shop_before
        summary["sell_when_out_of_stock"] = shop_after
        if record["kind"] == "load":
            summary["note"] = "A catalog load: what it flipped is not kept in the history."
        elif changed_since:
            summary["note"] = (
                "Visible and hidden counts are not given: the catalog has changed since "
                f"(batch {changed_since})."
            )
        else:
            counts = _counts_now(store, hidden, shown, now_is_after=True)
            counts.pop("sell_when_out_of_stock")  # the history knows it as it was then
            summary |= counts
        cause = "shop" if is_shop else "setting"
        return cls(
            kind="batch" if record["kind"] != "shop" else "shop",
            summary=_known(summary),
            disappear=_explain(hidden, hidden=True, cause=cause),
            reappear=_explain(shown, hidden=False, cause=cause),
            rejected=None if record["kind"] == "shop" else _rejected(rows),
        )

    @classmethod
    def from_shop_change(cls, change: ShopChange, *, db: Store | str | None = None) -> Report:
        """A report of a shop-setting change, or of a what-if (``dry_run=True``).

        >>> change = set_shop_setting(False, db="data/demo.duckdb", dry_run=True)  # doctest: +SKIP
        >>> Report.from_shop_change(change, db="data/demo.duckdb").disappear  # doctest: +SKIP
        """
        preview = change.batch_id is None
        before, after = _on_off(change.previous), _on_off(change.sell_when_out_of_stock)
        title = f"shop setting {before} -> {after}" + ("" if change.changed else " (no change)")
        summary = {
            "title": ("What-if: " if preview else f"Batch {change.batch_id}: ") + title,
            "batch_id": change.batch_id,
            "batch_kind": "shop",
            "reference": change.reference,
            "when": now(),
            "status": "preview" if preview else change.status,
            "disappear": len(change.newly_hidden),
            "reappear": len(change.newly_visible),
            "sell_when_out_of_stock_before": change.previous,
            "sell_when_out_of_stock": change.sell_when_out_of_stock,
        }
        if db is not None:
            counts = _counts_now(
                as_store(db), change.newly_hidden, change.newly_visible, now_is_after=not preview
            )
            counts.pop("sell_when_out_of_stock")  # the change knows it better
            summary |= counts
        return cls(
            kind="shop",
            summary=_known(summary),
            disappear=_explain(change.newly_hidden, hidden=True, cause="shop"),
            reappear=_explain(change.newly_visible, hidden=False, cause="shop"),
            warnings=list(change.warnings),
        )

    @classmethod
    def current(
        cls, db: Store | str | None = None, *, threshold: int = DEFAULT_THRESHOLD
    ) -> Report:
        """The shop as it is now, with the products at risk (see :func:`find_at_risk`).

        >>> Report.current("data/demo.duckdb", threshold=2).summary["at_risk"]  # doctest: +SKIP
        """
        store = as_store(db)
        with store.connect(read_only=True) as con:
            products = store.read_products(con)
            shop = store.read_shop(con)
            visible = store.visibility_counts(con)[1]
        at_risk = find_at_risk(products, shop, threshold=threshold)
        listings = at_risk.loc[at_risk["listing_disappears"], "parent_ean"].fillna(
            at_risk.loc[at_risk["listing_disappears"], "ean"]
        )
        summary = {
            "title": "Current state",
            "when": now(),
            "sell_when_out_of_stock": shop,
            "products": len(products),
            "visible": visible,
            "hidden": len(products) - visible,
            "threshold": int(threshold),
            "at_risk": len(at_risk),
            "at_risk_listings": int(listings.nunique()),
        }
        return cls(kind="current", summary=summary, at_risk=at_risk)

    # -- looking at it -----------------------------------------------------------------

    @property
    def sections(self) -> list[str]:
        """The sections this report has, in sheet order (``summary`` first)."""
        return ["summary"] + [name for name in list(SHEETS)[1:] if getattr(self, name) is not None]

    @property
    def title(self) -> str:
        return str(self.summary.get("title", "Report"))

    def summary_frame(self) -> pd.DataFrame:
        """The summary as a table of labels and values as shown (on/off, dates to the minute)."""
        return pd.DataFrame(
            {
                "field": [SUMMARY_LABELS.get(k, k) for k in self.summary],
                "value": [_display(k, v) for k, v in self.summary.items()],
            }
        )

    def to_json(self) -> dict:
        """The summary and every table as records (EANs as text, dates as ISO 8601)."""
        data: dict[str, Any] = {
            "report": self.kind,
            "summary": {k: _json_value(v) for k, v in self.summary.items()},
        }
        for name in self.sections[1:]:
            frame = getattr(self, name)[list(COLUMNS[name])]
            data[name] = json.loads(frame.to_json(orient="records", date_format="iso"))
        data["warnings"] = list(self.warnings)
        return data

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(SUMMARY_LABELS.get(k, k))}</th>"
            f"<td style='text-align:left'>{html.escape(_display(k, v))}</td></tr>"
            for k, v in self.summary.items()
        )
        parts = [f"<h3>{html.escape(self.title)}</h3><table>{rows}</table>"]
        for name in self.sections[1:]:
            frame = getattr(self, name)
            head = f"<h4>{SHEETS[name]} ({len(frame)})</h4>"
            if frame.empty:
                parts.append(head + "<p>(none)</p>")
                continue
            shown = frame[list(COLUMNS[name])].head(HTML_ROWS).rename(columns=COLUMNS[name])
            more = (
                f"<p>… and {len(frame) - HTML_ROWS} more (write the report to see them all)</p>"
                if len(frame) > HTML_ROWS
                else ""
            )
            parts.append(head + shown.to_html(index=False, na_rep="", escape=True) + more)
        parts += [f"<p>Note: {html.escape(w)}</p>" for w in self.warnings]
        return "".join(parts)

    # -- files -------------------------------------------------------------------------

    def write(self, path: str | os.PathLike, *, sep: str = ";") -> list[Path]:
        """Write the report: ``.xlsx`` (one sheet per section) or ``.csv`` (one file each).

        A CSV report is one file per section, named after the sheet:
        ``rapport.csv`` gives ``rapport-Samenvatting.csv``, ``rapport-Verdwijnt.csv``,
        ... (``sep=";"`` and UTF-8 with a byte-order mark, as Dutch Excel opens them).
        Returns the paths written.

        >>> Report.current("data/demo.duckdb").write("risico.xlsx")  # doctest: +SKIP
        [PosixPath('risico.xlsx')]
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".xlsx", ".csv"):
            raise ValueError(f"{path.name}: a report is written as .xlsx or .csv, not '{suffix}'.")
        tables = self._tables()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if suffix == ".xlsx":
                write_workbook(tables, path)
                return [path]
            return write_csv(tables, path, sep=sep)
        except OSError as error:
            raise BackorderOpsError(
                f"Cannot write {error.filename or path}: {error.strerror or error}."
            ) from None

    def _tables(self) -> list[Table]:
        summary = pd.DataFrame(
            {
                "field": [SUMMARY_LABELS.get(k, k) for k in self.summary],
                "value": pd.Series(
                    [_cell_value(k, v) for k, v in self.summary.items()], dtype="object"
                ),
            }
        )
        tables = [Table(SHEETS["summary"], summary, {"field": "field", "value": "value"})]
        for name in self.sections[1:]:
            tables.append(Table(SHEETS[name], getattr(self, name), COLUMNS[name]))
        return tables

    # -- charts ------------------------------------------------------------------------

    def chart_visibility(self) -> Figure:
        """Bars: visible and hidden products before and after (or now, for the current state)."""
        from matplotlib.figure import Figure

        s = self.summary
        figure = Figure(figsize=(6, 4), layout="constrained")
        axes = figure.add_subplot()
        if "visible_before" in s:
            labels = ["before", "after"]
            visible = [s["visible_before"], s["visible_after"]]
            hidden = [s["hidden_before"], s["hidden_after"]]
        elif "visible" in s:
            labels, visible, hidden = ["now"], [s["visible"]], [s["hidden"]]
        else:  # before and after are unknown: show what flipped
            labels = ["disappear", "reappear"]
            bars = axes.bar(labels, [s.get("disappear", 0), s.get("reappear", 0)],
                            color=["#c0392b", "#27ae60"])  # fmt: skip
            axes.bar_label(bars)
            axes.set_ylabel("products")
            axes.set_title(_wrap(self.title))
            return _agg(figure)
        x = np.arange(len(labels))
        width = 0.38
        shown = axes.bar(x - width / 2, visible, width, label="visible", color="#27ae60")
        gone = axes.bar(x + width / 2, hidden, width, label="hidden", color="#c0392b")
        axes.bar_label(shown)
        axes.bar_label(gone)
        axes.set_ylim(0, max([*visible, *hidden, 1]) * 1.18)  # room for labels and legend
        axes.set_xticks(x, labels)
        axes.set_ylabel("products")
        axes.set_title(_wrap(self.title))
        axes.legend()
        return _agg(figure)

    def chart_by_parent(self, *, top: int = 15) -> Figure:
        """Horizontal bars: what disappears (at risk, for the current state), by parent.

        Variants count under their parent; standalone products share one bar. The
        ``top`` largest groups are shown, the rest are summed in one bar.
        """
        from matplotlib.figure import Figure

        frame = self.at_risk if self.kind == "current" else self.disappear
        what = "at risk" if self.kind == "current" else "disappear"
        counts = count_by_parent(frame if frame is not None else _no_products(), top=top)
        figure = Figure(figsize=(8, max(2.5, 0.35 * len(counts) + 1.2)), layout="constrained")
        axes = figure.add_subplot()
        if counts.empty:
            axes.text(0.5, 0.5, f"nothing {what}", ha="center", va="center")
            axes.set_axis_off()
        else:
            bars = axes.barh(counts.index[::-1], counts.to_numpy()[::-1], color="#c0392b")
            axes.bar_label(bars, padding=2)
            axes.set_xlim(0, counts.max() * 1.12)
            axes.set_xlabel(f"products and variants that {what}")
        axes.set_title(_wrap(f"{self.title}: {what}, by parent"))
        return _agg(figure)

    def charts(self) -> dict[str, Figure]:
        """The report's charts by name: ``zichtbaarheid`` and ``verdwijnt`` (or ``risico``)."""
        second = "risico" if self.kind == "current" else "verdwijnt"
        return {"zichtbaarheid": self.chart_visibility(), second: self.chart_by_parent()}

    def write_charts(self, path: str | os.PathLike, *, dpi: int = 110) -> list[Path]:
        """Write the charts as PNG next to ``path``: ``rapport.xlsx`` gives ``rapport-*.png``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for name, figure in self.charts().items():
            target = path.with_name(f"{path.stem}-{name}.png")
            figure.savefig(target, dpi=dpi)
            written.append(target)
        return written


# -- at risk -------------------------------------------------------------------------------


def find_at_risk(
    products: pd.DataFrame, sell_when_out_of_stock: bool, *, threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """Products visible today only thanks to their stock, with at most ``threshold`` left.

    A sellable unit (a standalone product or a variant) is at risk when its stock
    is above 0 and at or below ``threshold``, and it cannot be ordered without
    stock (the shop setting off and its owner's "Backorders toegestaan" off): it
    disappears as soon as it sells out. ``listing_disappears`` tells whether the
    listing (the standalone product, or the variant's parent) disappears too once
    all its at-risk units have sold out. Sorted by parent, then EAN.

    ``products`` is the catalog as :meth:`Store.read_products` returns it.
    """
    keys = products["key"].to_numpy(dtype="int64")
    parent = products["parent_key"]
    is_variant = parent.notna().to_numpy()
    has_variants = products["key"].isin(parent.dropna()).to_numpy()
    owner = np.where(is_variant, parent.fillna(0).to_numpy(dtype="int64"), keys)
    setting = pd.Series(products["backorder_allowed"].to_numpy(dtype=bool), index=keys)
    owner_setting = setting.reindex(owner).fillna(False).to_numpy(dtype=bool)
    stock = products["stock"].to_numpy(dtype="int64")
    # The rule itself says whether a unit could still be shown without stock.
    needs_stock = ~np.asarray(
        is_visible(np.zeros(len(stock), dtype="int64"), owner_setting, bool(sell_when_out_of_stock))
    )
    risk = ~has_variants & (stock > 0) & (stock <= threshold) & needs_stock

    sold_out = products.assign(stock=np.where(risk, 0, stock))
    after = compute_visibility(sold_out, sell_when_out_of_stock)
    listing_gone = pd.Series(~after.to_numpy(dtype=bool), index=keys)

    at_risk = describe_products(products, keys[risk])
    owner_of = pd.Series(owner[risk], index=keys[risk], dtype="int64")
    at_risk["listing_disappears"] = listing_gone.reindex(
        owner_of.reindex(at_risk["key"]).to_numpy(dtype="int64")
    ).to_numpy(dtype=bool)
    group = at_risk["parent_ean"].fillna(at_risk["ean"])
    order = np.lexsort((at_risk["ean"].to_numpy(dtype=str), group.to_numpy(dtype=str)))
    return at_risk.iloc[order].reset_index(drop=True)


def count_by_parent(products: pd.DataFrame, *, top: int = 15) -> pd.Series:
    """How many products and variants per parent (standalone products in one group).

    Parent rows themselves are not counted (their variants are); the ``top``
    largest groups are kept and the rest summed under one label.
    """
    units = products[products["role"] != "parent"]
    if units.empty:
        return pd.Series(dtype="int64")
    label = (
        units["parent_name"].fillna("").astype("str") + " (" + units["parent_ean"] + ")"
    ).where(units["parent_ean"].notna(), "standalone products")
    counts = label.value_counts(sort=False).sort_index().sort_values(ascending=False, kind="stable")
    if len(counts) > top:
        rest = counts.iloc[top - 1 :]
        counts = pd.concat(
            [counts.iloc[: top - 1], pd.Series({f"other ({len(rest)} groups)": int(rest.sum())})]
        )
    return counts.astype("int64")


# -- what the tables hold ------------------------------------------------------------------


def _explain(products: pd.DataFrame, *, hidden: bool, cause: str) -> pd.DataFrame:
    """The products of a visibility change with the reason each one flips."""
    described = ["key", "ean", "sku", "name", "parent_ean", "parent_name", "stock", "role"]
    frame = products.reindex(columns=described).reset_index(drop=True)
    frame = frame.astype({c: "str" for c in ("ean", "sku", "name", "role", "parent_ean",
                                              "parent_name")})  # fmt: skip
    if frame.empty:
        return frame.assign(reason=pd.Series(dtype="str"))
    role = frame["role"].fillna("product")
    stock = frame["stock"].astype("Int64").astype("str").fillna("?")
    on_parent = pd.Series(" on the parent", index=frame.index).where(role == "variant", "")
    if cause == "shop":
        unit = (
            f"{SHOP_SETTING} turned off; stock " + stock + f", {SETTING} off"
            if hidden
            else pd.Series(f"{SHOP_SETTING} turned on", index=frame.index)
        )
    else:
        unit = (
            f"{SETTING} set to nee" + on_parent + "; stock " + stock
            if hidden
            else f"{SETTING} set to ja" + on_parent
        )
    parent = "no variant left visible" if hidden else "a variant is visible again"
    frame["reason"] = unit.where(role != "parent", parent).astype("str")
    return frame


def _rejected(rows: pd.DataFrame) -> pd.DataFrame:
    rejected = rows[rows["status"] == "rejected"]
    frame = rejected.reindex(columns=list(COLUMNS["rejected"])).reset_index(drop=True)
    return frame.astype({"row": "Int64", "ean_given": "str", "value_given": "str",
                         "reason": "str", "message": "str"})  # fmt: skip


def _no_products() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in COLUMNS["disappear"]})


def _counts_now(
    store: Store, hidden: pd.DataFrame, shown: pd.DataFrame, *, now_is_after: bool
) -> dict:
    """Visible and hidden before and after, from the catalog now and what flipped.

    Also the shop setting now, under ``sell_when_out_of_stock``; a caller that knows
    the setting better (a shop change) keeps its own.
    """
    with store.connect(read_only=True) as con:
        total, visible = store.visibility_counts(con)
        shop = store.read_shop(con)
    flips = len(shown) - len(hidden)  # net products made visible
    before = visible - flips if now_is_after else visible
    after = visible if now_is_after else visible + flips
    return {"sell_when_out_of_stock": shop, "products": total, "visible_before": before,
            "hidden_before": total - before, "visible_after": after,
            "hidden_after": total - after}  # fmt: skip


def _known(summary: dict) -> dict:
    """The summary without the fields that do not apply (``None``)."""
    return {k: v for k, v in summary.items() if v is not None}


# -- history queries -----------------------------------------------------------------------
# Two read-only questions about the history that Store has no method for yet. They
# belong in store.py (the only module meant to speak SQL); kept here while that module
# is being restructured.


# -- writing files -------------------------------------------------------------------------


@dataclass
class Table:
    """One section as it is written: sheet name, frame and ``{column: header}``."""

    sheet: str
    frame: pd.DataFrame
    columns: dict[str, str]


_XLSX_OPTIONS = {
    "constant_memory": True,  # rows go to disk as they are written: flat memory
    "strings_to_formulas": False,  # "=HYPERLINK(...)" in a name stays text
    "strings_to_urls": False,  # and "http://..." does not become a link
    "strings_to_numbers": False,
    "default_date_format": "yyyy-mm-dd hh:mm",
}


def write_workbook(tables: list[Table], path: str | os.PathLike) -> None:
    """Write tables as sheets with xlsxwriter: bold frozen header, autofilter, widths.

    Text columns are written with ``write_string`` (never a formula, never a link;
    EANs keep every digit), number columns with ``write_number``; empty cells are
    left empty. Rows are written in order in constant-memory mode.
    """
    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    workbook = xlsxwriter.Workbook(str(path), _XLSX_OPTIONS)
    bold = workbook.add_format({"bold": True})
    for table in tables:
        _write_sheet(workbook, table, bold)
    try:
        workbook.close()
    except FileCreateError as error:  # wraps the OSError: open in Excel, no permission, ...
        cause = error.args[0] if error.args else None
        raise (cause if isinstance(cause, OSError) else OSError(str(error))) from None


def _write_sheet(workbook, table: Table, bold) -> None:
    sheet = workbook.add_worksheet(table.sheet)
    frame = table.frame
    names = list(table.columns)
    last = len(names) - 1
    for j, name in enumerate(names):
        sheet.set_column(j, j, _width(frame[name], table.columns[name]))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(frame), last)
    # EANs are text on purpose: no green "number stored as text" triangles.
    sheet.ignore_errors({"number_stored_as_text": f"A1:{_column_letter(last)}{len(frame) + 1}"})
    for j, name in enumerate(names):
        sheet.write_string(0, j, table.columns[name], bold)

    write_any = _any_writer(sheet)
    writers = [
        sheet.write_number
        if name in NUMBER_COLUMNS
        else write_any
        if name in MIXED_COLUMNS
        else sheet.write_string
        for name in names
    ]
    # Cells go to Python objects a chunk at a time, so memory stays flat for long sheets.
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        columns = [_cells(chunk[name], name) for name in names]
        for r, row in enumerate(zip(*columns, strict=True), start=start + 1):
            for j, value in enumerate(row):
                if value is not None:
                    writers[j](r, j, value)


def _cells(series: pd.Series, name: str) -> list:
    """A column's values as Python objects for xlsxwriter, ``None`` for an empty cell."""
    if name in FLAG_COLUMNS:
        series = series.map({True: "ja", False: "nee"})
    elif name not in NUMBER_COLUMNS and name not in MIXED_COLUMNS:
        series = series.astype("str")
    return series.astype("object").where(series.notna(), None).tolist()


def _any_writer(sheet):
    def write(r: int, j: int, value) -> None:
        if isinstance(value, str):
            sheet.write_string(r, j, value)
        elif isinstance(value, datetime):
            sheet.write_datetime(r, j, value)
        else:
            sheet.write_number(r, j, value)

    return write


def _width(series: pd.Series, header: str) -> float:
    longest = series.astype("object").where(series.notna(), "").astype("str").str.len().max()
    longest = 0 if longest is None or pd.isna(longest) else int(longest)
    return float(min(MAX_WIDTH, max(len(header) + 2, longest + 2, 6)))


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def write_csv(tables: list[Table], path: str | os.PathLike, *, sep: str = ";") -> list[Path]:
    """Write each table as ``<stem>-<sheet>.csv``; text that could start a formula gets a ``'``."""
    path = Path(path)
    written = []
    for table in tables:
        frame = pd.DataFrame(index=table.frame.index)
        for name, header in table.columns.items():
            series = table.frame[name]
            if name in FLAG_COLUMNS:
                series = series.map({True: "ja", False: "nee"})
            if name in NUMBER_COLUMNS:
                frame[header] = series
            elif name in MIXED_COLUMNS:
                frame[header] = series.map(_csv_cell)
            else:
                frame[header] = csv_safe(series.astype("str"))
        target = path.with_name(f"{path.stem}-{table.sheet}{path.suffix}")
        # CRLF line ends (RFC 4180) also make the writer quote a lone CR inside a cell.
        frame.to_csv(target, sep=sep, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        written.append(target)
    return written


def csv_safe(text: pd.Series) -> pd.Series:
    """Prefix text that a spreadsheet would read as a formula with ``'`` (vectorised).

    >>> csv_safe(pd.Series(["=SUM(A1)", "-5", "Mok"])).tolist()
    ["'=SUM(A1)", "'-5", 'Mok']
    """
    risky = text.str.contains(FORMULA_START, regex=True, na=False)
    return text.mask(risky, "'" + text)


def _csv_cell(value):
    if isinstance(value, str):
        return csv_safe(pd.Series([value], dtype="str")).iloc[0]
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


# -- small helpers -------------------------------------------------------------------------


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def _cell_value(key: str, value):
    """A summary value as it goes into a file: on/off for the shop setting, dates as dates."""
    if isinstance(value, bool | np.bool_):
        return _on_off(bool(value))
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _display(key: str, value) -> str:
    value = _cell_value(key, value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _json_value(value):
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return value


def _wrap(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _agg(figure: Figure) -> Figure:
    """Attach the Agg canvas: rendering needs no GUI and leaves pyplot's state alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    return figure
