"""Loading product exports (RULES section 6): formats, headers, refusals, replace and merge."""

from __future__ import annotations

import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from conftest import (
    JAS,
    JAS_M,
    JAS_S,
    KAARS,
    MOK,
    SOK,
    TINY_COLUMNS,
    TINY_ROWS,
    TRUI,
    TRUI_S,
    UPC,
    make_ean,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backorder_ops import (
    LoadReport,
    Store,
    StructureError,
    apply_batch,
    current_visibility,
    load_catalog,
    read_sheet,
)

TRUE_CELLS = {"ja", "1"}
NEW = make_ean("871234500030")  # a product that is not in the tiny catalog
NEW_2 = make_ean("871234500031")
NEW_3 = make_ean("871234500032")


# -- helpers ---------------------------------------------------------------------------


def expected(rows=TINY_ROWS) -> list[tuple]:
    """The products a catalog of ``rows`` should hold: (ean, sku, name, parent, stock, on)."""
    return sorted(
        (ean, sku, name, parent or None, int(stock), bool(flag in TRUE_CELLS and not parent))
        for ean, sku, name, parent, stock, flag in rows
    )


def stored(store: Store) -> list[tuple]:
    """The products in the store in the shape of :func:`expected`."""
    products = store.read_products()
    ean_of = dict(zip(products["key"], products["ean"], strict=True))
    return sorted(
        (
            row.ean,
            row.sku,
            row.name,
            None if pd.isna(row.parent_key) else ean_of[int(row.parent_key)],
            int(row.stock),
            bool(row.backorder_allowed),
        )
        for row in products.itertuples()
    )


def write_csv(path: Path, rows, columns=TINY_COLUMNS, sep: str = ";") -> Path:
    pd.DataFrame(rows, columns=columns).to_csv(path, sep=sep, index=False)
    return path


def as_number(cell):
    """A cell as a spreadsheet user would have typed it: digits become numbers."""
    if isinstance(cell, str) and cell.lstrip("-").isdigit():
        return int(cell)
    return cell


def as_spreadsheet_bool(flag: str):
    return {"ja": True, "nee": False, "1": 1, "0": 0}.get(flag, flag)


def write_openpyxl(path: Path, rows, *, numbers: bool, columns=TINY_COLUMNS) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Producten"
    sheet.append(list(columns))
    for r, (ean, sku, name, parent, stock, flag) in enumerate(rows, start=2):
        values = [ean, sku, name, parent, stock, flag]
        if numbers:
            values = [
                as_number(ean),
                sku,
                name,
                as_number(parent),
                stock,
                as_spreadsheet_bool(flag),
            ]
        for c, value in enumerate(values, start=1):
            if value == "":
                continue  # an empty cell, as a user leaves it
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
    workbook.save(path)
    return path


def write_xlsxwriter(path: Path, rows, *, numbers: bool, columns=TINY_COLUMNS) -> Path:
    workbook = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet("Producten")
    sheet.write_row(0, 0, list(columns))
    for r, (ean, sku, name, parent, stock, flag) in enumerate(rows, start=1):
        for c, value in enumerate([ean, sku, name, parent]):
            if value == "":
                continue
            if numbers and c in (0, 3):
                sheet.write_number(r, c, int(value))
            else:
                sheet.write_string(r, c, value)
        sheet.write_number(r, 4, stock)
        if flag == "":
            continue
        value = as_spreadsheet_bool(flag) if numbers else flag
        if isinstance(value, bool):
            sheet.write_boolean(r, 5, value)
        elif isinstance(value, int):
            sheet.write_number(r, 5, value)
        else:
            sheet.write_string(r, 5, value)
    workbook.close()
    return path


def codes(report: LoadReport) -> list[list]:
    return report.issues[["row", "code"]].values.tolist()


def history_size(store: Store) -> int:
    return len(store.list_batches())


# Rows of the tiny catalog without the UPC: as a number its leading zero is lost.
TINY_WITHOUT_UPC = [row for row in TINY_ROWS if row[0] != UPC]


# -- formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("writer", [write_openpyxl, write_xlsxwriter])
def test_xlsx_with_eans_as_text(store, tmp_path, writer):
    path = writer(tmp_path / "catalog.xlsx", TINY_ROWS, numbers=False)
    report = load_catalog(path, db=store)
    assert (report.status, report.loaded, report.rows) == ("done", 10, 10)
    assert report.issues.empty
    assert stored(store) == expected()


@pytest.mark.parametrize("writer", [write_openpyxl, write_xlsxwriter])
def test_xlsx_with_eans_stock_and_flags_as_numbers(store, tmp_path, writer):
    path = writer(tmp_path / "catalog.xlsx", TINY_WITHOUT_UPC, numbers=True)
    report = load_catalog(path, db=store)
    assert report.status == "done", report.issues
    assert report.loaded == 9
    assert stored(store) == expected(TINY_WITHOUT_UPC)


@pytest.mark.parametrize("writer", [write_openpyxl, write_xlsxwriter])
def test_xlsx_upc_as_number_loses_its_zero_and_is_refused(store, tmp_path, writer):
    """A 12-digit UPC typed as a number keeps 11 digits: not a catalog EAN."""
    path = writer(tmp_path / "catalog.xlsx", TINY_ROWS, numbers=True)
    report = load_catalog(path, db=store)
    assert report.status == "refused"
    assert codes(report) == [[11, "invalid_ean"]]
    message = report.issues["message"].iloc[0]
    assert "cell A11" in message
    assert f"'{UPC.lstrip('0')}'" in message
    assert "8, 12, 13 or 14 digits" in message
    assert store.read_products().empty


def test_xlsx_float_eans_convert_exactly(store, tmp_path):
    """Excel keeps long digit strings as floats: 8712345000019.0 is EAN 8712345000019."""
    rows = [(MOK, "MOK", "Mok", "", 7, ""), (KAARS, "KAARS", "Geurkaars", "", 0, "")]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["EAN", "Voorraad"])
    for ean, *_, stock, _flag in rows:
        sheet.append([float(ean), float(stock)])
    path = tmp_path / "floats.xlsx"
    workbook.save(path)
    report = load_catalog(path, db=store)
    assert report.status == "done", report.issues
    products = store.read_products()
    assert sorted(products["ean"]) == sorted([MOK, KAARS])
    assert dict(zip(products["ean"], products["stock"], strict=True)) == {MOK: 7, KAARS: 0}


