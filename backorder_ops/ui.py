"""Notebook widgets: the batch form, the export loader and the report view.

The only module that imports ipywidgets (``pip install 'backorder_ops[notebook]'``);
``import backorder_ops`` never does. The widgets gather input, call the library
and render what it returns into HTML widgets; every rule lives in the library.

They work without a kernel too: setting a widget's ``.value`` fires its observers
and ``button.click()`` runs its handlers, so tests drive the forms directly and
assert on the widgets' state and on the store. Errors in the input (no columns
found, an unreadable file, an invalid address) are shown in an error widget next
to the field they concern, never raised into the notebook.

>>> from backorder_ops.ui import BatchForm
>>> form = BatchForm(db="data/demo.duckdb")  # doctest: +SKIP
>>> form  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import os
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets
import pandas as pd

from .batch import BatchResult, BatchSheet, check_address, preview_batch, read_sheet
from .catalog import LoadReport, load_catalog
from .errors import BackorderOpsError, DatabaseBusyError, StructureError
from .jobs import FINAL_STATUSES, BatchHandle, submit_batch
from .report import DEFAULT_THRESHOLD, SHOP_SETTING, Report
from .store import Store
from .visibility import ShopChange, as_store, current_visibility, set_shop_setting

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["BatchForm", "CatalogLoader", "ReportView"]

NOTIFY_LABEL = "Stuur mij een mail wanneer de taak is volbracht"
SHEET_ACCEPT = ".xlsx,.xls,.ods,.csv,.tsv"
EXPORT_ACCEPT = ".xlsx,.xls,.ods,.csv"
#: How often the batch form looks at a running batch's progress.
POLL_SECONDS = 0.25
#: How long the form waits, after a batch ends, for its mail to be sent or written.
MAIL_WAIT_SECONDS = 60.0
#: Rows of a table shown in a widget; files hold them all.
HTML_ROWS = 200
#: Largest file offered as a download link inside the widget (base64 in the page).
LINK_BYTES = 25_000_000
HISTORY_COLUMNS = {
    "id": "batch", "kind": "kind", "reference": "Referentie", "created": "created",
    "status": "status", "rows_total": "rows", "applied": "applied",
    "unchanged": "unchanged", "rejected": "rejected", "newly_hidden": "disappear",
    "newly_visible": "reappear", "notify_status": "mail",
}  # fmt: skip
PRODUCT_COLUMNS = {"ean": "EAN", "sku": "SKU", "name": "name", "stock": "stock", "role": "role"}
REJECTED_COLUMNS = {
    "row": "row", "ean_given": "EAN (as given)", "value_given": "value (as given)",
    "reason": "reason", "message": "message",
}  # fmt: skip
ISSUE_COLUMNS = {"row": "row", "cell": "cell", "code": "code", "message": "message"}


# -- rendering ---------------------------------------------------------------------------


def table_html(frame: pd.DataFrame, columns: dict[str, str], *, rows: int = HTML_ROWS) -> str:
    """A frame's ``columns`` as an escaped HTML table of at most ``rows`` rows."""
    shown = frame.reindex(columns=list(columns)).head(rows).rename(columns=columns)
    more = f"<p>… and {len(frame) - rows} more.</p>" if len(frame) > rows else ""
    return shown.to_html(index=False, na_rep="", escape=True, border=0) + more


def products_by_parent_html(products: pd.DataFrame, title: str, *, rows: int = HTML_ROWS) -> str:
    """Products (as the library describes them) under one heading per parent.

    A variant goes under its parent, a parent product under itself, and
    standalone products share one group: the level at which a shop lists them.
    """
    head = f"<h4>{html.escape(title)} ({len(products)})</h4>"
    if products.empty:
        return head + "<p>(none)</p>"
    own = products["ean"].where(products["role"] == "parent")
    group_ean = products["parent_ean"].fillna(own)
    group_name = products["parent_name"].fillna(
        products["name"].where(products["role"] == "parent")
    )
    label = (group_name.fillna("").astype("str") + " (" + group_ean.astype("str") + ")").where(
        group_ean.notna(), "standalone products"
    )
    ordered = products.assign(_group=label).sort_values(["_group", "ean"], kind="stable")
    shown = ordered.head(rows)
    parts = [head]
    counts = ordered["_group"].value_counts()
    for group, members in shown.groupby("_group", sort=False):
        parts.append(
            f"<h5 style='margin:0.6em 0 0.2em'>{html.escape(str(group))} — "
            f"{int(counts[group])}</h5>" + table_html(members, PRODUCT_COLUMNS, rows=rows)
        )
    if len(ordered) > rows:
        parts.append(f"<p>… and {len(ordered) - rows} more.</p>")
    return "".join(parts)


