"""Spreadsheets read by fastexcel give the grid the calamine reader gave.

``read_grid`` reads .xlsx, .xlsm, .xls and .xlsb with fastexcel, every column as
text. The python-calamine reader it replaced is still in the module (it reads
.ods, whose time cells fastexcel drops) and serves here as the reference: row
numbers as the user sees them, columns at their letters, number cells as the same
digits. Where the two render a cell differently (booleans, fractions beyond nine
decimals, times), the tests below pin the new text, so that a change is noticed.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from conftest import JAS, MOK, TRUI, UPC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backorder_ops import StructureError, read_sheet
from backorder_ops.reading import _read_with_calamine, read_grid

NA = None


def grid_rows(grid) -> list[list]:
    """The grid as ``[row, cell, cell, ...]`` lists, ``None`` for an empty cell."""
    frame = grid.cells.astype(object).where(grid.cells.notna(), None)
    return [[row, *values] for row, values in zip(frame.index, frame.values.tolist(), strict=True)]


def texts(cells: pd.Series) -> list:
    """A column's cells as a list, ``None`` for an empty cell."""
    return [None if pd.isna(v) else v for v in cells]


def reference(path: Path) -> pd.DataFrame:
    """The cells as the python-calamine reader (the one before fastexcel) gives them."""
    return _read_with_calamine(path, path.name, None).cells


