"""Yes/no cells (RULES section 4): accepted words, never Python truthiness."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backorder_ops.values import parse_flags

TRUE_TEXT = ["1", "ja", "j", "yes", "y", "true", "TRUE", "True", "1.0", "1,0", "1.00"]
FALSE_TEXT = ["0", "nee", "n", "no", "false", "FALSE", "False", "0.0", "0,0", "0.00"]


def parse_one(cell) -> tuple:
    """(value, problem) of a single cell, with ``<NA>`` as None."""
    value, problem = parse_flags(pd.Series([cell], dtype=object))
    return (
        None if pd.isna(value.iloc[0]) else bool(value.iloc[0]),
        None if pd.isna(problem.iloc[0]) else problem.iloc[0],
    )


def variants(word: str) -> list[str]:
    """The word as typed in other cases and with surrounding spaces."""
    return [word, word.upper(), word.capitalize(), f"  {word} ", f"\t{word}\n", f"\u00a0{word}"]


@pytest.mark.parametrize("cell", [v for word in TRUE_TEXT for v in variants(word)])
def test_true_words(cell):
    assert parse_one(cell) == (True, None)


@pytest.mark.parametrize("cell", [v for word in FALSE_TEXT for v in variants(word)])
def test_false_words(cell):
    assert parse_one(cell) == (False, None)


def test_nee_is_false_not_truthy():
    value, problem = parse_flags(pd.Series(["nee", "Nee", " NEE "]))
    assert value.tolist() == [False, False, False] and problem.isna().all()


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # Spreadsheet booleans and number cells that were not turned into text.
        (True, (True, None)),
        (False, (False, None)),
        (1, (True, None)),
        (0, (False, None)),
        (1.0, (True, None)),
        (0.0, (False, None)),
    ],
)
def test_spreadsheet_booleans_and_numbers(cell, expected):
    assert parse_one(cell) == expected


@pytest.mark.parametrize(
    "cell",
    [
        "misschien",
        "2",
        "-1",
        "ja nee",
        "1.5",
        "0.5",
        "10",
        "01",
        "-0",
        "jaa",
        "yes!",
        "o",
        "x",
        "'",
        "ja,",
        2,
        -1,
        1.5,
    ],
)
def test_invalid(cell):
    assert parse_one(cell) == (None, "invalid")


@pytest.mark.parametrize("cell", ["", " ", "   ", "\t", "\u00a0", None, float("nan")])
def test_missing(cell):
    assert parse_one(cell) == (None, "missing")


def test_shape_dtypes_and_index():
    text = pd.Series(["ja", "nee", "", "misschien", "1.0"], index=[10, 11, 12, 13, 14])
    value, problem = parse_flags(text)
    assert str(value.dtype) == "boolean"
    assert list(value.index) == list(problem.index) == [10, 11, 12, 13, 14]
    assert value.tolist() == [True, False, pd.NA, pd.NA, True]
    assert problem.fillna("-").tolist() == ["-", "-", "missing", "invalid", "-"]


def test_empty_column():
    value, problem = parse_flags(pd.Series([], dtype="str"))
    assert len(value) == 0 and len(problem) == 0


accepted = st.sampled_from(TRUE_TEXT + FALSE_TEXT)
spaces = st.text(alphabet=" \t\u00a0", max_size=3)


@given(accepted, spaces, spaces, st.booleans())
def test_trimming_and_case_never_change_the_value(word, left, right, upper):
    cell = left + (word.upper() if upper else word) + right
    assert parse_one(cell) == (word in TRUE_TEXT, None)


@given(st.text(max_size=8))
def test_exactly_one_of_value_or_problem(cell):
    value, problem = parse_one(cell)
    assert (value is None) != (problem is None)
    assert problem in (None, "missing", "invalid")
    assert (problem == "missing") == (cell.strip() == "")