def batch_html(result: BatchResult) -> str:
    """The rejected rows, and what disappears and reappears grouped by parent."""
    rejected = result.rejected
    parts = [f"<h4>Rejected rows ({len(rejected)})</h4>"]
    parts.append(table_html(rejected, REJECTED_COLUMNS) if not rejected.empty else "<p>(none)</p>")
    parts.append(products_by_parent_html(result.newly_hidden, "Disappear from the shop"))
    parts.append(products_by_parent_html(result.newly_visible, "Reappear in the shop"))
    parts += [f"<p>Note: {html.escape(w)}</p>" for w in result.warnings]
    return "".join(parts)


def counts_html(result: BatchResult, *, preview: bool) -> str:
    """One paragraph: what the batch did (or would do)."""
    s = result.summary()
    what = "would make" if preview else "made"
    name = f"Preview of {result.source}" if preview else f"Batch {result.batch_id}"
    if result.reference:
        name += f" (Referentie '{result.reference}')"
    status = "preview" if preview and result.status == "done" else result.status
    text = (
        f"<b>{html.escape(name)}</b>: {html.escape(status)}. {s['rows']} rows: "
        f"<b>{s['applied']}</b> applied, {s['unchanged']} unchanged, "
        f"<b>{s['rejected']}</b> rejected. The batch {what} "
        f"<b>{len(result.newly_hidden)}</b> products disappear and "
        f"<b>{len(result.newly_visible)}</b> reappear."
    )
    if result.status == "refused":
        text += " Strict mode: the batch is refused as a whole; nothing is applied."
    if result.error:
        text += f"<br>{html.escape(result.error)}"
    return f"<p>{text}</p>"


def mail_html(result: BatchResult) -> str:
    """Where the batch's mail went ("Stuur mij een mail wanneer de taak is volbracht")."""
    detail = html.escape(result.notify_detail or "")
    by_status = {
        None: "No mail was asked for.",
        "pending": f"The mail to {html.escape(result.notify or '')} has not gone out yet.",
        "sent": f"Mail sent: {detail}.",
        "written": f"No mail server is set up; the mail was written to <code>{detail}</code>.",
        "failed": f"The mail could not be sent ({detail}); the batch stands. "
        f"Retry with <code>backorder-ops notify-retry {result.batch_id}</code>.",
    }
    return "<p>" + by_status.get(result.notify_status, detail) + "</p>"


