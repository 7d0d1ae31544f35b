"""The batch "Product Backorder" (RULES sections 3, 4 and 5) against the tiny catalog.

Tiny catalog, shop setting off (see conftest): JAS (parent, off) with variants
JAS_S (stock 0) and JAS_M (stock 4); TRUI (parent, on) with TRUI_S (-1) and
TRUI_M (0); standalone KAARS (0, off), MOK (7, off), SOK (EAN-8, -2, on) and
UPC (UPC-12 with a leading zero, 0, off).

Visible now: JAS (through JAS_M), JAS_M, TRUI, TRUI_S, TRUI_M, MOK, SOK.
Hidden now: JAS_S, KAARS, UPC.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import openpyxl
import pandas as pd
import pyarrow as pa
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
    TRUI_M,
    TRUI_S,
    UPC,
    make_ean,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaError

from backorder_ops import (
    Store,
    StructureError,
    apply_batch,
    classify_rows,
    current_visibility,
    load_catalog,
    parallel,
    preview_batch,
    read_sheet,
    set_shop_setting,
)
from backorder_ops.batch import ROWS_SCHEMA

UNKNOWN = make_ean("871234599999")  # valid, but in no catalog
BAD_CHECK = JAS[:-1] + str((int(JAS[-1]) + 1) % 10)  # JAS with a wrong check digit
UPC_NO_ZERO = UPC.lstrip("0")  # as Excel shows a UPC typed into a number cell
SCIENTIFIC = "8,71235E+12"  # as Dutch Excel shows a 13-digit number in a narrow column

HEADER = "EAN\tBackorder toegestaan?"
#: The parents' settings in the tiny catalog, as loaded.
SETTINGS = {JAS: False, TRUI: True, KAARS: False, MOK: False, SOK: True, UPC: False}
HIDDEN_NOW = sorted([JAS_S, KAARS, UPC])


def paste(*rows: tuple[str, str], header: bool = True) -> str:
    """Pasted spreadsheet text: tab-separated, one line per row, header on line 1."""
    lines = ([HEADER] if header else []) + ["\t".join(row) for row in rows]
    return "\n".join(lines) + "\n"


def table(result, columns=("row", "status", "reason")) -> list[list]:
    """Rows of a result (or a frame) as lists, ``None`` for a missing value."""
    frame = result.rows if hasattr(result, "rows") else result
    return [
        [None if pd.isna(v) else v for v in record]
        for record in frame[list(columns)].itertuples(index=False, name=None)
    ]


def eans(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["ean"].tolist())


def message(result, row: int) -> str:
    return result.rows.set_index("row").at[row, "message"]


def settings_of(store: Store) -> dict[str, bool]:
    products = store.read_products()
    return dict(zip(products["ean"].tolist(), products["backorder_allowed"].tolist(), strict=True))


def batches(store: Store) -> pd.DataFrame:
    """The history of backorder batches (loading the catalog is recorded too), oldest first."""
    history = store.list_batches()
    return history[history["kind"] == "backorder"].sort_values("id").reset_index(drop=True)


def preview(store: Store, *rows: tuple[str, str], **kwargs):
    return preview_batch(read_sheet(text=paste(*rows)), db=store, **kwargs)


# -- every status and reason ----------------------------------------------------------


def test_every_status_and_reason(tiny):
    before = tiny.read_products()
    result = preview(
        tiny,
        (JAS, "ja"),  # 2 applied
        (MOK, "nee"),  # 3 unchanged: already nee
        (JAS, "1"),  # 4 unchanged: repeat of row 2
        ("", "ja"),  # 5
        (BAD_CHECK, "ja"),  # 6
        (UNKNOWN, "ja"),  # 7
        (JAS_S, "ja"),  # 8
        (KAARS, ""),  # 9
        (UPC, "misschien"),  # 10
        (TRUI, "nee"),  # 11
        (TRUI, "ja"),  # 12
    )
    assert table(result, ["row", "ean", "value", "status", "reason"]) == [
        [2, JAS, True, "applied", None],
        [3, MOK, False, "unchanged", None],
        [4, JAS, True, "unchanged", None],
        [5, None, True, "rejected", "missing_ean"],
        [6, BAD_CHECK, True, "rejected", "invalid_ean"],
        [7, UNKNOWN, True, "rejected", "unknown_ean"],
        [8, JAS_S, True, "rejected", "variant_not_allowed"],
        [9, KAARS, None, "rejected", "missing_value"],
        [10, UPC, None, "rejected", "invalid_value"],
        [11, TRUI, False, "rejected", "conflicting_duplicate"],
        [12, TRUI, True, "rejected", "conflicting_duplicate"],
    ]
    assert result.summary() == {"rows": 11, "applied": 1, "unchanged": 2, "rejected": 8}
    assert result.status == "done" and result.batch_id is None
    assert table(result.rejected, ["row"]) == [[r] for r in range(5, 13)]
    assert all(m.startswith(f"Row {r}: ") for r, m in table(result, ["row", "message"]))
    # Only JAS changes: its variant JAS_S (stock 0) reappears.
    assert eans(result.newly_visible) == [JAS_S]
    assert eans(result.newly_hidden) == []
    # A preview writes nothing.
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    assert batches(tiny).empty


def test_applied_and_old_new_values_are_logged_per_row(tiny):
    result = preview(tiny, (JAS, "ja"), (TRUI, "nee"), (MOK, "0"), (JAS_S, "ja"))
    assert table(result, ["row", "old_value", "new_value", "status"]) == [
        [2, False, True, "applied"],
        [3, True, False, "applied"],
        [4, False, False, "unchanged"],
        [5, None, None, "rejected"],
    ]


# -- which reason wins ----------------------------------------------------------------

ORDER_CASES = {
    "empty EAN + invalid value -> missing_ean": (
        [("", "misschien")],
        [[2, "rejected", "missing_ean"]],
    ),
    "invalid EAN + missing value -> invalid_ean": (
        [(BAD_CHECK, "")],
        [[2, "rejected", "invalid_ean"]],
    ),
    "invalid EAN + invalid value -> invalid_ean": (
        [("abc", "misschien")],
        [[2, "rejected", "invalid_ean"]],
    ),
    "scientific EAN + missing value -> invalid_ean": (
        [(SCIENTIFIC, "")],
        [[2, "rejected", "invalid_ean"]],
    ),
    "unknown + invalid value -> unknown_ean": (
        [(UNKNOWN, "misschien")],
        [[2, "rejected", "unknown_ean"]],
    ),
    "unknown + missing value -> unknown_ean": (
        [(UNKNOWN, "")],
        [[2, "rejected", "unknown_ean"]],
    ),
    "variant + missing value -> variant_not_allowed": (
        [(JAS_S, "")],
        [[2, "rejected", "variant_not_allowed"]],
    ),
    "variant + invalid value -> variant_not_allowed": (
        [(TRUI_M, "misschien")],
        [[2, "rejected", "variant_not_allowed"]],
    ),
    "missing value + invalid would-be -> missing_value": (
        [(KAARS, "  ")],
        [[2, "rejected", "missing_value"]],
    ),
    "missing value beats duplicate": (
        [(JAS, "ja"), (JAS, "")],
        [[2, "applied", None], [3, "rejected", "missing_value"]],
    ),
    "invalid value beats duplicate": (
        [(JAS, "misschien"), (JAS, "nee")],
        [[2, "rejected", "invalid_value"], [3, "unchanged", None]],
    ),
    "variant twice with different values -> variant_not_allowed": (
        [(JAS_S, "ja"), (JAS_S, "nee")],
        [[2, "rejected", "variant_not_allowed"], [3, "rejected", "variant_not_allowed"]],
    ),
    "unknown twice with different values -> unknown_ean": (
        [(UNKNOWN, "ja"), (UNKNOWN, "nee")],
        [[2, "rejected", "unknown_ean"], [3, "rejected", "unknown_ean"]],
    ),
    "conflicting duplicate rejects both rows": (
        [(KAARS, "ja"), (KAARS, "nee")],
        [[2, "rejected", "conflicting_duplicate"], [3, "rejected", "conflicting_duplicate"]],
    ),
    "conflict rejects every row of the product, repeats included": (
        [(KAARS, "ja"), (MOK, "ja"), (KAARS, "1"), (KAARS, "0")],
        [
            [2, "rejected", "conflicting_duplicate"],
            [3, "applied", None],
            [4, "rejected", "conflicting_duplicate"],
            [5, "rejected", "conflicting_duplicate"],
        ],
    ),
    "conflict found through lost leading zeros": (
        [(UPC_NO_ZERO, "ja"), (UPC, "nee")],
        [[2, "rejected", "conflicting_duplicate"], [3, "rejected", "conflicting_duplicate"]],
    ),
    "conflict found through an added leading zero": (
        [("0" + JAS, "ja"), (JAS, "nee")],
        [[2, "rejected", "conflicting_duplicate"], [3, "rejected", "conflicting_duplicate"]],
    ),
    "same value repeated -> applied then unchanged": (
        [(KAARS, "ja"), (KAARS, "1"), (KAARS, "JA")],
        [[2, "applied", None], [3, "unchanged", None], [4, "unchanged", None]],
    ),
    "same value repeated through lost zeros -> unchanged": (
        [(UPC_NO_ZERO, "ja"), (UPC, "yes")],
        [[2, "applied", None], [3, "unchanged", None]],
    ),
    "same current value repeated -> unchanged twice": (
        [(MOK, "nee"), (MOK, "0")],
        [[2, "unchanged", None], [3, "unchanged", None]],
    ),
    "empty rows skipped": (
        [("", ""), (KAARS, "ja"), ("", "")],
        [[3, "applied", None]],
    ),
}


@pytest.mark.parametrize(("rows", "expected"), ORDER_CASES.values(), ids=ORDER_CASES.keys())
def test_which_reason_wins(tiny, rows, expected):
    assert table(preview(tiny, *rows)) == expected


TRUE_WORDS = ["1", "ja", "JA", " Ja ", "j", "yes", "Y", "true", "TRUE", "1.0"]
FALSE_WORDS = ["0", "nee", "NEE", " Nee ", "n", "no", "N", "false", "False", "0.0"]
INVALID_WORDS = ["misschien", "2", "-1", "10", "0.5", "ja nee", "yes!", "none", "x"]


@pytest.mark.parametrize(
    ("word", "value", "status", "reason"),
    [(w, True, "applied", None) for w in TRUE_WORDS]
    + [(w, False, "unchanged", None) for w in FALSE_WORDS]
    + [(w, None, "rejected", "invalid_value") for w in INVALID_WORDS],
)
def test_values_are_parsed_never_by_truthiness(tiny, word, value, status, reason):
    # KAARS is off: a true value changes it, a false one leaves it as it is.
    result = preview(tiny, (KAARS, word))
    assert table(result, ["row", "value", "status", "reason"]) == [[2, value, status, reason]]


def test_nee_switches_a_product_off(tiny):
    result = apply_batch(read_sheet(text=paste((TRUI, "nee"), (SOK, "Nee"))), db=tiny)
    assert table(result, ["row", "value", "status"]) == [
        [2, False, "applied"],
        [3, False, "applied"],
    ]
    assert settings_of(tiny)[TRUI] is False and settings_of(tiny)[SOK] is False


# -- EAN cells --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "ean", "status", "reason"),
    [
        (JAS, JAS, "applied", None),
        (f"  {JAS}\u00a0", JAS, "applied", None),
        (f"'{JAS}", JAS, "applied", None),
        (f"{JAS}.0", JAS, "applied", None),
        ("0" + JAS, JAS, "applied", None),
        (UPC_NO_ZERO, UPC, "applied", None),
        (UPC, UPC, "applied", None),
        ("00" + SOK, SOK, "applied", None),
        (SCIENTIFIC, SCIENTIFIC, "rejected", "invalid_ean"),
        ("8.71235E+12", "8.71235E+12", "rejected", "invalid_ean"),
        ("8.71235e+12", "8.71235e+12", "rejected", "invalid_ean"),
        (f"{JAS}.5", f"{JAS}.5", "rejected", "invalid_ean"),
        ("000" + JAS, "000" + JAS, "rejected", "invalid_ean"),  # 16 digits
        (BAD_CHECK, BAD_CHECK, "rejected", "invalid_ean"),
        ("ABC-123", "ABC-123", "rejected", "invalid_ean"),
        ("871 2345 000011", "871 2345 000011", "rejected", "invalid_ean"),
        (UNKNOWN, UNKNOWN, "rejected", "unknown_ean"),
    ],
)
def test_ean_cells(tiny, cell, ean, status, reason):
    # JAS, UPC and SOK all take "ja" as a change or an unchanged value; use one row each.
    value = "ja" if ean != SOK else "nee"
    result = preview(tiny, (cell, value))
    assert table(result, ["row", "ean", "status", "reason"]) == [[2, ean, status, reason]]


# -- messages -------------------------------------------------------------------------


def test_variant_message_names_the_parent_ean(tiny):
    result = preview(tiny, (JAS_S, "ja"), (TRUI_M, "nee"))
    assert JAS in message(result, 2) and JAS_S in message(result, 2)
    assert TRUI in message(result, 3) and TRUI_M in message(result, 3)
    assert "variant" in message(result, 2)


def test_lost_leading_zero_message_says_so(tiny):
    result = preview(tiny, (UPC_NO_ZERO, "ja"), (UPC, "ja"), (KAARS, "ja"))
    restored = message(result, 2)
    assert UPC in restored and UPC_NO_ZERO in restored and "zero" in restored
    # Given in full, or not concerned: no word about zeros.
    assert "zero" not in message(result, 3)
    assert "zero" not in message(result, 4)


def test_scientific_notation_message_says_how_to_keep_the_digits(tiny):
    text = message(preview(tiny, (SCIENTIFIC, "ja")), 2)
    assert SCIENTIFIC in text
    assert "scientific" in text
    assert "text" in text  # format the column as text


def test_conflict_message_names_the_rows(tiny):
    result = preview(tiny, (KAARS, "ja"), (MOK, "ja"), (KAARS, "nee"))
    for row in (2, 4):
        assert "2" in message(result, row) and "4" in message(result, row)
        assert KAARS in message(result, row)


def test_pasted_text_messages_name_the_column(tiny):
    result = preview(tiny, ("", "ja"), (KAARS, "misschien"))
    assert "EAN" in message(result, 2)
    assert "misschien" in message(result, 3) and "Backorder toegestaan" in message(result, 3)


def test_spreadsheet_messages_name_the_cell(tiny, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for values in [
        ["EAN", "Backorder toegestaan?"],
        [JAS, "ja"],  # 2
        [JAS_S, "ja"],  # 3
        [int(UPC), 1],  # 4
        [None, "ja"],  # 5
        [MOK, "misschien"],  # 6
        [KAARS, None],  # 7
        [SCIENTIFIC, "ja"],  # 8
        [UNKNOWN, "nee"],  # 9
    ]:
        sheet.append(values)
    workbook.save(tmp_path / "batch.xlsx")
    result = preview_batch(tmp_path / "batch.xlsx", db=tiny)
    assert table(result) == [
        [2, "applied", None],
        [3, "rejected", "variant_not_allowed"],
        [4, "applied", None],
        [5, "rejected", "missing_ean"],
        [6, "rejected", "invalid_value"],
        [7, "rejected", "missing_value"],
        [8, "rejected", "invalid_ean"],
        [9, "rejected", "unknown_ean"],
    ]
    assert "A5" in message(result, 5)
    assert "B6" in message(result, 6)
    assert "B7" in message(result, 7)
    assert "A8" in message(result, 8)
    assert "A9" in message(result, 9)


# -- spreadsheets and CSV alike ---------------------------------------------------------

#: The same batch in every format: a 13-digit EAN as a NUMBER cell, a UPC whose
#: leading zero was lost (a number cell), an EAN turned into scientific-notation text.
MIXED = [
    (int(JAS), "ja"),
    (int(UPC), 1),
    (SCIENTIFIC, "ja"),
    (TRUI, "nee"),
    (int(JAS_S), "ja"),
    (MOK, 0),
]
MIXED_EXPECTED = [
    [2, JAS, True, "applied", None],
    [3, UPC, True, "applied", None],
    [4, SCIENTIFIC, True, "rejected", "invalid_ean"],
    [5, TRUI, False, "applied", None],
    [6, JAS_S, True, "rejected", "variant_not_allowed"],
    [7, MOK, False, "unchanged", None],
]


def write_mixed(path: Path, writer: str) -> Path:
    header = ["EAN", "Backorder toegestaan?"]
    if writer == "openpyxl":
        workbook = openpyxl.Workbook()
        workbook.active.append(header)
        for row in MIXED:
            workbook.active.append(list(row))
        workbook.save(path)
    elif writer == "xlsxwriter":
        workbook = xlsxwriter.Workbook(str(path))
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, header)
        for r, (ean, value) in enumerate(MIXED, start=1):
            if isinstance(ean, int):
                sheet.write_number(r, 0, ean)
            else:
                sheet.write_string(r, 0, ean)
            if isinstance(value, int):
                sheet.write_number(r, 1, value)
            else:
                sheet.write_string(r, 1, value)
        workbook.close()
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, delimiter=";")
            out.writerow(header)
            out.writerows([str(ean), str(value)] for ean, value in MIXED)
    return path


@pytest.mark.parametrize(
    ("writer", "suffix"), [("openpyxl", ".xlsx"), ("xlsxwriter", ".xlsx"), ("csv", ".csv")]
)
def test_numbers_lost_zeros_and_scientific_text_alike_in_every_format(
    tiny, tmp_path, writer, suffix
):
    path = write_mixed(tmp_path / f"batch{suffix}", writer)
    result = preview_batch(path, db=tiny)
    assert table(result, ["row", "ean", "value", "status", "reason"]) == MIXED_EXPECTED
    assert "zero" in message(result, 3)
    assert "scientific" in message(result, 4) and "text" in message(result, 4)
    assert JAS in message(result, 6)
    applied = apply_batch(path, db=tiny)
    assert table(applied, ["row", "ean", "value", "status", "reason"]) == MIXED_EXPECTED
    assert settings_of(tiny) == SETTINGS | {JAS: True, UPC: True, TRUI: False} | {
        v: False for v in (JAS_S, JAS_M, TRUI_S, TRUI_M)
    }


# -- strict mode ----------------------------------------------------------------------


def test_strict_preview_is_refused_and_flips_nothing(tiny):
    result = preview(tiny, (JAS, "ja"), (UNKNOWN, "ja"), strict=True)
    assert result.status == "refused"
    assert table(result) == [[2, "applied", None], [3, "rejected", "unknown_ean"]]
    assert result.newly_hidden.empty and result.newly_visible.empty
    assert batches(tiny).empty


def test_strict_apply_is_refused_and_applies_nothing(tiny):
    before = tiny.read_products()
    sheet = read_sheet(text=paste((JAS, "ja"), (TRUI, "nee"), (JAS_S, "ja")))
    result = apply_batch(sheet, db=tiny, strict=True, reference="week 49")
    assert result.status == "refused"
    assert result.to_json()["batch"] == {
        "id": result.batch_id,
        "reference": "week 49",
        "status": "refused",
    }
    assert isinstance(result.batch_id, int)
    assert result.newly_hidden.empty and result.newly_visible.empty
    assert any("strict" in w.casefold() for w in result.warnings)
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    history = batches(tiny)
    assert history[["id", "kind", "status", "strict", "reference"]].values.tolist() == [
        [result.batch_id, "backorder", "refused", True, "week 49"]
    ]
    record, _, changes = tiny.read_batch(result.batch_id)
    assert record["status"] == "refused"
    assert changes.empty


def test_strict_apply_without_rejected_rows_is_done(tiny):
    sheet = read_sheet(text=paste((JAS, "ja"), (MOK, "nee")))
    result = apply_batch(sheet, db=tiny, strict=True)
    assert result.status == "done"
    assert settings_of(tiny)[JAS] is True


# -- apply ----------------------------------------------------------------------------

APPLY_ROWS = [(JAS, "ja"), (TRUI, "nee"), (KAARS, "ja"), (MOK, "nee"), (UNKNOWN, "ja")]


def test_apply_changes_the_catalog_and_records_the_batch(tiny):
    result = apply_batch(read_sheet(text=paste(*APPLY_ROWS)), db=tiny, reference="week 49")
    assert result.status == "done"
    assert table(result) == [
        [2, "applied", None],
        [3, "applied", None],
        [4, "applied", None],
        [5, "unchanged", None],
        [6, "rejected", "unknown_ean"],
    ]
    # The catalog: exactly the three applied rows changed.
    assert settings_of(tiny) == SETTINGS | {JAS: True, TRUI: False, KAARS: True} | {
        v: False for v in (JAS_S, JAS_M, TRUI_S, TRUI_M)
    }
    assert eans(result.newly_hidden) == sorted([TRUI, TRUI_S, TRUI_M])
    assert eans(result.newly_visible) == sorted([JAS_S, KAARS])

    record, rows, changes = tiny.read_batch(result.batch_id)
    assert {k: record[k] for k in (
        "id", "kind", "reference", "status", "strict", "rows_total", "applied", "unchanged",
        "rejected", "newly_hidden", "newly_visible", "error",
    )} == {
        "id": result.batch_id, "kind": "backorder", "reference": "week 49", "status": "done",
        "strict": False, "rows_total": 5, "applied": 3, "unchanged": 1, "rejected": 1,
        "newly_hidden": 3, "newly_visible": 2, "error": None,
    }  # fmt: skip
    assert record["finished"] is not None
    cols = ["row", "ean", "value", "old_value", "new_value", "status", "reason", "message"]
    assert table(rows, cols) == table(result, cols)
    assert changes[["change", "ean"]].values.tolist() == [
        ["hidden", e] for e in sorted([TRUI, TRUI_S, TRUI_M])
    ] + [["visible", e] for e in sorted([JAS_S, KAARS])]


def test_re_applying_the_same_batch_changes_nothing(tiny):
    sheet = read_sheet(text=paste(*APPLY_ROWS))
    first = apply_batch(sheet, db=tiny)
    after_first = tiny.read_products()
    second = apply_batch(sheet, db=tiny)
    assert second.status == "done"
    assert second.batch_id != first.batch_id
    assert second.summary() == {"rows": 5, "applied": 0, "unchanged": 4, "rejected": 1}
    assert table(second) == [
        [2, "unchanged", None],
        [3, "unchanged", None],
        [4, "unchanged", None],
        [5, "unchanged", None],
        [6, "rejected", "unknown_ean"],
    ]
    assert second.newly_hidden.empty and second.newly_visible.empty
    pd.testing.assert_frame_equal(tiny.read_products(), after_first)
    assert batches(tiny)["status"].tolist() == ["done", "done"]


def test_apply_accepts_a_path(tiny, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(f"EAN;Backorder\n{KAARS};ja\n", encoding="utf-8")
    result = apply_batch(path, db=tiny)
    assert table(result) == [[2, "applied", None]]
    assert settings_of(tiny)[KAARS] is True
    assert tiny.read_batch(result.batch_id)[0]["source"] == "batch.csv"


def test_structure_error_applies_and_records_nothing(tiny):
    before = tiny.read_products()
    with pytest.raises(StructureError):
        apply_batch(read_sheet(text=f"EAN\tNaam\n{JAS}\tJas\n"), db=tiny)
    with pytest.raises(StructureError):
        apply_batch(read_sheet(text=paste((JAS, "ja"))), db=tiny, notify="not an address")
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    assert batches(tiny).empty


@pytest.mark.parametrize("method", ["insert_batch_rows", "insert_batch_visibility"])
def test_failure_part_way_applies_nothing_and_marks_the_batch_failed(tiny, monkeypatch, method):
    before = tiny.read_products()

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, method, boom)
    result = apply_batch(read_sheet(text=paste(*APPLY_ROWS)), db=tiny, reference="kapot")
    assert result.status == "failed"
    assert "disk full" in result.error
    assert result.newly_hidden.empty and result.newly_visible.empty
    assert result.to_json()["batch"] == {
        "id": result.batch_id,
        "reference": "kapot",
        "status": "failed",
    }
    pd.testing.assert_frame_equal(tiny.read_products(), before)
    history = batches(tiny)
    assert history[["id", "status", "reference"]].values.tolist() == [
        [result.batch_id, "failed", "kapot"]
    ]
    assert "disk full" in history.at[0, "error"]
    monkeypatch.undo()
    # Nothing was applied, so the same batch now applies in full.
    again = apply_batch(read_sheet(text=paste(*APPLY_ROWS)), db=tiny)
    assert again.summary()["applied"] == 3


# -- visibility -----------------------------------------------------------------------

VISIBILITY_ROWS = [
    (JAS, "ja"),  # JAS_S (stock 0) reappears; JAS was visible through JAS_M
    (TRUI, "nee"),  # both variants out of stock: TRUI, TRUI_S, TRUI_M disappear
    (KAARS, "ja"),  # stock 0: reappears
    (MOK, "ja"),  # stock 7: visible either way
    (SOK, "nee"),  # stock -2: disappears
    (UPC_NO_ZERO, "ja"),  # stock 0: reappears
]


def test_visibility_diff_by_hand(tiny):
    assert sorted(current_visibility(db=tiny).to_json()["hidden"]) == HIDDEN_NOW
    result = preview(tiny, *VISIBILITY_ROWS)
    assert result.summary()["applied"] == 6
    assert eans(result.newly_hidden) == sorted([TRUI, TRUI_S, TRUI_M, SOK])
    assert eans(result.newly_visible) == sorted([JAS_S, KAARS, UPC])
    assert table(result.newly_hidden, ["ean", "role", "parent_ean"]) == sorted(
        [[TRUI, "parent", None], [TRUI_S, "variant", TRUI], [TRUI_M, "variant", TRUI],
         [SOK, "product", None]]
    )  # fmt: skip
    document = result.to_json()["visibility"]
    assert document == {
        "newly_hidden": sorted([TRUI, TRUI_S, TRUI_M, SOK]),
        "newly_visible": sorted([JAS_S, KAARS, UPC]),
    }
    applied = apply_batch(read_sheet(text=paste(*VISIBILITY_ROWS)), db=tiny)
    assert applied.to_json()["visibility"] == document
    assert sorted(current_visibility(db=tiny).to_json()["hidden"]) == sorted(
        [TRUI, TRUI_S, TRUI_M, SOK]
    )


def test_a_parent_reappears_with_its_variants(tiny):
    apply_batch(read_sheet(text=paste((TRUI, "nee"))), db=tiny)
    result = preview(tiny, (TRUI, "ja"))
    assert eans(result.newly_visible) == sorted([TRUI, TRUI_S, TRUI_M])
    assert result.newly_hidden.empty


def test_a_parent_stays_visible_while_a_variant_is_in_stock(tiny):
    # JAS_M has stock 4: switching JAS off (it is off) or on never hides JAS itself.
    apply_batch(read_sheet(text=paste((JAS, "ja"))), db=tiny)
    result = preview(tiny, (JAS, "nee"))
    assert eans(result.newly_hidden) == [JAS_S]
    assert result.newly_visible.empty


def test_with_the_shop_setting_on_the_product_setting_flips_nothing(tiny):
    set_shop_setting(True, db=tiny)
    result = preview(tiny, *VISIBILITY_ROWS)
    assert result.summary()["applied"] == 6
    assert result.newly_hidden.empty and result.newly_visible.empty


# -- the JSON document ------------------------------------------------------------------


def test_to_json_shape_in_a_preview(tiny):
    result = preview(
        tiny,
        (UPC_NO_ZERO, "ja"),  # 2: matched after restoring zeros -> catalog EAN
        (" 'abc ", "ja"),  # 3: trimmed text
        (f" {UNKNOWN} ", "nee"),  # 4: trimmed text
        (MOK, "misschien"),  # 5: value null
        (KAARS, ""),  # 6: value null
        (f"{JAS}.0", "0"),  # 7: catalog EAN
        (JAS_S, "1"),  # 8: the variant's own EAN
    )
    document = result.to_json()
    json.dumps(document)  # serialisable as it is
    assert list(document) == ["batch", "summary", "rows", "visibility", "warnings"]
    assert document["batch"] == {"id": None, "reference": None, "status": "done"}
    assert document["summary"] == {"rows": 7, "applied": 1, "unchanged": 1, "rejected": 5}
    assert all(
        list(r) == ["row", "ean", "value", "status", "reason", "message"] for r in document["rows"]
    )
    assert [{k: v for k, v in r.items() if k != "message"} for r in document["rows"]] == [
        {"row": 2, "ean": UPC, "value": True, "status": "applied", "reason": None},
        {"row": 3, "ean": "abc", "value": True, "status": "rejected", "reason": "invalid_ean"},
        {"row": 4, "ean": UNKNOWN, "value": False, "status": "rejected", "reason": "unknown_ean"},
        {"row": 5, "ean": MOK, "value": None, "status": "rejected", "reason": "invalid_value"},
        {"row": 6, "ean": KAARS, "value": None, "status": "rejected", "reason": "missing_value"},
        {"row": 7, "ean": JAS, "value": False, "status": "unchanged", "reason": None},
        {"row": 8, "ean": JAS_S, "value": True, "status": "rejected",
         "reason": "variant_not_allowed"},
    ]  # fmt: skip
    for r in document["rows"]:
        assert isinstance(r["row"], int) and not isinstance(r["row"], bool)
        assert r["value"] is None or isinstance(r["value"], bool)
        assert isinstance(r["message"], str) and r["message"]
    assert document["visibility"] == {"newly_hidden": [], "newly_visible": [UPC]}
    assert document["warnings"] == []


def test_to_json_after_apply_has_the_id_reference_and_warnings(tiny):
    text = f"EAN\tBackorder\tNaam\n{KAARS}\tja\tGeurkaars\n{SOK}\tnee\tSokken\n"
    result = apply_batch(read_sheet(text=text), db=tiny, reference="week 49")
    document = json.loads(json.dumps(result.to_json()))
    assert document["batch"] == {"id": result.batch_id, "reference": "week 49", "status": "done"}
    assert isinstance(document["batch"]["id"], int)
    assert document["summary"] == {"rows": 2, "applied": 2, "unchanged": 0, "rejected": 0}
    assert document["visibility"] == {"newly_hidden": [SOK], "newly_visible": [KAARS]}
    assert len(document["warnings"]) == 1 and "Naam" in document["warnings"][0]


def test_preview_reference_is_echoed_but_no_id(tiny):
    result = preview(tiny, (KAARS, "ja"), reference="week 49")
    assert result.to_json()["batch"] == {"id": None, "reference": "week 49", "status": "done"}


# -- properties -------------------------------------------------------------------------

EAN_CELLS = [
    JAS, JAS_S, JAS_M, TRUI, TRUI_S, TRUI_M, KAARS, MOK, SOK, UPC, UPC_NO_ZERO, "0" + JAS,
    f" {MOK} ", f"'{KAARS}", "", "abc", "123", BAD_CHECK, UNKNOWN, SCIENTIFIC, f"{TRUI}.0",
]  # fmt: skip
VALUE_CELLS = ["ja", "nee", "1", "0", "", "misschien", "TRUE", "n", "1.0", "NEE", "yes"]
sheets = st.lists(st.tuples(st.sampled_from(EAN_CELLS), st.sampled_from(VALUE_CELLS)), max_size=12)

EAN_FORMS = {
    e: sorted({e, f" {e} ", f"'{e}", e.lstrip("0")} | ({"0" + e} if len(e) < 14 else set()))
    for e in SETTINGS
}
WORDS = {
    True: ["1", "ja", "JA", "j", "yes", "y", "true", "TRUE", "1.0"],
    False: ["0", "nee", "Nee", "n", "no", "false", "FALSE", "0.0"],
}
current_rows = st.lists(
    st.sampled_from(sorted(SETTINGS)).flatmap(
        lambda e: st.tuples(st.sampled_from(EAN_FORMS[e]), st.sampled_from(WORDS[SETTINGS[e]]))
    ),
    min_size=1,
    max_size=12,
)
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    """The tiny catalog loaded once; each example works on its own copy."""
    folder = tmp_path_factory.mktemp("tiny")
    pd.DataFrame(TINY_ROWS, columns=TINY_COLUMNS).to_csv(folder / "tiny.csv", sep=";", index=False)
    store = Store(folder / "tiny.duckdb", wait=2)
    assert load_catalog(folder / "tiny.csv", db=store).status == "done"
    return store.path


def fresh_copy(template: Path, folder: str) -> Store:
    return Store(shutil.copy(template, Path(folder) / "copy.duckdb"), wait=2)


ALL_COLUMNS = ["row", "ean", "value", "old_value", "new_value", "status", "reason", "message"]


@PROPERTY
@given(rows=sheets)
def test_preview_and_apply_classify_alike(tiny_file, rows):
    with tempfile.TemporaryDirectory() as folder:
        store = fresh_copy(tiny_file, folder)
        before = settings_of(store)
        sheet = read_sheet(text=paste(*rows))
        previewed = preview_batch(sheet, db=store)
        applied = apply_batch(sheet, db=store)
        assert applied.status == "done"
        assert table(previewed, ALL_COLUMNS) == table(applied, ALL_COLUMNS)
        # Preview works out what flips in pandas, apply reads it from the store as it
        # writes: the same products, described alike (role, parent, order, types).
        pd.testing.assert_frame_equal(previewed.newly_hidden, applied.newly_hidden)
        pd.testing.assert_frame_equal(previewed.newly_visible, applied.newly_visible)
        # The catalog now holds exactly what the applied rows say.
        changed = {e: v for e, v, s in table(applied, ["ean", "new_value", "status"])
                   if s == "applied"}  # fmt: skip
        assert settings_of(store) == before | changed
        # Every row that changes something is a parent product's.
        assert set(changed) <= set(SETTINGS)


@PROPERTY
@given(rows=current_rows)
def test_a_batch_of_current_settings_diffs_empty(tiny_file, rows):
    with tempfile.TemporaryDirectory() as folder:
        store = fresh_copy(tiny_file, folder)
        before = store.read_products()
        sheet = read_sheet(text=paste(*rows))
        for result in (preview_batch(sheet, db=store), apply_batch(sheet, db=store)):
            assert set(result.rows["status"]) == {"unchanged"}
            assert result.summary()["rows"] == len(rows)
            assert result.newly_hidden.empty and result.newly_visible.empty
        pd.testing.assert_frame_equal(store.read_products(), before)


@PROPERTY
@given(rows=sheets)
def test_preview_after_apply_applies_nothing(tiny_file, rows):
    with tempfile.TemporaryDirectory() as folder:
        store = fresh_copy(tiny_file, folder)
        sheet = read_sheet(text=paste(*rows))
        applied = apply_batch(sheet, db=store)
        again = preview_batch(sheet, db=store)
        assert again.summary()["applied"] == 0
        assert again.newly_hidden.empty and again.newly_visible.empty
        # Rejected rows stay rejected for the same reason; the others are now unchanged.
        expected = [[r, "unchanged" if s == "applied" else s, why]
                    for r, s, why in table(applied)]  # fmt: skip
        assert table(again) == expected


def test_a_two_product_catalog_with_evenly_spaced_keys(store, tmp_path):
    """Regression: pandas 3 could not reindex such keys by a nullable parent key."""
    catalog = tmp_path / "twee.csv"
    catalog.write_text(
        "EAN;Naam;Voorraad;Backorders toegestaan\n"
        "8712345000004;Een;0;ja\n"
        "8712345000011;Twee;1;nee\n"
    )
    assert load_catalog(catalog, db=store).status == "done"
    result = preview_batch(read_sheet(text="8712345000004\tnee\n"), db=store)
    assert result.rows["status"].tolist() == ["applied"] and result.rows["reason"].isna().all()
    assert result.newly_hidden["ean"].tolist() == ["8712345000004"]


# --- classify_rows and its result contract (ROWS_SCHEMA) ------------------------------
# classify_rows checks the schema's rules on its own codes and leaves pandera for
# reporting a failure; these tests hold its results to ROWS_SCHEMA itself.


@pytest.fixture(scope="module")
def tiny_products(tiny_file) -> pd.DataFrame:
    return Store(tiny_file).read_products()


@PROPERTY
@given(rows=sheets, seed=st.integers(0, 2**32 - 1))
def test_classified_rows_follow_the_schema_whatever_the_catalog_order(tiny_products, rows, seed):
    sheet = read_sheet(text=paste(*rows))
    classified = classify_rows(sheet, tiny_products)
    ROWS_SCHEMA.validate(classified)
    # The store gives products by key (binary search); any other order is looked up
    # by hashing, and the chunks of progress reporting change nothing either.
    shuffled = tiny_products.sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(classify_rows(sheet, shuffled), classified)
    pd.testing.assert_frame_equal(classify_rows(sheet, tiny_products, chunk_rows=1), classified)
    # Text columns in pieces (as a frame built by hand may hold them) are read alike.
    pd.testing.assert_frame_equal(classify_rows(sheet, in_pieces(tiny_products)), classified)
    # A long batch's messages are built in threads, a stretch of rows each: alike.
    with mock.patch.multiple(parallel, THREADS=3, THREAD_ROWS=1):
        pd.testing.assert_frame_equal(classify_rows(sheet, tiny_products), classified)


def in_pieces(products: pd.DataFrame) -> pd.DataFrame:
    """``products`` with each text column held in Arrow chunks of two rows."""

    def pieces(column: pd.Series) -> pd.Series:
        whole = pa.array(column, type=pa.large_string())
        chunks = [whole.slice(start, 2) for start in range(0, len(whole), 2)]
        return pd.Series(pd.array(pa.chunked_array(chunks, type=whole.type), dtype="str"))

    chunked = products.assign(**{name: pieces(products[name]) for name in ("ean", "sku", "name")})
    assert chunked["ean"].array._pa_array.num_chunks > 1
    return chunked


def test_sample_batch_follows_the_schema(sample, sample_batch):
    classified = classify_rows(read_sheet(sample_batch), sample.read_products())
    ROWS_SCHEMA.validate(classified)
    assert len(classified) == len(read_sheet(sample_batch))


@pytest.mark.parametrize("numbers", [[2, 2], [0, 1]])
def test_row_numbers_that_break_the_schema_are_refused(tiny_products, numbers):
    sheet = read_sheet(text=paste((JAS, "ja"), (MOK, "nee")))
    sheet.rows = sheet.rows.set_axis(pd.Index(numbers, name="row"))
    with pytest.raises(SchemaError):
        classify_rows(sheet, tiny_products)


def test_an_empty_catalog_knows_no_ean(tiny_products):
    sheet = read_sheet(text=paste((JAS, "ja"), ("", "nee"), (MOK, "")))
    classified = classify_rows(sheet, tiny_products.iloc[:0])
    assert classified["reason"].tolist() == ["unknown_ean", "missing_ean", "unknown_ean"]
    ROWS_SCHEMA.validate(classified)
