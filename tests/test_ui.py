"""The notebook widgets, driven without a kernel: values set, buttons clicked, state checked.

Without a kernel, setting a widget's ``.value`` fires its observers and
``button.click()`` runs its handlers; Output widgets would capture nothing, so
the forms render into HTML widgets and the tests read those and the store.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import (
    JAS_M,
    JAS_S,
    KAARS,
    MOK,
    SAMPLE,
    TINY_COLUMNS,
    TINY_ROWS,
    TRUI,
    TRUI_M,
    TRUI_S,
    UPC,
)

from backorder_ops import Store, apply_batch, run_worker, submit_batch

ui = pytest.importorskip("backorder_ops.ui")  # ipywidgets: the `notebook` extra
BatchForm, CatalogLoader, ReportView = ui.BatchForm, ui.CatalogLoader, ui.ReportView

# TRUI off: the parent and its variants (stock -1 and 0) disappear; KAARS on: it
# reappears; MOK already off; a variant and a broken EAN are rejected.
PASTED = (
    f"EAN\tBackorder toegestaan?\n{TRUI}\tnee\n{KAARS}\tja\n{MOK}\tnee\n{JAS_S}\tja\n12345\tja\n"
)
PNG = b"\x89PNG"


@pytest.fixture(autouse=True)
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Mail goes to an outbox in tmp_path, never to a server."""
    monkeypatch.delenv("BACKORDER_OPS_SMTP_URL", raising=False)
    monkeypatch.setenv("BACKORDER_OPS_OUTBOX", str(tmp_path / "outbox"))
    return tmp_path / "outbox"


def settings(store: Store) -> dict[str, bool]:
    products = store.read_products()
    return dict(zip(products["ean"], products["backorder_allowed"].astype(bool), strict=True))


def backorder_batches(store: Store) -> pd.DataFrame:
    batches = store.list_batches()
    return batches[batches["kind"] == "backorder"]


def upload_value(name: str, content: bytes) -> tuple[dict, ...]:
    """A FileUpload value as the browser sends it."""
    return (
        {
            "name": name,
            "type": "",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": dt.datetime.now(dt.UTC),
        },
    )


def error_texts(panel) -> dict[str, str]:
    return {field: box.value for field, box in panel.errors.items() if box.value}


# -- the batch form ------------------------------------------------------------------------


def test_paste_check_and_add(tiny: Store, outbox: Path):
    before = settings(tiny)
    form = BatchForm(db=tiny)
    form.reference.value = "week 49"
    form.paste.value = PASTED
    assert form.add_button.disabled  # nothing checked yet

    form.check_button.click()
    preview = form.preview_result
    assert preview is not None and preview.batch_id is None
    assert preview.summary() == {"rows": 5, "applied": 2, "unchanged": 1, "rejected": 2}
    assert preview.rejected[["row", "reason"]].values.tolist() == [
        [5, "variant_not_allowed"],
        [6, "invalid_ean"],
    ]
    assert sorted(preview.newly_hidden["ean"]) == sorted([TRUI, TRUI_S, TRUI_M])
    assert preview.newly_visible["ean"].tolist() == [KAARS]
    assert "<b>2</b> applied, 1 unchanged, <b>2</b> rejected" in form.summary.value
    assert "<b>3</b> products disappear and <b>1</b> reappear" in form.summary.value
    # Rejected rows with their row numbers and messages; products grouped by parent.
    assert "<td>5</td>" in form.details.value and "variant_not_allowed" in form.details.value
    assert "Use the parent's EAN" in form.details.value
    assert f"Trui Merino ({TRUI}) — 3" in form.details.value
    assert "standalone products — 1" in form.details.value
    assert settings(tiny) == before  # a preview writes nothing
    assert backorder_batches(tiny).empty
    assert not form.add_button.disabled

    form.add_button.click()
    handle = form.handle
    result = form.wait(timeout=60)
    assert handle is not None and result is not None
    assert result.status == "done" and result.batch_id == handle.id
    assert result.summary() == preview.summary()
    assert form.progress.value == form.progress.max == 5
    assert form.progress.bar_style == "success"
    assert f"<b>Batch {handle.id} (Referentie &#x27;week 49&#x27;)</b>: done" in form.summary.value
    assert "No mail was asked for" in form.outcome.value
    # The history, most recent first, with the reference.
    history = form.history.value
    assert history.index("week 49") < history.index("replace tiny.csv")
    batch = backorder_batches(tiny).iloc[0]
    assert (batch["id"], batch["reference"], batch["status"]) == (handle.id, "week 49", "done")
    after = settings(tiny)
    assert (after[TRUI], after[KAARS]) == (False, True)
    assert {k: v for k, v in after.items() if k not in (TRUI, KAARS)} == {
        k: v for k, v in before.items() if k not in (TRUI, KAARS)
    }
    # The form is usable again, and asks for a new check before adding again.
    assert not form.check_button.disabled and not form.paste.disabled
    assert form.add_button.disabled
    assert error_texts(form) == {}
    assert not outbox.exists()