def write_openpyxl(path: Path, cells: dict[str, object], *, title: str = "Blad1") -> Path:
    """A workbook with one sheet holding ``cells`` by address (``{"B3": "EAN"}``)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for address, value in cells.items():
        sheet[address] = value
    workbook.save(path)
    return path


# The same sheet in every format: rows 1-2 empty, data from column B, row 5 empty in
# the middle, a lone cell in column E, a number EAN, a text EAN with a leading zero,
# a boolean, a fraction.
SHEET = {
    "B3": "EAN", "C3": "Backorder",
    "B4": 8712345678906, "C4": 1,
    "B6": "0012345678905", "C6": True,
    "B7": 1.5, "E7": "x",
}  # fmt: skip
SHEET_ROWS = [
    [1, NA, NA, NA, NA, NA],
    [2, NA, NA, NA, NA, NA],
    [3, NA, "EAN", "Backorder", NA, NA],
    [4, NA, "8712345678906", "1", NA, NA],
    [5, NA, NA, NA, NA, NA],
    [6, NA, "0012345678905", "true", NA, NA],
    [7, NA, "1.5", NA, NA, "x"],
]

# SHEET saved by LibreOffice 7.4 as .xls (BIFF8) from an openpyxl .xlsx, and written
# as .xlsb by pyxlsbwriter 0.1 (no writer of either is a dependency); both have a
# second sheet "Tweede" holding "EAN" in A1. zlib-compressed, base64.
XLS = (
    "eNrtWFtMnEUUPvPvhX+BwnJTpBfXasudgNiWRiu3om1ixSheoiTtdvlpkS1Lthjpg7q15cW0iaYx+tCkacKD"
    "iYlWTfRBEyG+9EFjX/qg0YT2qaY+rEZjmgjrd87Mwg8uCbsQo5ZDzj+zZ+bMmTmXOWe48m3JzMWPqq7REniQ"
    "PDSXCpDfRVPAQPpHkMgytLlUKpUmp9bhPwWzpmUbemE/H5Btnge0jW3zTbsO/z94kmL4G6MQ9dAI2jidoGzg"
    "DniMe72V8MytcN5KYV1+7vL5/uZ73APMFP9833P8FwALgRuARcBinQKoBFgKLAOWAyvEJ4juBFYC7wJWATcC"
    "NwE3A7cA7waGgPcAtwLvNfvaZlrGGvRrgXWG1oC2cf0uWlMI2LCi30efb/iaTS62vwaPuOSdFr+4DuynUfaN"
    "7nA0EvqnoEv2EFa8hyk46R7lha9adB5YRB8K/Qv57hH/A3RQqM349HNWh+z+rHy3yrcIX0WfCc/3QmmBJ/4g"
    "fv6mhIGiPNVNYYrSEB3GTTiEGVV0mSPsNZnB8aE6ZYRnrWZ0i7eQJjnKHnVGnHg4OiPRM0m/p0KuSJ0KMZ3Z"
    "hf7byuhWlnS67eiT0F0mPdfr+cml9Npl6A3L0OuWoQf+Rj9nIbISlOI2mPBIW5LwS1ua8EpblsiTtjzhSx0S"
    "/53APXzJKz5FXdHwQMsE3LvcBHDfy44z4JwhDhhF08oGEvWdVXQTbo2LO/m8CPcnRQW2vvwtWijolavfSgVJ"
    "DrAvMdGmkwoJwZ5SHfh20JZfgjol2EgNNq58+w9khT+pSdKIV6eVns7HwdMVjgzH4gNOHLObm1vub31gx85d"
    "bbubd0DGeAopxqaDXp1iInYFcME4Faa1OA/p+yq46L4qxGYHcDCO7xLZeBDLNXZvunl9Z1X7QaEnaGHFbaxz"
    "alAnMTLtrROOevm+LnPTeeyU0E7Ld/s8/432ale/Zr6fbK919S/i1glgVyRGsCCtQVUW+k9NH5ppT7eKnsaI"
    "Ta/IsUm9YRebkxaJzDzhZlXaVlB25sE6+oorFponA82XgeaXdRZos1A4r6fl6V8WfvEED6R79NiNK2Xq4wtd"
    "r0LzHhn3m9k+GbdE/5X4pXmV1CLmCLRZMZ9fZr5gaT4/nKJY3O1neoJXSO7T1kraxt3YazAj2Sw1hjdZI/RA"
    "MpihjrEoX/iYh7X0sFVKn/p1KiB6SLTPFYeWmBYAOAJfPWK7F1Lp2ul28rEFlSjjY7q/2E/IVHuLbRZy28zO"
    "wWa2y2a0epvlCgrVpCdf19BB29K3sh56hGvWA0OReOx4bHAs1DMecaKh3bsa+8KHnWjUEbfoGhocbKNVySdr"
    "NfxzKRLbZ1iXZiYu/Hqr92jw/bdsqq/+5Du2z7vz94rWOHvpPlPn9xtdHjX1/pip+ROm7j9j0sJPs7qGZ57Y"
    "qDMyemI8Sqau5/Fms3YalvYTB97+qvv0j8rdX+vzSzq7+s3V800bg+fewfkbbn2wl/PlElq/eaek017QdcbH"
    "zLuIzFuFx9vMeIcrTbKuOkdHn3Hix4diI4t1xPptbWqhfyus5ftf9LckhjLxsE4TBbr/LKTHaRiFCe9jOOv9"
    "l0rm0npOZfGuvmyn46Qbco/hhdOLPbyYk3yP6w2+Ep77gPvn47QXrwEnZ/tx5s72/b/dvNV1/fgUvYTzH8Or"
    "hG2/H14wKDZhyhheKzFQlocaI9+Xhf6rWf/z8vdCQkT24IgHZrefthzOXw98b/3/PwJ/ATzkIqs="
)

XLSB = (
    "eNrtWWtsFFUUPndmShcpsFCQh4DLgiWh7c52W0qBltpSMA2CVTAQKZDp7rRd2J2tMwNsNcbyEF8/xAfUB/Iw"
    "hMSYGAV/+MOQmBASgz98xEQjaERABEJAE0Wk1HPvzO7Mzu6226YSjc5mZu69c893zj33nse927SUF8YBgAvv"
    "6bD5yrtKMQ9QhPdEbIlHxC0xdaPWLsu6JrJXma8lrJAi/pubWwm8TCacFDi4F9jVa160/Apxg+N6isCzZNop"
    "3t5GKUO2ejeZmkp0tZaYJQ5v/lUyk3fAEki/niOwk8A9wwhwo6Brt4vLgyI4xxdQ6VxQwkh28lA9NkkhJJhU"
    "jyUJ0HFWG2cKAKOtNioI76AVEtW8RNvTPLxoidJliIItMCnBuoTYRsGIJ5Hsn7hsn/IL7JrIL+Ds+pnEZyPL"
    "cyfJLnxWSI7sr+eSpMMYqZBdmLz+haFYwnBLmEnDcpCEXddr8wsSvKn4LxHoFuqtQWWaeOhncdD6QWNpDrOx"
    "fovAaZ5zwyne38qu87WJt6ma5LucXV8m33RmwY0zO9HtZFgE2wg0JQ1sz4c71n597ep4L/aZiveMNANbr8oR"
    "u5n5aJ1MJWduVdfGoxHPZlnVwjGlxlvm83s9shKMhcJKW4334ZVLSqu8Hk2XlJAUiSlyjbdT1ry1C++ofkiO"
    "SDrSaO3hDs2DIIpW423X9Y75oqgF2+WopPliHbKCX1pjalTSsaq2iR1ScKPUJosBv79SVO0YXgeopzFU41Ub"
    "Q2Vez8rODjkNPBoOqjEt1qr7grGoGGttDQczwYrxSH1YkdTORiUkxxFLUttkvcbbYjUylXhF5C+mjGphqoqP"
    "bd/b7sUadSTT0lTsxEN/c6Z3NvV14MmwfnZztgmkHvLJHn/zSZy8EySrhwww3BNk3q3Beci9/0wPmT9Ij2Z4"
    "o4QRwxAasv26bRb8/H1TPTlZcOB/C3ZacGCILTgwUAum6MEzNw4uQadfh3chtq5ZFFN0WdHX08Fra32oR1In"
    "HPtz0BPGcAY5UUFDllKdYtCJapBbpU0R3bM4ju2GJFSHHlNoY8Kkjo5IOMj0KW5WQr6oVirHg3LEx1TmMzTm"
    "i0o4j4sVqSUiYxfJnIkMDOia7YdD6jhKzTH4UhZEMXbIxoJ+ys4hQfgAal8Nh2RPk6Tqy6UodhPNxdASi230"
    "Da0m+uCWlgDnyjZJjBxyYJAW7XJkg10Z0SotNz6Wg/r7BxIY9ECyTommd0ZkbUDTzyj6xGyXVDm0QlfRvAcG"
    "bSc0nBvzAA6n1nXp+ucixozZeI/AViNSGPFhNvnqXxwfMoAbQaIhFtwURQVmChapPaxo4TTvfoNFcfldba9z"
    "zM+zzZkDgOzmNvRsJ9BFAs7IQNOlOERYwJ/LnpVs2xaACijHZyW8Rgo8tnyAJgr8aOjqdlfQcLMI5kMzaPAo"
    "YmhYWgkyvnXohEdAgg4IY20TrGZfW/B7ESQyja0TtyVRRbzLkN96UCAIKmKWYflxfFbCHPBDFTRgaR6UIr8l"
    "WJuLpQp8Gm1VWJ6D5VLsVQF1ePuRkuKVsfa58ATjIGaIjEXwtJnGWcnPSDNJNb7vM3LNfXcCfBDG1KkIYDVn"
    "AcSfIfACgb3Em8ib6F5KhUZMWMuYKutx8BKr7SUzk7vBZKcA24SthC2oORnrMuwi8AMH5zi4yE3hsqSB9D7D"
    "wawl0xOtdN7Xo3bCyE5HFBW1IWFJQr1LqH2Z9Vhg29Sae3Y6VBOH5I6Tnq9SnDfJ5DkXOYZD8/Wbb1/7YllL"
    "E0vON8AbhMAMARcPvOMmqIodzrTS75/3fRUmyOW8MQkpXo6U85/e3MPBT4JAlVJScohlLp3mrxmnP4o/+g7h"
    "rxkToXb8zWetJdMOQ0EfvS8I8KMgUDGLZ53C5y5izFO+McxeLp+tdQl1EkY9qPikHQl8xA5FrvTVMbFJ2OrC"
    "1XRWgG+NAZQ2sO2AsSnq5eusNTeQq7RhzBCgnBLgnDF8X3lK9p9b6bwAvxjkotvO3I3m9KsAPwuCwL7ZWdJv"
    "tOWQrYWwlsNpLUCIjeqiAJcMbkyzY5J2m2rX/ikJEemmdTnEcDKibGIUXACXBfiDZ+v/Bg83+SZaGsPskK7z"
    "CK7yFcyL0dIyZpdh9GNRtFbaqwlrmxFRt/W6H9vacMHpzGv18LjUcdbhkgt+c81OwK9g6yLIzCoz6e8uuOyC"
    "maahvOeGI27mtMcz4cIogpwDylE3vO9GlG5n4r947KoDn+DyO473ZMPEjCBsjxdGQD7OLej5jwVkK8FLxuLM"
    "mS/mf5mECdxmYQJ9CVM+lMKYuWNSElv2mYV9xZCyT8kvLSnS8tU+UyV6dnW98OMHg1haZ55tZ8p6yTo42Luf"
    "uPLMGFk4gh3bLMbcYjkUToDhLKpLaIEbmVsJMUssvJsFLT/LPgKYfVSY2UcVZil+LBfmM3cUhwM08BFuHJ/9"
    "T4fE1cU8X7YdmB0l08mqhSLxOZ2zOgGdpxAW4HGhv1NF5xCdp4YWljcv+xmiUyLn0ZOFMiM/p4Oo3Ie409Xf"
    "sYsTy3msYmGddWU8ZHECODdIFsCakSnbJSehcwdgER4dlbYfcBI78y6L+LExjizMSeqMJxbp6XF9RRfn4nCa"
    "pYXz3YTMRtq0NI9lsQX4q0fBNbam/gJlbmzI"
)


def unpack(blob: str) -> bytes:
    return zlib.decompress(base64.b64decode(blob))


# -- sheet positions ------------------------------------------------------------------


def test_empty_rows_above_and_columns_left_of_the_data_keep_sheet_positions(tmp_path):
    path = write_openpyxl(tmp_path / "batch.xlsx", SHEET)
    grid = read_grid(path)
    assert grid_rows(grid) == SHEET_ROWS
    assert grid.cells.index[0] == 1 and grid.cells.index.name == "row"
    assert grid.cell_name(1, 6) == "cell B6" and grid.cell_name(4, 7) == "cell E7"
    # Row 6 holds the boolean: "true" now, "True" from python-calamine.
    pd.testing.assert_frame_equal(grid.cells.drop(index=6), reference(path).drop(index=6))


def test_far_right_data_keeps_its_column_letters(tmp_path):
    path = write_openpyxl(tmp_path / "far.xlsx", {"AB5": "EAN", "AC5": "Backorder", "AB6": 1})
    grid = read_grid(path)
    assert grid.cells.shape == (6, 29)
    assert grid.cells.loc[:4].isna().all().all() and grid.cells.loc[:, :26].isna().all().all()
    assert grid.cells.at[5, 27] == "EAN" and grid.cell_name(27, 6) == "cell AB6"
    pd.testing.assert_frame_equal(grid.cells, reference(path))


def test_batch_rows_below_empty_rows_and_right_of_empty_columns(tmp_path):
    path = write_openpyxl(
        tmp_path / "batch.xlsx",
        {
            "C4": "EAN", "D4": "Backorder toegestaan?",
            "C5": int(JAS), "D5": "ja",
            "C8": TRUI, "D8": "nee", "E8": None,
            "C9": None, "D9": None,
            "C10": UPC, "D10": 0, "F10": "   ",  # trailing cell of spaces only
        },
    )  # fmt: skip
    sheet = read_sheet(path)
    assert sheet.fields == {"ean": 2, "value": 3}
    assert sheet.rows.reset_index().values.tolist() == [
        [5, JAS, "ja"],
        [8, TRUI, "nee"],
        [10, UPC, "0"],
    ]
    assert sheet.grid.cell_name(sheet.fields["ean"], 10) == "cell C10"
    assert sheet.warnings == []


def test_styled_empty_cells_past_the_data_add_nothing(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"], sheet["B1"] = "EAN", "Backorder"
    sheet["A2"], sheet["B2"] = int(JAS), "ja"
    sheet["H40"].font = openpyxl.styles.Font(bold=True)
    workbook.save(tmp_path / "styled.xlsx")
    grid = read_grid(tmp_path / "styled.xlsx")
    assert grid_rows(grid) == [[1, "EAN", "Backorder"], [2, JAS, "ja"]]
    pd.testing.assert_frame_equal(grid.cells, reference(tmp_path / "styled.xlsx"))


# -- cell text ------------------------------------------------------------------------


def test_number_cells_read_as_the_same_digits(tmp_path):
    cells = {
        "A1": 8712345678906, "A2": 8712345678906.0, "A3": int(UPC), "A4": 1, "A5": 1.0,
        "A6": 0, "A7": -3, "A8": 1.5, "A9": 12.25, "A10": 2**53, "A11": 1e20,
        "A12": "0012345678905", "A13": "'0012", "A14": " 8712345678906 ", "A15": "8,71235E+12",
        "A16": dt.datetime(2024, 3, 5, 14, 30), "A17": dt.date(2024, 3, 5), "A18": "#N/A",
        "A19": "#DIV/0!", "A20": "#VALUE!",
    }  # fmt: skip
    path = write_openpyxl(tmp_path / "numbers.xlsx", cells)
    got = texts(read_grid(path).cells[0])
    assert got == [
        "8712345678906", "8712345678906", UPC.lstrip("0"), "1", "1",
        "0", "-3", "1.5", "12.25", "9007199254740992", "100000000000000000000",
        "0012345678905", "0012", "8712345678906", "8,71235E+12",
        "2024-03-05 14:30:00", "2024-03-05 00:00:00", NA, NA, NA,
    ]  # fmt: skip
    assert got == texts(reference(path)[0])


def test_formula_cells_give_their_cached_value(tmp_path):
    # xlsxwriter stores the value a formula had; openpyxl stores none (read as empty).
    path = tmp_path / "formulas.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_formula("A1", "=8712345678900+6", None, 8712345678906)
    sheet.write_formula("A2", '="00"&"12345678905"', None, "0012345678905")
    sheet.write_formula("A3", "=3/2", None, 1.5)
    sheet.write_formula("A4", "=NA()", None, "#N/A")
    sheet.write_formula("A5", "=1+1")  # xlsxwriter's default cached value: 0
    sheet.write_formula("A6", "=1=1", None, True)
    workbook.close()
    grid = read_grid(path)
    assert texts(grid.cells[0])[:5] == ["8712345678906", "0012345678905", "1.5", NA, "0"]
    assert grid.cells.at[6, 0] == "true"  # "True" from python-calamine
    assert grid.cells.drop(index=6).equals(reference(path).drop(index=6))


def test_a_column_of_numbers_keeps_a_later_text_ean_as_text(tmp_path):
    # Type inference would sample the first rows, see numbers and read "0012..." as 12...
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["EAN", "Backorder"])
    for _ in range(2500):
        sheet.append([int(MOK), 1])
    sheet.append([UPC, "ja"])
    sheet.append(["0012345678905", "nee"])
    workbook.save(tmp_path / "numbers_first.xlsx")
    grid = read_grid(tmp_path / "numbers_first.xlsx")
    assert grid.cells[0].tolist()[-3:] == [MOK, UPC, "0012345678905"]
    assert grid.cells.equals(reference(tmp_path / "numbers_first.xlsx"))


def test_where_fastexcel_renders_cells_otherwise():
    # Pinned on purpose: python-calamine gave "True", "0.3333333333333333", "1e-07",
    # "08:15:00". Each is still a boolean, a non-whole number, a non-whole number
    # and no number for RULES; the text only shows in messages.
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    for value in [True, False, 1 / 3, 1e-07, dt.time(8, 15)]:
        workbook.active.append([value])
    workbook.save(buffer)
    grid = read_grid(buffer.getvalue(), name="other.xlsx")
    assert grid.cells[0].tolist() == [
        "true", "false", "0.333333333", "0.0000001", "1899-12-31 08:15:00",
    ]  # fmt: skip


CELLS = st.one_of(
    st.none(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=-(10**8), max_value=10**8).map(lambda cents: cents / 100),
    st.from_regex(r"[0-9]{1,14}", fullmatch=True),
    st.text(alphabet="abcXYZ -'0", min_size=1, max_size=8),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=8),
       top=st.integers(0, 3), left=st.integers(0, 3))  # fmt: skip
def test_text_and_numbers_read_as_the_calamine_reader_read_them(tmp_path, rows, top, left):
    path = tmp_path / "cells.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value is not None:
                sheet.cell(row=top + r + 1, column=left + c + 1, value=value)
    workbook.save(path)
    pd.testing.assert_frame_equal(read_grid(path).cells, reference(path))


# -- formats, bytes and sheets ----------------------------------------------------------


def write_sheet_as(tmp_path: Path, suffix: str) -> Path:
    """SHEET, plus a second sheet "Tweede", in the format of ``suffix``."""
    path = tmp_path / f"batch{suffix}"
    if suffix == ".xls":
        path.write_bytes(unpack(XLS))
    elif suffix == ".xlsb":
        path.write_bytes(unpack(XLSB))
    elif suffix == ".ods":
        write_ods(path, SHEET_ROWS)
    else:  # .xlsx and .xlsm: the same zip of XML for calamine
        workbook = openpyxl.Workbook()
        workbook.active.title = "Blad1"
        for address, value in SHEET.items():
            workbook.active[address] = value
        workbook.create_sheet("Tweede")["A1"] = "EAN"
        workbook.save(path)
    return path


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"])
def test_every_format_by_path_and_from_bytes(tmp_path, suffix):
    path = write_sheet_as(tmp_path, suffix)
    by_path = read_grid(path)
    from_bytes = read_grid(path.read_bytes(), name=f"upload{suffix}")
    expected = SHEET_ROWS
    if suffix == ".ods":  # read by python-calamine, which shows a boolean as Python does
        expected = [[*r[:3], "True", *r[4:]] if r[0] == 6 else r for r in SHEET_ROWS]
    assert grid_rows(by_path) == grid_rows(from_bytes) == expected
    assert (by_path.source, from_bytes.source) == (path.name, f"upload{suffix}")
    assert by_path.kind == from_bytes.kind == "spreadsheet"
    assert (by_path.cells.dtypes == "str").all()
    second = read_grid(path.read_bytes(), name=f"upload{suffix}", sheet="Tweede")
    assert grid_rows(second) == [[1, "EAN"]]
    assert second.source == f"upload{suffix}, sheet 'Tweede'"


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".xlsb", ".ods"])
def test_batch_sheet_in_every_format(tmp_path, suffix):
    sheet = read_sheet(write_sheet_as(tmp_path, suffix))
    assert sheet.rows.reset_index().values.tolist()[:2] == [
        [4, "8712345678906", "1"],
        [6, "0012345678905", "True" if suffix == ".ods" else "true"],
    ]


ODS_TEXT = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
ODS_NUMBER = '<table:table-cell office:value-type="float" office:value="{}"/>'
ODS_TRUE = '<table:table-cell office:value-type="boolean" office:boolean-value="true"/>'
ODS_TIME = '<table:table-cell office:value-type="time" office:time-value="{}"/>'


def write_ods(path: Path, rows: list[list], *, time: str | None = None) -> Path:
    """An OpenDocument spreadsheet of ``rows`` (``[row, cell, ...]``) and a sheet "Tweede".

    Written by hand (no ODS writer is a dependency). Cells are given as the grid
    shows them (as in SHEET_ROWS): digits without a leading zero go in as numbers,
    "true" as a boolean; ``time`` (ISO 8601, "PT08H15M00S") adds a row with a time.
    """

    def cell(value: str | None) -> str:
        if value is None:
            return "<table:table-cell/>"
        if value == "true":
            return ODS_TRUE
        if value.replace(".", "", 1).isdigit() and not value.startswith("0"):
            return ODS_NUMBER.format(value)
        return ODS_TEXT.format(value)

    body = "".join(
        "<table:table-row>" + "".join(map(cell, values)) + "</table:table-row>"
        for _, *values in rows
    )
    if time:
        body += f"<table:table-row>{ODS_TIME.format(time)}</table:table-row>"
    tables = (
        f'<table:table table:name="Blad1">{body}</table:table>'
        f'<table:table table:name="Tweede"><table:table-row>{ODS_TEXT.format("EAN")}'
        "</table:table-row></table:table>"
    )
    namespaces = " ".join(
        f'xmlns:{n}="urn:oasis:names:tc:opendocument:xmlns:{n}:1.0"'
        for n in ("office", "table", "text")
    )
    manifest = (
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # The mimetype entry comes first and uncompressed (ODF 1.2, section 3.3).
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr(
            "content.xml",
            f"<office:document-content {namespaces}><office:body><office:spreadsheet>"
            f"{tables}</office:spreadsheet></office:body></office:document-content>",
        )
    return path


def test_ods_time_cells_are_kept_even_when_uploaded_under_another_suffix(tmp_path):
    # fastexcel reads an ODS time cell as empty: ODS stays with python-calamine,
    # recognised by its content when it comes as bytes.
    path = write_ods(tmp_path / "batch.ods", [[1, "EAN"], [2, "8712345678906"]], time="PT08H15M00S")
    assert read_grid(path).cells[0].tolist() == ["EAN", "8712345678906", "08:15:00"]
    uploaded = read_grid(path.read_bytes(), name="batch.xlsx")
    assert uploaded.cells[0].tolist() == ["EAN", "8712345678906", "08:15:00"]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
@pytest.mark.parametrize("suffix", ["xls", "ods"])
def test_libreoffice_copies_read_like_the_xlsx(tmp_path, suffix):
    path = write_sheet_as(tmp_path, ".xlsx")
    out = tmp_path / "out"
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
         "--convert-to", suffix, "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    copy = read_grid(out / f"batch.{suffix}").cells
    original = read_grid(path).cells
    if suffix == "ods":  # LibreOffice has no boolean type: TRUE is the number 1
        original = original.replace("true", "1")
    pd.testing.assert_frame_equal(copy, original)


# -- structure errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [
        (".xlsx", "invalid Zip archive: Could not find EOCD"),
        (".xlsm", "invalid Zip archive: Could not find EOCD"),
        (".xlsb", "invalid Zip archive: Could not find EOCD"),
        (".ods", "invalid Zip archive: Could not find EOCD"),
        (".xls", "Cfb error: Invalid OLE"),
    ],
)
def test_corrupt_files_are_structure_errors_with_the_engine_reason(tmp_path, suffix, reason):
    path = tmp_path / f"batch{suffix}"
    path.write_bytes(b"EAN;Backorder\n" + os.urandom(2048))
    with pytest.raises(StructureError) as by_path:
        read_grid(path)
    assert str(by_path.value).startswith(
        f"batch{suffix}: cannot be read as a spreadsheet ({reason}"
    )
    with pytest.raises(StructureError) as from_bytes:
        read_grid(path.read_bytes(), name=f"upload{suffix}")
    assert str(from_bytes.value) == (
        f"upload{suffix}: cannot be read as a spreadsheet (Cannot detect file format)."
    )


def test_a_sheet_cut_short_is_a_structure_error(tmp_path):
    path = write_openpyxl(tmp_path / "whole.xlsx", SHEET)
    cut = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(cut, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            target.writestr(item, content)
    with pytest.raises(StructureError) as caught:
        read_grid(cut)
    assert str(caught.value).startswith("cut.xlsx: cannot be read as a spreadsheet (")
    assert "calamine error" not in str(caught.value)


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".xlsb", ".ods"])
def test_unknown_sheet_lists_the_sheets(tmp_path, suffix):
    path = write_sheet_as(tmp_path, suffix)
    for source, name in [(path, None), (path.read_bytes(), f"upload{suffix}")]:
        with pytest.raises(StructureError) as caught:
            read_grid(source, name=name, sheet="Batch")
        shown = name or path.name
        assert str(caught.value) == (
            f"{shown}: there is no sheet named 'Batch'; its sheets are: 'Blad1', 'Tweede'."
        )


def test_empty_workbook_reads_as_an_empty_grid_and_a_batch_says_so(tmp_path):
    openpyxl.Workbook().save(tmp_path / "empty.xlsx")
    grid = read_grid(tmp_path / "empty.xlsx")
    assert grid.cells.shape == (0, 0)
    with pytest.raises(StructureError) as caught:
        read_sheet(tmp_path / "empty.xlsx")
    assert str(caught.value) == "empty.xlsx: there is nothing in it."
