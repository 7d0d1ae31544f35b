"""Reading batch sheets: headers and synonyms, row numbers, file formats, structure errors.

The reader is exercised through ``batch.read_sheet``, which is how every caller
uses it: the frame it returns holds the EAN and value cells as trimmed text,
indexed by the row number the user sees (RULES section 4).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from conftest import JAS, KAARS, MOK, TRUI, UPC

from backorder_ops import StructureError, read_sheet
from backorder_ops.reading import column_letter, normalise_header, read_grid

HEADER = ["EAN", "Backorder toegestaan?"]


def cells(sheet) -> list[list]:
    """The sheet's rows as ``[row, ean, value]``, with ``None`` for an empty cell."""
    frame = sheet.rows.reset_index()
    return [
        [None if pd.isna(v) else v for v in record]
        for record in frame[["row", "ean_given", "value_given"]].itertuples(index=False)
    ]


def write_openpyxl(path: Path, rows: list[list], *, origin: str = "A1", title: str = "Blad1"):
    """Write ``rows`` with openpyxl, the first at ``origin``; ``None`` leaves a cell empty."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    start = sheet[origin]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value is not None:
                sheet.cell(row=start.row + r, column=start.column + c, value=value)
    workbook.save(path)
    return path


def write_xlsxwriter(path: Path, rows: list[list], *, origin: tuple[int, int] = (0, 0)):
    """Write ``rows`` with xlsxwriter (0-based ``origin``), numbers as numbers, text as text."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            at = (origin[0] + r, origin[1] + c)
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(*at, value)
            elif isinstance(value, int | float):
                sheet.write_number(*at, value)
            else:
                sheet.write_string(*at, value)
    workbook.close()
    return path


# -- headers --------------------------------------------------------------------------


@pytest.mark.parametrize("ean_header", ["EAN", "EAN-code", "ean code ", "GTIN", "Barcode"])
def test_every_ean_header_synonym_is_recognised(ean_header):
    sheet = read_sheet(text=f"{ean_header}\tBackorder toegestaan?\n{JAS}\tja\n")
    assert sheet.fields == {"ean": 0, "value": 1}
    assert cells(sheet) == [[2, JAS, "ja"]]
    assert sheet.warnings == []


@pytest.mark.parametrize(
    "value_header",
    [
        "Backorder toegestaan?",
        "Backorders toegestaan:",
        "backorder allowed",
        "Backorders allowed",
        "Backorder",
        "  BACKORDER TOEGESTAAN ? ",
    ],
)
def test_every_value_header_synonym_is_recognised(value_header):
    sheet = read_sheet(text=f"EAN\t{value_header}\n{JAS}\tnee\n")
    assert sheet.fields == {"ean": 0, "value": 1}
    assert cells(sheet) == [[2, JAS, "nee"]]


def test_columns_are_found_by_name_not_by_position():
    sheet = read_sheet(text=f"Naam\tBackorder\tOpmerking\tGTIN\nJas\tja\tx\t{JAS}\n")
    assert sheet.fields == {"ean": 3, "value": 1}
    assert cells(sheet) == [[2, JAS, "ja"]]
    assert len(sheet.warnings) == 1
    assert "Naam" in sheet.warnings[0] and "Opmerking" in sheet.warnings[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EAN", "ean"),
        ("  Backorder   toegestaan? ", "backorder toegestaan"),
        ("Backorders toegestaan:", "backorders toegestaan"),
        ("ean code ", "ean code"),
        ("Barcode", "barcode"),
    ],
)
def test_normalise_header(raw, expected):
    assert normalise_header(raw) == expected


@pytest.mark.parametrize(
    ("index", "letter"), [(0, "A"), (1, "B"), (25, "Z"), (26, "AA"), (27, "AB")]
)
def test_column_letter(index, letter):
    assert column_letter(index) == letter


def test_header_row_is_row_one_and_data_follows():
    sheet = read_sheet(text=f"EAN\tBackorder\n{JAS}\tja\n{TRUI}\tnee\n")
    assert cells(sheet) == [[2, JAS, "ja"], [3, TRUI, "nee"]]