def test_form_is_disabled_while_the_batch_runs(tiny: Store, monkeypatch: pytest.MonkeyPatch):
    # Queue only: the batch waits for a worker, so the running state can be looked at.
    def queue_only(sheet, **options):
        return submit_batch(sheet, **(options | {"in_thread": False}))

    monkeypatch.setattr(ui, "submit_batch", queue_only)
    form = BatchForm(db=tiny, text=PASTED)
    form.check_button.click()
    form.add_button.click()
    assert form.running
    inputs = [form.reference, form.upload, form.paste, form.notify, form.address, form.strict]
    assert all(w.disabled for w in [*inputs, form.check_button, form.add_button])
    assert form.progress.layout.display is None and form.progress.max == 5
    assert form.handle.status == "queued"
    with pytest.raises(TimeoutError):
        form.wait(timeout=0.3)

    assert run_worker(db=tiny, once=True) == 1
    assert form.wait(timeout=30).status == "done"
    assert not any(w.disabled for w in [*inputs, form.check_button])
    assert form.progress.value == form.progress.max


def test_mail_goes_where_the_form_says(tiny: Store, outbox: Path):
    form = BatchForm(db=tiny, reference="met mail", text=PASTED)
    form.notify.value = True
    form.address.value = "inkoop@webshop.nl"
    form.check_button.click()
    form.add_button.click()
    result = form.wait(timeout=60)
    assert result.notify_status == "written"
    mails = list(outbox.glob("*.eml"))
    assert len(mails) == 1
    assert str(mails[0]) in form.outcome.value
    assert "inkoop@webshop.nl" in mails[0].read_text()
    assert backorder_batches(tiny).iloc[0]["notify_status"] == "written"


def test_garbage_paste_is_shown_beside_the_paste_field(tiny: Store):
    form = BatchForm(db=tiny)
    form.paste.value = "hello world\nthis is not a sheet"
    form.check_button.click()
    assert list(error_texts(form)) == ["paste"]
    assert "found only one column" in form.errors["paste"].value
    assert "Expected two columns" in form.errors["paste"].value
    assert form.preview_result is None and form.add_button.disabled
    # Editing the text clears the message.
    form.paste.value = PASTED
    assert error_texts(form) == {}


def test_nothing_to_check(tiny: Store):
    form = BatchForm(db=tiny)
    form.check_button.click()
    assert "No sheet yet" in form.errors["paste"].value


def test_header_without_value_column(tiny: Store):
    form = BatchForm(db=tiny, text=f"EAN\tOpmerking\n{MOK}\tja\n")
    form.check_button.click()
    assert "no column &#x27;Backorder toegestaan?&#x27;" in form.errors["paste"].value


def test_unreadable_upload_is_shown_beside_the_upload(tiny: Store):
    form = BatchForm(db=tiny)
    form.upload.value = upload_value("batch.xlsx", b"this is no workbook")
    assert "batch.xlsx" in form.sheet_label.value
    form.check_button.click()
    assert list(error_texts(form)) == ["upload"]
    assert "cannot be read as a spreadsheet" in form.errors["upload"].value


def test_uploaded_sample_batch(sample: Store, sample_batch: Path):
    form = BatchForm(db=sample)
    form.upload.value = upload_value(sample_batch.name, sample_batch.read_bytes())
    form.check_button.click()
    assert form.preview_result.summary() == {
        "rows": 23,
        "applied": 11,
        "unchanged": 3,
        "rejected": 9,
    }
    assert "conflicting_duplicate" in form.details.value


def test_last_input_given_is_used(tiny: Store, sample_batch: Path):
    form = BatchForm(db=tiny, path=sample_batch, text=PASTED)
    assert "pasted text (6 lines)" in form.sheet_label.value
    form.paste.value = ""  # back to the file
    assert "batch_week49.xlsx" in form.sheet_label.value
    form.check_button.click()
    assert form.preview_result.source == "batch_week49.xlsx"


def test_invalid_address_submits_nothing(tiny: Store):
    form = BatchForm(db=tiny, text=PASTED)
    form.check_button.click()
    form.notify.value = True
    form.address.value = "inkoop at webshop"
    form.add_button.click()
    assert list(error_texts(form)) == ["address"]
    assert "is not an e-mail address" in form.errors["address"].value
    assert form.handle is None and not form.running
    assert backorder_batches(tiny).empty

    form.address.value = ""
    assert error_texts(form) == {}  # editing clears the message
    form.add_button.click()
    assert "Fill in the address" in form.errors["address"].value
    assert backorder_batches(tiny).empty