def test_xlsx_named_sheet(store, tmp_path):
    path = tmp_path / "two.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Uitleg"
    workbook.active.append(["Dit blad is uitleg"])
    products = workbook.create_sheet("Producten")
    products.append(["EAN", "Voorraad"])
    cell = products.cell(row=2, column=1, value=MOK)
    cell.data_type = "s"
    products.cell(row=2, column=2, value=3)
    workbook.save(path)
    with pytest.raises(StructureError):
        load_catalog(path, db=store)  # the first sheet has no header row
    report = load_catalog(path, db=store, sheet="Producten")
    assert report.status == "done"
    assert store.read_products()["ean"].tolist() == [MOK]
    with pytest.raises(StructureError, match="Producten"):
        load_catalog(path, db=store, sheet="Nope")


@pytest.mark.parametrize("sep", [";", ","])
def test_csv_with_either_delimiter(store, tmp_path, sep):
    path = write_csv(tmp_path / "catalog.csv", TINY_ROWS, sep=sep)
    report = load_catalog(path, db=store)
    assert report.status == "done", report.issues
    assert stored(store) == expected()


def test_csv_in_windows_1252_with_dutch_names(store, tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes(f"EAN;Naam;Voorraad\n{MOK};Mok café;3\n".encode("cp1252"))
    report = load_catalog(path, db=store)
    assert report.status == "done"
    assert store.read_products()["name"].tolist() == ["Mok café"]


@pytest.mark.parametrize("ean_type", ["str", "int64"])
def test_parquet(store, tmp_path, ean_type):
    rows = TINY_ROWS if ean_type == "str" else TINY_WITHOUT_UPC
    frame = pd.DataFrame(rows, columns=TINY_COLUMNS)
    frame["Voorraad"] = frame["Voorraad"].astype("int64")
    if ean_type == "int64":
        frame["EAN"] = frame["EAN"].astype("int64")
        frame["Parent EAN"] = pd.to_numeric(frame["Parent EAN"]).astype("Int64")
    path = tmp_path / "catalog.parquet"
    frame.to_parquet(path)
    report = load_catalog(path, db=store)
    assert report.status == "done", report.issues
    assert stored(store) == expected(rows)


def test_reports_show_the_ean_as_loaded(tiny):
    """Leading zeros stay; short EANs are never shown as their padded 14-digit key."""
    products = tiny.read_products()
    ean_of = dict(zip(products["key"], products["ean"], strict=True))
    assert ean_of[int(UPC)] == UPC and UPC.startswith("0") and len(UPC) == 12
    assert ean_of[int(SOK)] == SOK and len(SOK) == 8
    shown = current_visibility(db=tiny).to_json()
    assert UPC in shown["hidden"]
    assert SOK in shown["visible"]
    everything = shown["visible"] + shown["hidden"]
    assert not [e for e in everything if len(e) == 14]


def test_batch_rows_show_the_catalog_ean_with_its_zeros(tiny):
    """A batch EAN whose zero Excel dropped reports the catalog's EAN, as loaded."""
    sheet = read_sheet(text=f"EAN\tBackorder toegestaan?\n{UPC.lstrip('0')}\tja\n")
    result = apply_batch(sheet, db=tiny)
    row = result.to_json()["rows"][0]
    assert (row["ean"], row["status"]) == (UPC, "applied")


# -- headers ---------------------------------------------------------------------------


HEADER_CASES = [
    ["EAN", "SKU", "Naam", "Parent EAN", "Voorraad", "Backorders toegestaan"],
    ["EAN-code", "Artikelnummer", "Titel", "Hoofdproduct", "Quantity", "Backorder allowed"],
    ["GTIN", "sku", "Productnaam", "Hoofdproduct EAN", "Stock", "Backorders allowed"],
    ["Barcode", "ARTIKELNUMMER", "Name", "Parent", "voorraad", "Backorder toegestaan?"],
    ["  ean code ", "SKU:", "Title", "parent ean", "VOORRAAD:", "backorders toegestaan?"],
    ["EAN code", "SKU", "naam", "HOOFDPRODUCT", "Voorraad?", "BACKORDER ALLOWED"],
]


@pytest.mark.parametrize("header", HEADER_CASES, ids=lambda h: h[0].strip())
def test_header_synonyms(store, tmp_path, header):
    path = write_csv(tmp_path / "catalog.csv", TINY_ROWS, columns=header)
    report = load_catalog(path, db=store)
    assert report.status == "done", report.issues
    assert report.warnings == []
    assert stored(store) == expected()


def test_columns_in_any_order_and_others_ignored_with_a_warning(store, tmp_path):
    frame = pd.DataFrame(TINY_ROWS, columns=TINY_COLUMNS)
    frame["Kleur"] = "blauw"
    frame["Prijs"] = "9,95"
    frame = frame[["Kleur", "Voorraad", "Naam", "Prijs", "EAN", "Backorders toegestaan",
                   "Parent EAN", "SKU"]]  # fmt: skip
    path = tmp_path / "catalog.csv"
    frame.to_csv(path, sep=";", index=False)
    report = load_catalog(path, db=store)
    assert report.status == "done"
    assert stored(store) == expected()
    assert len(report.warnings) == 1
    assert "Kleur" in report.warnings[0] and "Prijs" in report.warnings[0]


def test_only_the_required_columns(store, tmp_path):
    path = tmp_path / "minimal.csv"
    path.write_text(f"EAN,Voorraad\n{MOK},7\n{KAARS},0\n{UPC},-3\n")
    report = load_catalog(path, db=store)
    assert report.status == "done"
    products = store.read_products().set_index("ean")
    assert products.loc[UPC, "stock"] == -3
    assert not products["backorder_allowed"].any()
    assert products["parent_key"].isna().all()


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("EAN;SKU;Naam", "Voorraad"),
        ("EAN;Backorders toegestaan", "Voorraad"),
    ],
)
def test_missing_stock_column_is_a_structure_error(store, tmp_path, header, missing):
    path = tmp_path / "no_stock.csv"
    path.write_text(f"{header}\n{MOK};1\n")
    with pytest.raises(StructureError) as error:
        load_catalog(path, db=store)
    message = str(error.value)
    assert missing in message
    assert "no_stock.csv" in message
    assert "\n" not in message
    assert not store.path.exists() or store.read_products().empty