def history_html(store: Store, *, limit: int = 20) -> str:
    """The most recent batches of the history, most recent first."""
    batches = store.list_batches(limit=limit)
    if batches.empty:
        return "<h4>History</h4><p>(empty)</p>"
    batches = batches.assign(created=batches["created"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    return "<h4>History (most recent first)</h4>" + table_html(batches, HISTORY_COLUMNS)


def load_html(report: LoadReport) -> str:
    """A load's outcome and its rejected rows with row numbers and messages."""
    s = report.summary()
    text = (
        f"<b>{html.escape(report.source)}</b>: {html.escape(report.status)}. {s['rows']} rows, "
        f"{s['loaded']} loaded, {s['rejected']} rejected."
    )
    if report.status == "refused" and not report.issues.empty:
        text += " Nothing was loaded; fix these rows, or tick 'Skip invalid rows'."
    parts = [f"<p>{text}</p>"]
    if not report.issues.empty:
        parts.append(f"<h4>Problems ({len(report.issues)})</h4>")
        parts.append(table_html(report.issues, ISSUE_COLUMNS))
    parts += [f"<p>Note: {html.escape(w)}</p>" for w in report.warnings]
    return "".join(parts)


def shop_change_html(change: ShopChange) -> str:
    """What flipping the shop setting would make disappear and reappear."""
    on = "on" if change.sell_when_out_of_stock else "off"
    if not change.changed:
        return f"<p>The shop setting is already {on}.</p>"
    return (
        f"<p>If the setting were turned <b>{on}</b>, <b>{len(change.newly_hidden)}</b> products "
        f"would disappear and <b>{len(change.newly_visible)}</b> reappear. Nothing is "
        "changed until you press 'Apply'.</p>"
        + products_by_parent_html(change.newly_hidden, "Would disappear")
        + products_by_parent_html(change.newly_visible, "Would reappear")
    )


def png(figure: Figure, *, dpi: int = 90) -> bytes:
    """A matplotlib figure as PNG bytes, for an ``Image`` widget."""
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def download_link(path: str | os.PathLike) -> str:
    """An ``<a download>`` link carrying the file itself, so it works in any front end."""
    path = Path(path)
    size = path.stat().st_size
    if size > LINK_BYTES:
        return f"<p>Written: <code>{html.escape(str(path))}</code> ({size:,} bytes).</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    kind = {
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".csv": "text/csv",
    }.get(path.suffix.lower(), "application/octet-stream")
    return (
        f"<p>Written: <code>{html.escape(str(path))}</code> — "
        f"<a download='{html.escape(path.name)}' href='data:{kind};base64,{data}'>"
        f"download {html.escape(path.name)}</a></p>"
    )


# -- small widget helpers ----------------------------------------------------------------


def _error_box() -> widgets.HTML:
    return widgets.HTML(layout=widgets.Layout(margin="0 0 0 1em"))


def _set_error(box: widgets.HTML, message: str) -> None:
    box.value = f"<span style='color:#b00020'>{html.escape(message)}</span>"


def _show(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def _uploaded(upload: widgets.FileUpload) -> tuple[str, bytes] | None:
    """The uploaded file's name and contents, or None."""
    if not upload.value:
        return None
    item = upload.value[-1]
    return item["name"], bytes(item["content"])


def _unexpected(error: Exception) -> str:
    return f"Unexpected error ({type(error).__name__}): {error}"


class _Panel:
    """A group of widgets shown as one (``widget``), with an error box per field."""

    widget: widgets.Box
    errors: dict[str, widgets.HTML]

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _clear_errors(self) -> None:
        for box in self.errors.values():
            box.value = ""

    def _fail(self, field: str, error: Exception) -> None:
        """Show ``error`` beside ``field``: a library error as it is, others with their kind."""
        message = str(error) if isinstance(error, BackorderOpsError) else _unexpected(error)
        _set_error(self.errors[field], message)


# -- the batch form ----------------------------------------------------------------------


class BatchForm(_Panel):
    """The "Product Backorder" batch form: check a sheet, then add it as a background batch.

    ``Controleren`` previews the batch (nothing is written) and enables
    ``Toevoegen``, which submits it to a worker thread of this process; a second
    thread follows its progress into ``progress`` and, when it ends, shows the
    result, where the mail went, and the history. The form is disabled meanwhile.
    ``wait(timeout)`` waits for that to finish (for tests and scripts).

    The sheet is the pasted text (``paste``) or the file chosen with ``upload``
    (or :meth:`choose_file`), whichever was given last.

    >>> form = BatchForm(db="data/demo.duckdb", reference="week 49")  # doctest: +SKIP
    >>> form.paste.value = "EAN\\tBackorder toegestaan?\\n8720165008094\\tnee\\n"  # doctest: +SKIP
    >>> form.check_button.click(); form.add_button.click(); form.wait(60)  # doctest: +SKIP
    """

    def __init__(
        self,
        db: Store | str | os.PathLike | None = None,
        *,
        reference: str = "",
        text: str | None = None,
        path: str | os.PathLike | None = None,
        notify: str | None = None,
        strict: bool = False,
    ):
        self.store = as_store(db)
        self.reference = widgets.Text(
            value=reference or "", description="Referentie", placeholder="e.g. week 49"
        )
        self.upload = widgets.FileUpload(accept=SHEET_ACCEPT, multiple=False, description="Bestand")
        self.paste = widgets.Textarea(
            placeholder="…or paste the columns 'EAN' and 'Backorder toegestaan?' from Excel here",
            layout=widgets.Layout(width="60em", height="9em"),
        )
        self.sheet_label = widgets.HTML()
        self.notify = widgets.Checkbox(
            description=NOTIFY_LABEL, indent=False, layout=widgets.Layout(width="auto")
        )
        self.address = widgets.Text(description="E-mail", placeholder="naam@voorbeeld.nl")
        self.strict = widgets.Checkbox(
            value=strict,
            description="Strict: refuse the whole batch when any row is rejected",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.check_button = widgets.Button(
            description="Controleren", icon="search", tooltip="Preview: nothing is changed"
        )
        self.add_button = widgets.Button(
            description="Toevoegen",
            icon="plus",
            button_style="success",
            disabled=True,
            tooltip="Apply the checked sheet (press Controleren first)",
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="Rows")
        self.status = widgets.HTML()
        self.summary = widgets.HTML()
        self.details = widgets.HTML()
        self.outcome = widgets.HTML()
        self.history = widgets.HTML()
        self.errors = {
            name: _error_box() for name in ("reference", "upload", "paste", "address", "form")
        }

        self.preview_result: BatchResult | None = None
        self.handle: BatchHandle | None = None
        self.last_result: BatchResult | None = None
        self._file: tuple[str, bytes] | None = None
        self._use: str | None = None  # "paste" or "file": the input given last
        self._checked = False  # the current input has been previewed
        self._follower: threading.Thread | None = None

        self.upload.observe(self._on_upload, "value")
        self.paste.observe(self._on_paste, "value")
        self.strict.observe(lambda _change: self._invalidate(), "value")
        self.notify.observe(self._on_notify, "value")
        self.address.observe(lambda _change: setattr(self.errors["address"], "value", ""), "value")
        self.check_button.on_click(self.check)
        self.add_button.on_click(self.add)

        _show(self.progress, False)
        self.widget = widgets.VBox(
            [
                widgets.HTML("<h3>Product Backorder</h3>"),
                widgets.HBox([self.reference, self.errors["reference"]]),
                widgets.HBox([self.upload, self.sheet_label, self.errors["upload"]]),
                self.paste,
                self.errors["paste"],
                self.notify,
                widgets.HBox([self.address, self.errors["address"]]),
                self.strict,
                widgets.HBox([self.check_button, self.add_button, self.progress]),
                self.errors["form"],
                self.status,
                self.summary,
                self.outcome,
                self.details,
                self.history,
            ]
        )
        self._on_notify(None)
        if path is not None:
            self.choose_file(path)
        if text:
            self.paste.value = text
        if notify:
            self.notify.value = True
            self.address.value = notify
        self._show_sheet()

    # -- input -------------------------------------------------------------------------

    def choose_file(self, path: str | os.PathLike) -> None:
        """Use a sheet file by its path, as if it had been uploaded."""
        try:
            self._file = (Path(path).name, Path(path).read_bytes())
        except OSError as error:
            _set_error(self.errors["upload"], f"{path}: cannot be read ({error.strerror}).")
            return
        self._use = "file"
        self._changed()

    def _on_upload(self, _change) -> None:
        self._file = _uploaded(self.upload)
        self._use = "file" if self._file else ("paste" if self.paste.value.strip() else None)
        self._changed()

    def _on_paste(self, _change) -> None:
        if self.paste.value.strip():
            self._use = "paste"
        else:
            self._use = "file" if self._file else None
        self._changed()

    def _on_notify(self, _change) -> None:
        _show(self.address, self.notify.value)
        _show(self.errors["address"], self.notify.value)
        if not self.notify.value:
            self.errors["address"].value = ""

    def _changed(self) -> None:
        self.errors["upload"].value = self.errors["paste"].value = ""
        self._show_sheet()
        self._invalidate()

    def _show_sheet(self) -> None:
        if self._use == "file":
            text = f"using file <b>{html.escape(self._file[0])}</b>"
        elif self._use == "paste":
            lines = len(self.paste.value.strip().splitlines())
            text = f"using the pasted text ({lines} lines)"
        else:
            text = "no sheet yet"
        self.sheet_label.value = text

    def _invalidate(self) -> None:
        """The sheet or the mode changed: a new check is needed before adding."""
        if self._checked:
            self.summary.value = "<p><i>The input changed: press Controleren again.</i></p>"
            self.details.value = ""
        self._checked = False
        self.add_button.disabled = True

    def _read_sheet(self) -> BatchSheet | None:
        """The sheet given, or None with the reason shown beside the field it came from."""
        field = "upload" if self._use == "file" else "paste"
        try:
            if self._use == "paste":
                return read_sheet(text=self.paste.value)
            if self._use == "file":
                name, data = self._file
                return read_sheet(data, name=name)
            raise StructureError(
                "No sheet yet: paste the columns 'EAN' and 'Backorder toegestaan?' from Excel, "
                "or choose a file."
            )
        except Exception as error:  # shown beside the field, never as a traceback
            self._fail(field, error)
            return None

    def _reference(self) -> str | None:
        return self.reference.value.strip() or None

    # -- actions -----------------------------------------------------------------------

    def check(self, _button=None) -> BatchResult | None:
        """``Controleren``: preview the batch and show what it would do; writes nothing."""
        self._clear_errors()
        self.outcome.value = ""
        sheet = self._read_sheet()
        if sheet is None:
            return None
        try:
            result = preview_batch(
                sheet, db=self.store, strict=self.strict.value, reference=self._reference()
            )
        except Exception as error:
            self._fail("form", error)
            return None
        self.preview_result = result
        self.summary.value = counts_html(result, preview=True)
        self.details.value = batch_html(result)
        self._checked = True
        self.add_button.disabled = False
        return result

    def add(self, _button=None) -> BatchHandle | None:
        """``Toevoegen``: submit the checked batch to a worker thread and follow it."""
        if self.running:
            return None
        self._clear_errors()
        if not self._checked:
            _set_error(self.errors["form"], "Press Controleren first to see what the batch does.")
            return None
        address = None
        if self.notify.value:
            try:
                address = check_address(self.address.value)
                if address is None:
                    raise StructureError("Fill in the address the mail should go to.")
            except Exception as error:
                self._fail("address", error)
                return None
        sheet = self._read_sheet()
        if sheet is None:
            return None
        try:
            handle = submit_batch(
                sheet,
                db=self.store,
                reference=self._reference(),
                strict=self.strict.value,
                notify=address,
                in_thread=True,
            )
        except Exception as error:
            self._fail("form", error)
            return None
        self.handle, self.last_result = handle, None
        self.outcome.value = self.history.value = ""
        self.progress.value, self.progress.max = 0, max(len(sheet), 1)
        self.progress.bar_style = ""
        _show(self.progress, True)
        self.status.value = f"<p>Batch {handle.id} queued…</p>"
        self._set_running(True)
        self._follower = threading.Thread(
            target=self._follow, args=(handle,), daemon=True, name=f"follow batch {handle.id}"
        )
        self._follower.start()
        return handle

    @property
    def running(self) -> bool:
        return self._follower is not None and self._follower.is_alive()

    def wait(self, timeout: float | None = None) -> BatchResult | None:
        """Wait until the submitted batch has ended and been shown; its result."""
        if self._follower is not None:
            self._follower.join(timeout)
            if self._follower.is_alive():
                raise TimeoutError(f"The batch has not finished after {timeout} s.")
        return self.last_result

    def _set_running(self, running: bool) -> None:
        for widget in (
            self.reference, self.upload, self.paste, self.notify, self.address, self.strict,
            self.check_button,
        ):  # fmt: skip
            widget.disabled = running
        self.add_button.disabled = running or not self._checked

    def _follow(self, handle: BatchHandle) -> None:
        """Runs in a thread: progress into the bar until the batch (and its mail) is done."""
        mail_deadline = None
        try:
            while True:
                try:
                    record = handle.record()
                except DatabaseBusyError:
                    time.sleep(POLL_SECONDS)  # the worker is writing; look again
                    continue
                done, total = int(record["progress_done"] or 0), int(record["progress_total"] or 0)
                self.progress.max = max(total, 1)
                self.progress.value = min(done, self.progress.max)
                self.status.value = (
                    f"<p>Batch {handle.id}: {html.escape(record['status'])}, {done} of {total} "
                    "rows.</p>"
                )
                if record["status"] in FINAL_STATUSES:
                    if record["notify_status"] != "pending":
                        break
                    mail_deadline = mail_deadline or time.monotonic() + MAIL_WAIT_SECONDS
                    if time.monotonic() > mail_deadline:
                        break
                time.sleep(POLL_SECONDS)
            result = handle.result()
            self.last_result = result
            self.progress.value = self.progress.max
            self.progress.bar_style = "success" if result.status == "done" else "danger"
            self.status.value = ""
            self.summary.value = counts_html(result, preview=False)
            self.outcome.value = mail_html(result)
            self.details.value = batch_html(result)
            self.history.value = history_html(self.store)
            self._checked = False  # the catalog has changed: check again before adding again
        except Exception as error:  # shown in the form; the batch itself is in the history
            self._fail("form", error)
        finally:
            self._set_running(False)


# -- the export loader -------------------------------------------------------------------


class CatalogLoader(_Panel):
    """Load a product export into the store; see what the shop shows and what-if the setting.

    ``Laden`` loads the file named in ``path`` or the one chosen with ``upload``
    (whichever was given last) and shows the load report. ``shop`` shows the
    shop setting; ticking or unticking it previews what the change would make
    disappear or reappear (nothing is saved) until ``apply_shop_button`` is pressed.

    >>> loader = CatalogLoader(db="data/demo.duckdb", path="data/sample/catalogus.xlsx")
    ... # doctest: +SKIP
    >>> loader.load_button.click(); loader.load_report.summary()  # doctest: +SKIP
    """

    def __init__(self, db: Store | str | os.PathLike | None = None, *, path: str = ""):
        self.store = as_store(db)
        self.path = widgets.Text(
            value=str(path or ""),
            description="Export",
            placeholder="path to an .xlsx, .ods, .csv or .parquet export",
            layout=widgets.Layout(width="40em"),
        )
        self.upload = widgets.FileUpload(
            accept=EXPORT_ACCEPT, multiple=False, description="Bestand"
        )
        self.sheet_label = widgets.HTML()
        self.merge = widgets.Checkbox(
            description="Merge: update and add the given rows only (default: replace the catalog)",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.skip_invalid = widgets.Checkbox(
            description="Skip invalid rows (load the valid ones)",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.load_button = widgets.Button(description="Laden", icon="upload", button_style="info")
        self.report = widgets.HTML()
        self.counts = widgets.HTML()
        self.shop = widgets.Checkbox(
            description=SHOP_SETTING, indent=False, layout=widgets.Layout(width="auto")
        )
        self.shop_preview = widgets.HTML()
        self.apply_shop_button = widgets.Button(
            description="Apply", icon="check", disabled=True, tooltip="Save the shop setting"
        )
        self.chart = widgets.Image(format="png", layout=widgets.Layout(max_width="34em"))
        self.errors = {name: _error_box() for name in ("path", "upload", "form", "shop")}

        self.load_report: LoadReport | None = None
        self.visibility = None
        self.shop_change: ShopChange | None = None
        self._file: tuple[str, bytes] | None = None
        self._use = "path" if path else None
        self._syncing = False

        self.path.observe(self._on_path, "value")
        self.upload.observe(self._on_upload, "value")
        self.shop.observe(self._on_shop, "value")
        self.load_button.on_click(self.load)
        self.apply_shop_button.on_click(self.apply_shop)

        self.widget = widgets.VBox(
            [
                widgets.HTML("<h3>Product export</h3>"),
                widgets.HBox([self.path, self.errors["path"]]),
                widgets.HBox([self.upload, self.sheet_label, self.errors["upload"]]),
                self.merge,
                self.skip_invalid,
                self.load_button,
                self.errors["form"],
                self.report,
                widgets.HTML("<h3>The shop</h3>"),
                self.counts,
                widgets.HBox([self.shop, self.apply_shop_button, self.errors["shop"]]),
                self.chart,
                self.shop_preview,
            ]
        )
        self._show_source()
        self.refresh()

    def _on_path(self, _change) -> None:
        self._use = "path" if self.path.value.strip() else ("upload" if self._file else None)
        self.errors["path"].value = ""
        self._show_source()

    def _on_upload(self, _change) -> None:
        self._file = _uploaded(self.upload)
        self._use = "upload" if self._file else ("path" if self.path.value.strip() else None)
        self.errors["upload"].value = ""
        self._show_source()

    def _show_source(self) -> None:
        if self._use == "upload":
            self.sheet_label.value = f"using uploaded <b>{html.escape(self._file[0])}</b>"
        elif self._use == "path":
            self.sheet_label.value = "using the path above"
        else:
            self.sheet_label.value = "no export chosen yet"

    def load(self, _button=None) -> LoadReport | None:
        """``Laden``: load the chosen export and show its report and the shop."""
        self._clear_errors()
        field = "upload" if self._use == "upload" else "path"
        try:
            if self._use == "upload":
                name, data = self._file
                report = load_catalog(
                    data, name=name, db=self.store,
                    merge=self.merge.value, skip_invalid=self.skip_invalid.value,
                )  # fmt: skip
            elif self._use == "path":
                report = load_catalog(
                    self.path.value.strip(), db=self.store,
                    merge=self.merge.value, skip_invalid=self.skip_invalid.value,
                )  # fmt: skip
            else:
                raise StructureError("Give the path of an export, or choose a file.")
        except Exception as error:
            self._fail(field, error)
            return None
        self.load_report = report
        self.report.value = load_html(report)
        self.refresh()
        return report

    def refresh(self) -> None:
        """Show the stored catalog's counts, the shop setting and the chart."""
        try:
            self.visibility = current_visibility(db=self.store)
            chart = Report.current(self.store).chart_visibility()
        except Exception as error:
            self._fail("form", error)
            return
        s = self.visibility.summary()
        self.counts.value = (
            f"<p><b>{s['visible']}</b> of {s['products']} products are visible in the shop, "
            f"<b>{s['hidden']}</b> are hidden.</p>"
        )
        self._syncing = True
        try:
            self.shop.value = self.visibility.sell_when_out_of_stock
        finally:
            self._syncing = False
        self.shop_change = None
        self.shop_preview.value = ""
        self.apply_shop_button.disabled = True
        self.chart.value = png(chart)

    def _on_shop(self, _change) -> None:
        if self._syncing:
            return
        self.errors["shop"].value = ""
        try:
            change = set_shop_setting(self.shop.value, db=self.store, dry_run=True)
            chart = Report.from_shop_change(change, db=self.store).chart_visibility()
        except Exception as error:
            self._fail("shop", error)
            return
        self.shop_change = change
        self.shop_preview.value = shop_change_html(change)
        self.apply_shop_button.disabled = not change.changed
        self.chart.value = png(chart)

    def apply_shop(self, _button=None) -> ShopChange | None:
        """Save the shop setting as ticked; the change is kept in the history."""
        try:
            change = set_shop_setting(self.shop.value, db=self.store, reference="notebook")
        except Exception as error:
            self._fail("shop", error)
            return None
        self.refresh()
        on = "on" if change.sell_when_out_of_stock else "off"
        self.shop_preview.value = (
            f"<p>Saved: the setting is {on} (batch {change.batch_id} in the history); "
            f"{len(change.newly_hidden)} products disappeared, "
            f"{len(change.newly_visible)} reappeared.</p>"
        )
        return change


# -- the report view ---------------------------------------------------------------------


class ReportView(_Panel):
    """Pick a batch from the history, a sheet, a what-if or the current state; see the report.

    ``make_button`` builds the :class:`~backorder_ops.report.Report` and shows it
    with its charts; ``write_button`` writes it to ``out_path`` (``.xlsx`` or
    ``.csv``) and offers it for download.

    >>> view = ReportView(db="data/demo.duckdb", source="shop", what_if=True)  # doctest: +SKIP
    >>> view.make_button.click(); view.write_button.click(); view.written  # doctest: +SKIP
    """

    SOURCES = {
        "batch": "Batch from the history",
        "sheet": "Sheet (preview)",
        "shop": "Shop setting (what-if)",
        "current": "Now (at risk)",
    }

    def __init__(
        self,
        db: Store | str | os.PathLike | None = None,
        *,
        source: str = "batch",
        batch_id: int | None = None,
        path: str | os.PathLike | None = None,
        what_if: bool | None = None,
        threshold: int = DEFAULT_THRESHOLD,
        out_dir: str | os.PathLike = "rapporten",
    ):
        if source not in self.SOURCES:
            raise ValueError(f"source is one of {', '.join(self.SOURCES)}, not {source!r}")
        self.store = as_store(db)
        self.out_dir = Path(out_dir)
        self.source = widgets.ToggleButtons(
            options=[(label, key) for key, label in self.SOURCES.items()], value=source
        )
        self.batch = widgets.Dropdown(description="Batch", layout=widgets.Layout(width="50em"))
        self.upload = widgets.FileUpload(accept=SHEET_ACCEPT, multiple=False, description="Bestand")
        self.path = widgets.Text(
            value=str(path or ""), description="Sheet", placeholder="path to a batch sheet"
        )
        self.what_if = widgets.ToggleButtons(
            options=[("on", True), ("off", False)], description="What if"
        )
        self.what_if_label = widgets.HTML(f"<i>{html.escape(SHOP_SETTING)}</i>")
        self.threshold = widgets.BoundedIntText(
            value=threshold, min=0, max=1_000_000, description="Stock ≤"
        )
        self.make_button = widgets.Button(
            description="Rapport maken",
            icon="table",
            button_style="info",
            layout=widgets.Layout(width="auto"),
        )
        self.report_html = widgets.HTML()
        self.charts = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        self.out_path = widgets.Text(description="File", layout=widgets.Layout(width="40em"))
        self.write_button = widgets.Button(
            description="Werkmap schrijven",
            icon="download",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.link = widgets.HTML()
        self.errors = {name: _error_box() for name in ("batch", "sheet", "form", "write")}

        self.report: Report | None = None
        self.written: list[Path] = []
        self._file: tuple[str, bytes] | None = None
        self._use = "path" if path else None

        self.controls = {
            "batch": widgets.HBox([self.batch, self.errors["batch"]]),
            "sheet": widgets.HBox([self.upload, self.path, self.errors["sheet"]]),
            "shop": widgets.HBox([self.what_if, self.what_if_label]),
            "current": widgets.HBox([self.threshold]),
        }
        self.source.observe(lambda _change: self._show_controls(), "value")
        self.upload.observe(self._on_upload, "value")
        self.path.observe(self._on_path, "value")
        self.make_button.on_click(self.make)
        self.write_button.on_click(self.write)

        self.widget = widgets.VBox(
            [
                widgets.HTML("<h3>Which products disappear?</h3>"),
                self.source,
                *self.controls.values(),
                self.make_button,
                self.errors["form"],
                self.report_html,
                self.charts,
                widgets.HBox([self.out_path, self.write_button, self.errors["write"]]),
                self.link,
            ]
        )
        self.refresh_batches(batch_id)
        try:
            current = self.store.read_shop()
        except Exception as error:
            self._fail("form", error)
            current = False
        self.what_if.value = (not current) if what_if is None else bool(what_if)
        self._show_controls()

    def refresh_batches(self, batch_id: int | None = None) -> None:
        """Fill the batch list from the history; choose ``batch_id`` or the latest batch."""
        try:
            batches = self.store.list_batches()
        except Exception as error:
            self._fail("batch", error)
            return
        labels = (
            batches["id"].astype("str") + " · " + batches["kind"] + " · "
            + batches["reference"].fillna(batches["source"]).fillna("").astype("str") + " · "
            + batches["status"] + " · " + batches["created"].dt.strftime("%Y-%m-%d %H:%M")
        )  # fmt: skip
        self.batch.options = list(zip(labels, batches["id"].astype(int).tolist(), strict=True))
        if batch_id is not None and int(batch_id) in set(batches["id"]):
            self.batch.value = int(batch_id)
        elif batch_id is not None:
            _set_error(self.errors["batch"], f"There is no batch {batch_id} in the history.")
        else:
            # The latest batch of rows, else the latest of any kind.
            rows = batches[batches["kind"].isin(["backorder", "undo"])]
            chosen = rows if not rows.empty else batches
            if not chosen.empty:
                self.batch.value = int(chosen["id"].iloc[0])

    def _show_controls(self) -> None:
        for key, box in self.controls.items():
            _show(box, key == self.source.value)

    def _on_upload(self, _change) -> None:
        self._file = _uploaded(self.upload)
        self._use = "upload" if self._file else ("path" if self.path.value.strip() else None)
        self.errors["sheet"].value = ""

    def _on_path(self, _change) -> None:
        self._use = "path" if self.path.value.strip() else ("upload" if self._file else None)
        self.errors["sheet"].value = ""

    def _build(self) -> tuple[Report, str]:
        """The report for the chosen source, and a file name for it."""
        source = self.source.value
        if source == "batch":
            if self.batch.value is None:
                raise _FieldError("batch", "There are no batches in the history yet.")
            batch_id = int(self.batch.value)
            return Report.from_history(self.store, batch_id), f"rapport-batch-{batch_id}"
        if source == "sheet":
            if self._use == "upload":
                name, data = self._file
                sheet = read_sheet(data, name=name)
            elif self._use == "path":
                sheet = read_sheet(self.path.value.strip())
            else:
                raise _FieldError("sheet", "Choose a batch sheet, or give its path.")
            result = preview_batch(sheet, db=self.store)
            return Report.from_batch(result, db=self.store), f"rapport-{Path(sheet.source).stem}"
        if source == "shop":
            change = set_shop_setting(self.what_if.value, db=self.store, dry_run=True)
            on = "aan" if self.what_if.value else "uit"
            return Report.from_shop_change(change, db=self.store), f"rapport-winkel-{on}"
        return Report.current(self.store, threshold=self.threshold.value), "rapport-risico"

    def make(self, _button=None) -> Report | None:
        """``Rapport maken``: build the report and show it with its charts."""
        self._clear_errors()
        self.link.value = ""
        field = {"batch": "batch", "sheet": "sheet"}.get(self.source.value, "form")
        try:
            report, stem = self._build()
            charts = report.charts()
        except _FieldError as error:
            _set_error(self.errors[error.field], str(error))
            return None
        except Exception as error:
            self._fail(field, error)
            return None
        self.report = report
        self.report_html.value = report._repr_html_()
        self.charts.children = [
            widgets.Image(value=png(figure), format="png") for figure in charts.values()
        ]
        self.out_path.value = str(self.out_dir / f"{stem}.xlsx")
        self.write_button.disabled = False
        return report

    def write(self, _button=None) -> list[Path]:
        """``Werkmap schrijven``: write the report to ``out_path`` and link it for download."""
        self.errors["write"].value = ""
        if self.report is None:
            _set_error(self.errors["write"], "Make a report first.")
            return []
        try:
            written = self.report.write(self.out_path.value.strip())
        except ValueError as error:  # not .xlsx or .csv: the message says so
            _set_error(self.errors["write"], str(error))
            return []
        except Exception as error:
            self._fail("write", error)
            return []
        self.written = written
        self.link.value = "".join(download_link(path) for path in written)
        return written


class _FieldError(Exception):
    """Missing input for one field of a form."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