def test_address_field_appears_only_when_ticked(tiny: Store):
    form = BatchForm(db=tiny)
    assert form.address.layout.display == "none"
    form.notify.value = True
    assert form.address.layout.display is None
    form.notify.value = False
    assert form.address.layout.display == "none"
    prefilled = BatchForm(db=tiny, notify="inkoop@webshop.nl")
    assert prefilled.notify.value and prefilled.address.layout.display is None


def test_changed_input_needs_a_new_check(tiny: Store):
    form = BatchForm(db=tiny, text=PASTED)
    form.check_button.click()
    assert not form.add_button.disabled
    form.strict.value = True
    assert form.add_button.disabled
    assert "press Controleren again" in form.summary.value
    form.add_button.click()
    assert "Press Controleren first" in form.errors["form"].value
    assert backorder_batches(tiny).empty


def test_strict_batch_is_refused(tiny: Store):
    before = settings(tiny)
    form = BatchForm(db=tiny, text=PASTED, strict=True)
    form.check_button.click()
    assert form.preview_result.status == "refused"
    assert "Strict mode" in form.summary.value
    form.add_button.click()
    result = form.wait(timeout=60)
    assert result.status == "refused"
    assert form.progress.bar_style == "danger"
    assert settings(tiny) == before


def test_package_imports_without_ipywidgets():
    code = "import sys, backorder_ops; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the export loader ---------------------------------------------------------------------


def test_loader_by_path(store: Store):
    loader = CatalogLoader(db=store, path=str(SAMPLE / "catalogus.xlsx"))
    assert "0</b> of 0 products" in loader.counts.value
    loader.load_button.click()
    assert loader.load_report.summary() == {
        "rows": 338,
        "loaded": 338,
        "rejected": 0,
        "visible": 239,
        "hidden": 99,
    }
    assert "catalogus.xlsx</b>: done. 338 rows, 338 loaded" in loader.report.value
    assert "<b>239</b> of 338 products are visible in the shop, <b>99</b>" in loader.counts.value
    assert bytes(loader.chart.value).startswith(PNG)
    assert len(store.read_products()) == 338
    assert error_texts(loader) == {}


def test_loader_by_upload(store: Store, tiny_catalog_csv: Path):
    loader = CatalogLoader(db=store)
    loader.upload.value = upload_value("tiny.csv", tiny_catalog_csv.read_bytes())
    assert "tiny.csv" in loader.sheet_label.value
    loader.load_button.click()
    assert loader.load_report.status == "done"
    assert sorted(store.read_products()["ean"]) == sorted(row[0] for row in TINY_ROWS)


def test_loader_reports_rejected_rows(store: Store, tmp_path: Path):
    rows = [list(r) for r in TINY_ROWS]
    rows[2][0] = "8712345000039"  # row 4: a bad check digit
    rows[7][4] = "veel"  # row 9: stock is not a number
    path = tmp_path / "broken.csv"
    pd.DataFrame(rows, columns=TINY_COLUMNS).to_csv(path, sep=";", index=False)
    loader = CatalogLoader(db=store, path=str(path))
    loader.load_button.click()
    report = loader.load_report
    assert report.status == "refused"
    assert report.issues[["row", "code"]].values.tolist() == [
        [4, "invalid_ean"],
        [9, "invalid_stock"],
    ]
    assert "Nothing was loaded" in loader.report.value
    assert "<td>4</td>" in loader.report.value and "Row 9, column" in loader.report.value
    assert store.read_products().empty

    loader.skip_invalid.value = True
    loader.load_button.click()
    assert loader.load_report.loaded == 8


def test_loader_missing_file_is_shown_beside_the_path(store: Store, tmp_path: Path):
    loader = CatalogLoader(db=store, path=str(tmp_path / "nope.xlsx"))
    loader.load_button.click()
    assert list(error_texts(loader)) == ["path"]
    assert "file not found" in loader.errors["path"].value
    loader.path.value = ""
    loader.load_button.click()
    assert "Give the path of an export" in loader.errors["path"].value


def test_shop_toggle_previews_then_applies(tiny: Store):
    loader = CatalogLoader(db=tiny)
    assert loader.shop.value is False and loader.apply_shop_button.disabled
    chart_now = loader.chart.value
    loader.shop.value = True  # what-if: nothing is saved
    change = loader.shop_change
    assert change.status == "preview" and change.newly_hidden.empty
    assert sorted(change.newly_visible["ean"]) == sorted([JAS_S, KAARS, UPC])
    assert "<b>0</b> products would disappear and <b>3</b> reappear" in loader.shop_preview.value
    assert bytes(loader.chart.value).startswith(PNG) and loader.chart.value != chart_now
    assert tiny.read_shop() is False
    assert set(tiny.list_batches()["kind"]) == {"load"}

    loader.apply_shop_button.click()
    assert tiny.read_shop() is True
    assert "Saved: the setting is on" in loader.shop_preview.value
    assert loader.shop.value is True and loader.apply_shop_button.disabled
    assert tiny.list_batches().iloc[0]["kind"] == "shop"