def test_missing_ean_column_is_a_structure_error(tiny, tmp_path):
    before = stored(tiny)
    path = tmp_path / "no_ean.csv"
    path.write_text("Artikel;Voorraad\nA;1\n")
    with pytest.raises(StructureError, match="EAN"):
        load_catalog(path, db=tiny)
    assert stored(tiny) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.csv", b""), ("only_blanks.csv", b"\n\n  \n"), ("corrupt.xlsx", b"PK\x03\x04junk")],
)
def test_unreadable_files_are_structure_errors(store, tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StructureError, match=name):
        load_catalog(path, db=store)


def test_missing_file_is_a_structure_error(store, tmp_path):
    with pytest.raises(StructureError, match="not found"):
        load_catalog(tmp_path / "nope.xlsx", db=store)


# -- refusals --------------------------------------------------------------------------


REFUSALS = [
    pytest.param(("12345678905", "X", "x", "", 1, ""), "invalid_ean", "ean", id="11 digits"),
    pytest.param(("8712345000012", "X", "x", "", 1, ""), "invalid_ean", "ean", id="check digit"),
    pytest.param(("87123450000AB", "X", "x", "", 1, ""), "invalid_ean", "ean", id="letters"),
    pytest.param(("8,71235E+12", "X", "x", "", 1, ""), "invalid_ean", "ean", id="scientific"),
    pytest.param(("", "X", "x", "", 1, ""), "invalid_ean", "ean", id="empty EAN"),
    pytest.param((NEW, "X", "x", "", "3.5", ""), "invalid_stock", "stock", id="stock 3.5"),
    pytest.param((NEW, "X", "x", "", "veel", ""), "invalid_stock", "stock", id="stock text"),
    pytest.param((NEW, "X", "x", "", "", ""), "invalid_stock", "stock", id="stock empty"),
    pytest.param((NEW, "X", "x", NEW_2, 1, ""), "parent_not_found", "parent", id="no parent"),
    pytest.param((NEW, "X", "x", JAS_S, 1, ""), "parent_is_variant", "parent", id="grandchild"),
    pytest.param((NEW, "X", "x", "123", 1, ""), "invalid_parent", "parent", id="bad parent"),
    pytest.param((MOK, "X", "x", "", 1, ""), "duplicate_ean", "ean", id="duplicate"),
    pytest.param((NEW, "X", "x", "", 1, "misschien"), "invalid_backorder", "flag", id="flag"),
]