def test_entirely_empty_rows_are_skipped_and_row_numbers_kept():
    text = f"EAN\tBackorder\n{JAS}\tja\n\n\t\n{TRUI}\tnee\n"
    sheet = read_sheet(text=text)
    assert cells(sheet) == [[2, JAS, "ja"], [5, TRUI, "nee"]]
    assert sheet.warnings == []


def test_header_below_empty_rows_in_a_spreadsheet_keeps_spreadsheet_row_numbers(tmp_path):
    path = write_openpyxl(
        tmp_path / "batch.xlsx",
        [HEADER, [JAS, "ja"], [None, None], [TRUI, "nee"]],
        origin="B3",
    )
    sheet = read_sheet(path)
    assert sheet.fields == {"ean": 1, "value": 2}
    assert cells(sheet) == [[4, JAS, "ja"], [6, TRUI, "nee"]]
    assert sheet.grid.cell_name(sheet.fields["ean"], 6) == "cell B6"


def test_header_below_empty_lines_in_a_csv_keeps_line_numbers(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(f"\n\nEAN;Backorder\n{JAS};ja\n\n{TRUI};nee\n", encoding="utf-8")
    sheet = read_sheet(path)
    assert cells(sheet) == [[4, JAS, "ja"], [6, TRUI, "nee"]]


def test_pasted_text_with_empty_lines_above_the_header():
    sheet = read_sheet(text=f"\n\nEAN\tBackorder\n{JAS}\tja\n")
    assert cells(sheet) == [[4, JAS, "ja"]]


# -- no header ------------------------------------------------------------------------


def test_pasted_data_without_header_is_ean_then_value():
    sheet = read_sheet(text=f"{JAS}\tja\n{TRUI}\t0\n")
    assert sheet.fields == {"ean": 0, "value": 1}
    assert cells(sheet) == [[1, JAS, "ja"], [2, TRUI, "0"]]
    assert sheet.warnings == []


def test_windows_line_endings_in_pasted_text():
    sheet = read_sheet(text=f"{JAS}\tja\r\n\r\n{TRUI}\tnee\r\n")
    assert cells(sheet) == [[1, JAS, "ja"], [3, TRUI, "nee"]]


def test_first_row_not_naming_an_ean_column_is_data():
    # "Product" is not an EAN header, so the first row is data (RULES section 4).
    sheet = read_sheet(text=f"Product\tBackorder\n{JAS}\tja\n")
    assert cells(sheet) == [[1, "Product", "Backorder"], [2, JAS, "ja"]]


def test_extra_pasted_columns_are_ignored_and_named_in_a_warning():
    sheet = read_sheet(text=f"{JAS}\tja\tWinterjas\t12\n{TRUI}\tnee\tTrui\t3\n")
    assert cells(sheet) == [[1, JAS, "ja"], [2, TRUI, "nee"]]
    assert len(sheet.warnings) == 1
    assert "column 3" in sheet.warnings[0] and "column 4" in sheet.warnings[0]


def test_extra_named_columns_are_ignored_and_named_in_a_warning():
    sheet = read_sheet(text=f"EAN\tNaam\tBackorder\tVoorraad\n{JAS}\tJas\tja\t0\n")
    assert cells(sheet) == [[2, JAS, "ja"]]
    assert len(sheet.warnings) == 1
    assert "Naam" in sheet.warnings[0] and "Voorraad" in sheet.warnings[0]


def test_extra_unnamed_column_with_data_is_named_in_a_warning():
    # RULES section 4: other columns are ignored *and named in a warning*. A third
    # column holding data under no header is such a column.
    sheet = read_sheet(text=f"EAN\tBackorder\n{JAS}\tja\tWinterjas\n")
    assert cells(sheet) == [[2, JAS, "ja"]]
    assert len(sheet.warnings) == 1
    assert "column 3" in sheet.warnings[0] or "column C" in sheet.warnings[0]


def test_ean_and_value_values_are_trimmed():
    sheet = read_sheet(text=f"EAN\tBackorder\n  '{JAS}\u00a0\t ja \n")
    assert cells(sheet) == [[2, JAS, "ja"]]


# -- spreadsheets -----------------------------------------------------------------------


def test_openpyxl_numbers_and_text(tmp_path):
    path = write_openpyxl(
        tmp_path / "batch.xlsx",
        [
            HEADER,
            [int(JAS), 1],  # a 13-digit EAN stored as a number
            [TRUI, "nee"],  # text
            [int(UPC), 0],  # a UPC whose leading zero Excel dropped
            ["8,71235E+12", True],  # scientific notation text; a spreadsheet boolean
            [float(MOK), 1.0],
        ],
    )
    sheet = read_sheet(path)
    assert sheet.grid.kind == "spreadsheet"
    got = cells(sheet)
    assert [r[:2] for r in got] == [
        [2, JAS],
        [3, TRUI],
        [4, UPC.lstrip("0")],
        [5, "8,71235E+12"],
        [6, MOK],
    ]
    assert got[1][2] == "nee"
    assert got[0][2] in {"1", "1.0"} and got[2][2] in {"0", "0.0"}
    assert got[3][2].casefold() == "true"
    assert got[4][2] in {"1", "1.0"}


def test_xlsxwriter_numbers_and_text(tmp_path):
    path = write_xlsxwriter(
        tmp_path / "batch.xlsx",
        [
            HEADER,
            [int(JAS), 1],
            [TRUI, "nee"],
            [int(UPC), False],
            ["8.71235E+12", "ja"],
            [KAARS, None],
        ],
        origin=(1, 0),
    )
    sheet = read_sheet(path)
    got = cells(sheet)
    assert [r[:2] for r in got] == [
        [3, JAS],
        [4, TRUI],
        [5, UPC.lstrip("0")],
        [6, "8.71235E+12"],
        [7, KAARS],
    ]
    assert got[0][2] in {"1", "1.0"}
    assert got[2][2].casefold() == "false"
    assert got[4][2] is None


@pytest.mark.parametrize("writer", ["openpyxl", "xlsxwriter"])
def test_spreadsheet_bytes_need_a_name_and_read_alike(tmp_path, writer):
    rows = [HEADER, [JAS, "ja"], [TRUI, "nee"]]
    path = tmp_path / "batch.xlsx"
    if writer == "openpyxl":
        write_openpyxl(path, rows)
    else:
        write_xlsxwriter(path, rows)
    from_bytes = read_sheet(path.read_bytes(), name="upload.xlsx")
    assert cells(from_bytes) == cells(read_sheet(path)) == [[2, JAS, "ja"], [3, TRUI, "nee"]]
    with pytest.raises(TypeError):
        read_sheet(path.read_bytes())


def test_first_sheet_is_read_unless_one_is_named(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Eerste"
    workbook.active.append(HEADER)
    workbook.active.append([JAS, "ja"])
    second = workbook.create_sheet("Batch")
    second.append(["Opmerking"])
    second.append(HEADER)
    second.append([TRUI, "nee"])
    workbook.save(tmp_path / "two.xlsx")

    assert cells(read_sheet(tmp_path / "two.xlsx")) == [[2, JAS, "ja"]]
    named = read_sheet(tmp_path / "two.xlsx", sheet="Batch")
    # "Opmerking" on row 1 names no EAN column: no header, so the rows are data.
    assert cells(named) == [[1, "Opmerking", None], [2, "EAN", "Backorder toegestaan?"],
                            [3, TRUI, "nee"]]  # fmt: skip


def test_unknown_sheet_name_lists_the_sheets(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Eerste"
    workbook.create_sheet("Batch week 49")
    workbook.save(tmp_path / "two.xlsx")
    with pytest.raises(StructureError) as caught:
        read_sheet(tmp_path / "two.xlsx", sheet="Blad1")
    message = str(caught.value)
    assert "Blad1" in message and "'Eerste'" in message and "'Batch week 49'" in message


# -- CSV and TSV ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "suffix"), [(",", ".csv"), (";", ".csv"), ("\t", ".csv"), ("\t", ".tsv")]
)
def test_csv_delimiters_are_sniffed(tmp_path, delimiter, suffix):
    path = tmp_path / f"batch{suffix}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(
        [
            ["EAN", "Backorder toegestaan?", "Naam"],
            [JAS, "ja", "Jas"],
            [UPC.lstrip("0"), "0", "Bidon"],
            ["", "", ""],
            [TRUI, "nee", "Trui"],
        ]
    )
    path.write_text(buffer.getvalue(), encoding="utf-8")
    sheet = read_sheet(path)
    assert sheet.grid.kind == "csv"
    assert cells(sheet) == [[2, JAS, "ja"], [3, UPC.lstrip("0"), "0"], [5, TRUI, "nee"]]
    assert sheet.warnings == ["Ignored columns: Naam."]


def test_csv_in_cp1252_without_bom(tmp_path):
    path = tmp_path / "batch.csv"
    text = f"EAN;Backorder toegestaan?;Opmerking café\n{JAS};ja;crème brûlée\n"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the test file really is not UTF-8
    sheet = read_sheet(path)
    assert cells(sheet) == [[2, JAS, "ja"]]
    assert sheet.warnings == ["Ignored columns: Opmerking café."]


def test_csv_in_utf8_with_bom(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_bytes(f"EAN;Backorder toegestaan?\n{JAS};nee\n".encode("utf-8-sig"))
    sheet = read_sheet(path)
    assert sheet.fields == {"ean": 0, "value": 1}
    assert cells(sheet) == [[2, JAS, "nee"]]


def test_csv_keeps_leading_zeros_as_text(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(f"EAN,Backorder\n{UPC},1\n", encoding="utf-8")
    assert cells(read_sheet(path)) == [[2, UPC, "1"]]


# -- structure errors -------------------------------------------------------------------


def test_corrupt_xlsx_is_a_structure_error(tmp_path):
    path = tmp_path / "batch.xlsx"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(StructureError) as caught:
        read_sheet(path)
    assert "batch.xlsx" in str(caught.value)


def test_missing_file_is_a_structure_error(tmp_path):
    with pytest.raises(StructureError) as caught:
        read_sheet(tmp_path / "nowhere.xlsx")
    assert "nowhere.xlsx" in str(caught.value)


def test_unknown_suffix_is_a_structure_error(tmp_path):
    path = tmp_path / "batch.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(StructureError):
        read_grid(path)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"  \r\n\t\r\n"])
def test_empty_csv_is_a_structure_error(tmp_path, content):
    path = tmp_path / "batch.csv"
    path.write_bytes(content)
    with pytest.raises(StructureError):
        read_sheet(path)


def test_empty_pasted_text_is_a_structure_error():
    with pytest.raises(StructureError):
        read_sheet(text="")
    with pytest.raises(StructureError):
        read_sheet(text=" \n\t\n")


def test_empty_workbook_is_a_structure_error(tmp_path):
    openpyxl.Workbook().save(tmp_path / "empty.xlsx")
    with pytest.raises(StructureError) as caught:
        read_sheet(tmp_path / "empty.xlsx")
    assert "empty.xlsx" in str(caught.value)


def test_ean_header_without_value_column_says_what_was_expected_and_found(tmp_path):
    path = write_openpyxl(tmp_path / "batch.xlsx", [["EAN", "Naam"], [JAS, "Winterjas"]])
    with pytest.raises(StructureError) as caught:
        read_sheet(path)
    message = str(caught.value)
    assert "Backorder toegestaan" in message  # what was expected
    assert "'EAN'" in message and "'Naam'" in message  # what was found


def test_single_column_without_header_is_a_structure_error():
    with pytest.raises(StructureError) as caught:
        read_sheet(text=f"{JAS}\n{TRUI}\n")
    assert "Backorder toegestaan" in str(caught.value)