# -- the report view -----------------------------------------------------------------------


def test_report_of_latest_batch(tiny: Store, tmp_path: Path):
    result = apply_batch(_sheet(tmp_path), db=tiny, reference="week 49")
    view = ReportView(db=tiny, out_dir=tmp_path / "rapporten")
    assert view.batch.value == result.batch_id  # the latest batch of rows
    assert view.controls["batch"].layout.display is None
    assert view.controls["shop"].layout.display == "none"
    view.make_button.click()
    assert error_texts(view) == {}
    assert view.report.kind == "batch" and view.report.summary["reference"] == "week 49"
    assert "Verdwijnt (3)" in view.report_html.value
    assert [bytes(image.value[:4]) for image in view.charts.children] == [PNG, PNG]
    assert view.out_path.value == str(
        tmp_path / "rapporten" / f"rapport-batch-{result.batch_id}.xlsx"
    )

    view.write_button.click()
    [path] = view.written
    assert path.exists()
    assert "download='rapport-batch-" in view.link.value and "base64," in view.link.value
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Samenvatting", "Verdwijnt", "Verschijnt", "Afgewezen"]
    gone = [row[0] for row in workbook["Verdwijnt"].iter_rows(min_row=2, values_only=True)]
    assert sorted(gone) == sorted([TRUI, TRUI_S, TRUI_M])
    assert workbook["Afgewezen"].max_row == 3  # header and two rejected rows


def _sheet(tmp_path: Path) -> Path:
    path = tmp_path / "pasted.csv"
    path.write_text(PASTED.replace("\t", ";"))
    return path


def test_report_of_chosen_batch_and_of_a_missing_one(tiny: Store):
    view = ReportView(db=tiny, batch_id=1)
    assert view.batch.value == 1
    missing = ReportView(db=tiny, batch_id=99)
    assert "There is no batch 99" in missing.errors["batch"].value


def test_report_with_empty_history(store: Store):
    view = ReportView(db=store)
    view.make_button.click()
    assert "no batches in the history" in view.errors["batch"].value
    assert view.report is None and view.write_button.disabled


def test_report_of_a_sheet(tiny: Store, tmp_path: Path):
    view = ReportView(db=tiny, source="sheet", out_dir=tmp_path)
    view.make_button.click()
    assert "Choose a batch sheet" in view.errors["sheet"].value
    view.path.value = str(_sheet(tmp_path))
    view.make_button.click()
    assert view.report.kind == "preview" and view.report.summary["disappear"] == 3
    assert view.out_path.value.endswith("rapport-pasted.xlsx")
    assert backorder_batches(tiny).empty
    view.upload.value = upload_value("kapot.xlsx", b"no workbook")
    view.make_button.click()
    assert "cannot be read as a spreadsheet" in view.errors["sheet"].value


def test_report_of_a_shop_what_if_as_csv(tiny: Store, tmp_path: Path):
    view = ReportView(db=tiny, source="shop", out_dir=tmp_path)
    assert view.what_if.value is True  # the opposite of the setting now
    view.make_button.click()
    assert view.report.kind == "shop" and view.report.summary["reappear"] == 3
    assert tiny.read_shop() is False
    view.out_path.value = str(tmp_path / "winkel.csv")
    view.write_button.click()
    assert {p.name for p in view.written} == {
        "winkel-Samenvatting.csv",
        "winkel-Verdwijnt.csv",
        "winkel-Verschijnt.csv",
    }
    assert view.link.value.count("<a download=") == 3


def test_report_now_and_a_bad_file_name(tiny: Store, tmp_path: Path):
    view = ReportView(db=tiny, source="current", threshold=10, out_dir=tmp_path)
    view.make_button.click()
    assert view.report.kind == "current"
    assert view.report.at_risk["ean"].tolist() == [JAS_M, MOK]
    view.out_path.value = str(tmp_path / "rapport.pdf")
    view.write_button.click()
    assert "is written as .xlsx or .csv" in view.errors["write"].value
    assert view.written == []


def test_report_view_rejects_an_unknown_source(tiny: Store):
    with pytest.raises(ValueError, match="source is one of"):
        ReportView(db=tiny, source="everything")


def test_sample_catalog_loader_then_form(store: Store, sample_batch: Path):
    """The sample data from an empty file to an applied batch, with the widgets alone."""
    loader = CatalogLoader(db=store, path=str(SAMPLE / "catalogus.xlsx"))
    loader.load_button.click()
    form = BatchForm(db=store, reference="demo", path=sample_batch)
    form.check_button.click()
    form.add_button.click()
    assert form.wait(timeout=60).summary()["applied"] == 11