@pytest.mark.parametrize(("row", "code", "field"), REFUSALS)
def test_each_refusal_reason_refuses_and_changes_nothing(tiny, tmp_path, row, code, field):
    before, batches = stored(tiny), history_size(tiny)
    path = write_csv(tmp_path / "bad.csv", [*TINY_ROWS, row])
    report = load_catalog(path, db=tiny)
    assert report.status == "refused"
    assert report.loaded == 0
    bad_row = len(TINY_ROWS) + 2  # header is row 1
    if code == "duplicate_ean":  # both rows with the EAN are reported
        mok_row = [r[0] for r in TINY_ROWS].index(MOK) + 2
        assert codes(report) == [[mok_row, code], [bad_row, code]]
    else:
        assert codes(report) == [[bad_row, code]]
    column = {"ean": "EAN", "stock": "Voorraad", "parent": "Parent EAN",
              "flag": "Backorders toegestaan"}[field]  # fmt: skip
    message = report.issues["message"].iloc[-1]
    assert message.startswith(f"Row {bad_row}, column '{column}': ")
    assert report.issues["cell"].iloc[-1] == f"column '{column}'"
    assert report.summary()["rejected"] == (2 if code == "duplicate_ean" else 1)
    assert stored(tiny) == before
    assert history_size(tiny) == batches


def test_every_bad_row_is_reported_at_once(tiny, tmp_path):
    before = stored(tiny)
    rows = [
        (JAS, "JAS", "Winterjas", "", 0, "nee"),  # row 2
        (JAS_S, "JAS-S", "Winterjas - S", JAS, "1,5", ""),  # 3: stock
        ("12345678905", "X", "x", "", 1, ""),  # 4: 11 digits
        (NEW, "N", "n", NEW_2, 1, ""),  # 5: parent not in the file
        (NEW_3, "N3", "n3", JAS_S, 1, ""),  # 6: parent is a variant
        ("012345678905", "D1", "d", "", 1, ""),  # 7: duplicate by GTIN-14 key ...
        ("0012345678905", "D2", "d", "", 1, ""),  # 8: ... of row 7
        (MOK, "MOK", "Mok", "", 7, "soms"),  # 9: backorder value
        ("abc", "Y", "y", "", "x", "?"),  # 10: EAN, stock and value at once
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    report = load_catalog(path, db=tiny)
    assert report.status == "refused"
    assert codes(report) == [
        [3, "invalid_stock"],
        [4, "invalid_ean"],
        [5, "parent_not_found"],
        [6, "parent_is_variant"],
        [7, "duplicate_ean"],
        [8, "duplicate_ean"],
        [9, "invalid_backorder"],
        [10, "invalid_backorder"],
        [10, "invalid_ean"],
        [10, "invalid_stock"],
    ]
    assert report.summary()["rejected"] == 8
    assert stored(tiny) == before
    assert list(report.issues.columns) == ["row", "field", "cell", "code", "message"]
    assert report.to_json()["status"] == "refused"
    assert len(report.to_json()["issues"]) == 10


def test_duplicate_by_gtin14_key_shows_each_ean_as_loaded(store, tmp_path):
    rows = [("012345678905", "A", "a", "", 1, ""), ("0012345678905", "B", "b", "", 2, "")]
    report = load_catalog(write_csv(tmp_path / "dup.csv", rows), db=store)
    assert report.status == "refused"
    assert codes(report) == [[2, "duplicate_ean"], [3, "duplicate_ean"]]
    first, second = report.issues["message"]
    assert "'012345678905'" in first and "rows 2, 3" in first
    assert "'0012345678905'" in second and "rows 2, 3" in second
    assert "00012345678905" not in "".join(report.issues["message"])


def test_messages_name_the_spreadsheet_cell(store, tmp_path):
    rows = [(MOK, "MOK", "Mok", "", 7, ""), (NEW, "N", "n", "", "x", "")]
    path = write_openpyxl(tmp_path / "bad.xlsx", rows, numbers=False)
    report = load_catalog(path, db=store)
    assert codes(report) == [[3, "invalid_stock"]]
    assert report.issues["cell"].tolist() == ["cell E3"]
    assert report.issues["message"].iloc[0].startswith("Row 3, cell E3: ")
    assert "'x'" in report.issues["message"].iloc[0]


def test_repr_html_and_json_of_a_refusal(store, tmp_path):
    report = load_catalog(write_csv(tmp_path / "b.csv", [(NEW, "N", "n", "", "x", "")]), db=store)
    payload = report.to_json()
    assert payload["mode"] == "replace"
    assert payload["summary"] == {"rows": 1, "loaded": 0, "rejected": 1, "visible": 0,
                                  "hidden": 0}  # fmt: skip
    assert payload["issues"][0]["row"] == 2
    assert payload["issues"][0]["code"] == "invalid_stock"
    assert "invalid_stock" in report._repr_html_()


def test_row_numbers_are_the_spreadsheet_rows(store, tmp_path):
    """A blank row above the header and a blank row between products count as rows."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, values in {
        2: ["EAN", "Naam", "Voorraad"],  # row 1 is empty
        3: [MOK, "Mok", 7],
        5: [KAARS, "Kaars", "veel"],  # row 4 is empty
    }.items():
        for c, value in enumerate(values, start=1):
            sheet.cell(row=r, column=c, value=value).data_type = (
                "s" if isinstance(value, str) else "n"
            )
    path = tmp_path / "gaps.xlsx"
    workbook.save(path)
    report = load_catalog(path, db=store)
    assert codes(report) == [[5, "invalid_stock"]]
    assert report.issues["cell"].tolist() == ["cell C5"]
    assert report.rows == 2


def test_a_variant_may_come_before_its_parent(store, tmp_path):
    rows = [(JAS_S, "JAS-S", "S", JAS, 0, ""), (JAS, "JAS", "Winterjas", "", 0, "ja")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store)
    assert report.status == "done", report.issues
    assert stored(store) == expected(rows)


# -- skip_invalid ----------------------------------------------------------------------


def test_skip_invalid_loads_the_valid_rows(store, tmp_path):
    rows = [
        *TINY_ROWS,
        ("12345678905", "X", "x", "", 1, ""),  # row 12: invalid
        (NEW, "N", "n", "", "2.5", ""),  # row 13: invalid stock
    ]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store, skip_invalid=True)
    assert report.status == "done"
    assert (report.rows, report.loaded) == (12, 10)
    assert codes(report) == [[12, "invalid_ean"], [13, "invalid_stock"]]
    assert stored(store) == expected()


def test_skip_invalid_drops_the_variants_of_a_rejected_parent(store, tmp_path):
    rows = [
        (JAS, "JAS", "Winterjas", "", "veel", "nee"),  # row 2: rejected parent
        (JAS_S, "JAS-S", "Winterjas - S", JAS, 0, ""),  # 3: its variant
        (JAS_M, "JAS-M", "Winterjas - M", JAS, 4, ""),  # 4: its variant
        (MOK, "MOK", "Mok", "", 7, "nee"),  # 5: fine
        (TRUI, "TRUI", "Trui", "", 0, "ja"),  # 6: fine
        (TRUI_S, "TRUI-S", "Trui - S", TRUI, 0, ""),  # 7: fine
    ]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store, skip_invalid=True)
    assert report.status == "done"
    assert codes(report) == [[2, "invalid_stock"], [3, "parent_rejected"], [4, "parent_rejected"]]
    assert report.loaded == 3
    assert sorted(store.read_products()["ean"]) == sorted([MOK, TRUI, TRUI_S])
    assert report.summary()["rejected"] == 3


def test_skip_invalid_drops_both_duplicates(store, tmp_path):
    rows = [(MOK, "A", "a", "", 1, ""), (MOK, "B", "b", "", 2, ""), (KAARS, "K", "k", "", 0, "")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store, skip_invalid=True)
    assert codes(report) == [[2, "duplicate_ean"], [3, "duplicate_ean"]]
    assert store.read_products()["ean"].tolist() == [KAARS]


def test_a_load_without_any_valid_row_changes_nothing(tiny, tmp_path):
    before = stored(tiny)
    path = write_csv(tmp_path / "c.csv", [("12345678905", "X", "x", "", 1, "")])
    report = load_catalog(path, db=tiny, skip_invalid=True)
    assert report.status == "refused"
    assert stored(tiny) == before


# -- replace and merge -----------------------------------------------------------------


def test_replace_is_the_default_and_drops_products_not_in_the_file(tiny, tmp_path):
    rows = [(MOK, "MOK", "Mok groot", "", 12, "ja"), (NEW, "N", "Nieuw", "", 0, "nee")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny)
    assert report.status == "done"
    assert report.to_json()["mode"] == "replace"
    assert stored(tiny) == expected(rows)


def test_merge_upserts_and_keeps_the_others(tiny, tmp_path):
    rows = [
        (MOK, "MOK-2", "Mok groot", "", 12, "ja"),  # update
        (NEW, "N", "Nieuw", "", 0, "nee"),  # insert
        (NEW_2, "N-S", "Nieuw - S", JAS, 3, ""),  # a variant of a parent in the store
    ]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny, merge=True)
    assert report.status == "done", report.issues
    assert report.to_json()["mode"] == "merge"
    assert report.loaded == 3
    want = [r for r in TINY_ROWS if r[0] != MOK] + rows
    assert stored(tiny) == expected(want)


def test_merge_variant_whose_parent_is_a_variant_in_the_store(tiny, tmp_path):
    before = stored(tiny)
    rows = [(NEW, "N", "n", JAS_S, 1, "")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny, merge=True)
    assert report.status == "refused"
    assert codes(report) == [[2, "parent_is_variant"]]
    assert stored(tiny) == before


def test_merge_cannot_turn_a_parent_with_variants_into_a_variant(tiny, tmp_path):
    """JAS has variants in the store; making JAS a variant of MOK would leave JAS_S and
    JAS_M with a parent that is itself a variant, which RULES section 6 forbids."""
    before = stored(tiny)
    rows = [(JAS, "JAS", "Winterjas", MOK, 0, "")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny, merge=True)
    assert report.status == "refused"
    assert stored(tiny) == before


def test_skip_invalid_drops_the_variants_of_a_duplicated_parent(store, tmp_path):
    rows = [
        (JAS, "JAS", "Winterjas", "", 0, ""),  # row 2: duplicate
        (JAS, "JAS2", "Winterjas", "", 0, ""),  # row 3: duplicate
        (JAS_S, "JAS-S", "S", JAS, 0, ""),  # row 4: its parent is rejected
        (MOK, "MOK", "Mok", "", 7, ""),  # row 5: fine
    ]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store, skip_invalid=True)
    assert codes(report) == [[2, "duplicate_ean"], [3, "duplicate_ean"], [4, "parent_rejected"]]
    assert store.read_products()["ean"].tolist() == [MOK]


def test_merge_variant_whose_parent_is_nowhere(tiny, tmp_path):
    before = stored(tiny)
    rows = [(NEW, "N", "n", NEW_3, 1, "")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny, merge=True)
    assert report.status == "refused"
    assert codes(report) == [[2, "parent_not_found"]]
    assert stored(tiny) == before


def test_replace_cannot_point_a_variant_at_the_stored_catalog(tiny, tmp_path):
    """A replacement is a snapshot: parents must be in the file itself."""
    rows = [(NEW, "N", "n", JAS, 1, "")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny)
    assert codes(report) == [[2, "parent_not_found"]]


def test_load_is_recorded_and_history_survives_a_replace(tiny, tmp_path):
    sheet = read_sheet(text=f"EAN\tBackorder toegestaan?\n{KAARS}\tja\n")
    batch = apply_batch(sheet, db=tiny, reference="week 1")
    assert batch.status == "done"
    rows = [(MOK, "MOK", "Mok", "", 7, "")]
    load_catalog(write_csv(tmp_path / "c.csv", rows), db=tiny)
    batches = tiny.list_batches()
    assert batches["kind"].tolist() == ["load", "backorder", "load"]
    assert batches["reference"].tolist()[1] == "week 1"
    assert batches["reference"].tolist()[0] == "replace c.csv"
    record, logged, _ = tiny.read_batch(batch.batch_id)
    assert record["reference"] == "week 1"
    assert logged["ean"].tolist() == [KAARS]
    assert tiny.read_products()["ean"].tolist() == [MOK]


def test_history_survives_a_merge(tiny, tmp_path):
    shop_batches = history_size(tiny)
    load_catalog(write_csv(tmp_path / "c.csv", [(NEW, "N", "n", "", 1, "")]), db=tiny, merge=True)
    assert history_size(tiny) == shop_batches + 1
    assert tiny.list_batches()["reference"].iloc[0] == "merge c.csv"


def test_backorder_value_on_a_variant_is_ignored_with_a_warning(store, tmp_path):
    rows = [
        (JAS, "JAS", "Winterjas", "", 0, "nee"),
        (JAS_S, "JAS-S", "Winterjas - S", JAS, 0, "ja"),  # row 3
        (JAS_M, "JAS-M", "Winterjas - M", JAS, 4, "1"),  # row 4
    ]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store)
    assert report.status == "done"
    assert report.issues.empty
    assert not store.read_products()["backorder_allowed"].any()
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    assert "2 variant" in warning and "3, 4" in warning and "ignored" in warning
    # Ignored means ignored: JAS_S (stock 0) stays hidden.
    assert JAS_S in current_visibility(db=store).to_json()["hidden"]


def test_an_invalid_backorder_value_on_a_variant_still_refuses(store, tmp_path):
    rows = [(JAS, "JAS", "Winterjas", "", 0, "nee"), (JAS_S, "JAS-S", "S", JAS, 0, "soms")]
    report = load_catalog(write_csv(tmp_path / "c.csv", rows), db=store)
    assert codes(report) == [[3, "invalid_backorder"]]


@pytest.mark.parametrize(
    ("cell", "allowed"),
    [("ja", True), ("JA", True), ("1", True), ("yes", True), ("true", True), ("1.0", True),
     ("nee", False), ("0", False), ("no", False), ("false", False), ("", False)],
)  # fmt: skip
def test_backorder_values(store, tmp_path, cell, allowed):
    report = load_catalog(write_csv(tmp_path / "c.csv", [(MOK, "M", "m", "", 0, cell)]), db=store)
    assert report.status == "done"
    assert store.read_products()["backorder_allowed"].tolist() == [allowed]


def test_visible_and_hidden_counts_of_the_tiny_catalog(store, tiny_catalog_csv):
    report = load_catalog(tiny_catalog_csv, db=store)
    assert (report.visible, report.hidden) == (7, 3)
    assert report.summary() == {"rows": 10, "loaded": 10, "rejected": 0, "visible": 7,
                                "hidden": 3}  # fmt: skip


# -- a law: what a writer wrote loads back -------------------------------------------------

catalog_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10**11 - 1),  # EAN-12 body (with leading zeros)
        st.integers(min_value=-5, max_value=500),
        st.sampled_from(["ja", "nee", "1", "0", ""]),
        st.booleans(),  # a variant of the first product?
    ),
    min_size=1,
    max_size=15,
    unique_by=lambda t: t[0],
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalog_rows)
def test_a_written_catalog_loads_back(drawn):
    eans = [make_ean(f"{body:012d}") for body, *_ in drawn]
    rows = [
        (ean, f"SKU{i}", f"Product {i}", eans[0] if variant and i else "", stock, flag)
        for i, (ean, (_, stock, flag, variant)) in enumerate(zip(eans, drawn, strict=True))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_openpyxl(Path(tmp) / "c.xlsx", rows, numbers=False)
        store = Store(Path(tmp) / "db.duckdb")
        report = load_catalog(path, db=store)
        assert report.status == "done", report.issues
        assert stored(store) == expected(rows)


def test_parquet_contents_load_as_bytes_and_a_corrupt_one_is_a_structure_error(store):
    """A notebook upload hands over the file's bytes and its name."""
    import io

    buffer = io.BytesIO()
    pd.DataFrame({"EAN": [JAS, MOK], "Voorraad": [0, 7]}).to_parquet(buffer)
    report = load_catalog(buffer.getvalue(), name="export.parquet", db=store)
    assert (report.status, report.loaded) == ("done", 2)
    with pytest.raises(StructureError, match="export.parquet: cannot be read as a Parquet"):
        load_catalog(b"not parquet", name="export.parquet", db=store)
