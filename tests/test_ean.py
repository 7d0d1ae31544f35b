"""EAN cells → GTIN-14 keys (RULES section 3), cross-checked against python-stdnum."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from conftest import make_ean
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean as stdnum_ean

from backorder_ops import ean, parallel
from backorder_ops.ean import check_digit_ok, clean_text, describe_problem, normalise_eans

EAN13 = "8712345678906"
UPC12 = "012345678905"
EAN8 = "96385074"
GTIN14 = "18712345678903"
ALL_PROBLEMS = [
    ean.EMPTY,
    ean.SCIENTIFIC,
    ean.NOT_WHOLE,
    ean.NOT_DIGITS,
    ean.TOO_LONG,
    ean.BAD_CHECK_DIGIT,
    ean.BAD_LENGTH,
]


def normalise_one(cell, *, catalog: bool = False) -> tuple:
    """(key, problem) of a single cell, with ``<NA>`` as None."""
    row = normalise_eans(pd.Series([cell], dtype=object), catalog=catalog).iloc[0]
    key = None if pd.isna(row["key"]) else int(row["key"])
    problem = None if pd.isna(row["problem"]) else row["problem"]
    return key, problem


def test_reference_eans_are_valid():
    assert all(stdnum_ean.is_valid(code) for code in (EAN13, UPC12, EAN8, GTIN14))


@pytest.mark.parametrize(
    ("cell", "key", "problem"),
    [
        # Well-formed EANs of every GTIN length.
        (EAN13, 8712345678906, None),
        (EAN8, 96385074, None),
        (UPC12, 12345678905, None),
        (GTIN14, 18712345678903, None),
        ("0" + EAN13, 8712345678906, None),
        # Lost leading zeros: the UPC-12 without its 0 finds the same key.
        ("12345678905", 12345678905, None),
        # A number cell shown as text, or still a number.
        (EAN13 + ".0", 8712345678906, None),
        (EAN13 + ",00", 8712345678906, None),
        (8712345678906.0, 8712345678906, None),
        (8712345678906, 8712345678906, None),
        (12345678905.0, 12345678905, None),
        # Trimming: apostrophe, non-breaking spaces, ordinary spaces, tabs.
        ("'" + EAN13, 8712345678906, None),
        ("' " + EAN13, 8712345678906, None),
        ("\u00a0" + EAN13 + "\u00a0", 8712345678906, None),
        ("  " + EAN13 + "  ", 8712345678906, None),
        ("\t" + EAN13 + "\n", 8712345678906, None),
        (" '" + UPC12 + "\u00a0", 12345678905, None),
        # Scientific notation: the digits are gone.
        ("8,71235E+12", None, "scientific"),
        ("8.71235E+12", None, "scientific"),
        ("8.71235e12", None, "scientific"),
        ("8.71235E12", None, "scientific"),
        ("8E+12", None, "scientific"),
        (" 8,71235E+12 ", None, "scientific"),
        # Not whole numbers.
        ("123.5", None, "not_whole"),
        ("123,5", None, "not_whole"),
        (123.5, None, "not_whole"),
        (EAN13 + ".5", None, "not_whole"),
        # Not digits.
        ("87123A5678906", None, "not_digits"),
        ("abc", None, "not_digits"),
        ("8712345 678906", None, "not_digits"),
        ("8712-345678906", None, "not_digits"),
        ("-" + EAN13, None, "not_digits"),
        ("\uff18\uff17\uff11\uff12", None, "not_digits"),  # fullwidth digits
        # Too long.
        ("123456789012345", None, "too_long"),
        ("0" + GTIN14, None, "too_long"),
        # Empty.
        ("", None, "empty"),
        (None, None, "empty"),
        (float("nan"), None, "empty"),
        ("   ", None, "empty"),
        ("\u00a0\t", None, "empty"),
        ("'", None, "empty"),
        # Bad check digit.
        ("8712345678907", None, "bad_check_digit"),
        ("96385075", None, "bad_check_digit"),
        ("012345678900", None, "bad_check_digit"),
        ("18712345678904", None, "bad_check_digit"),
    ],
)
def test_normalise_truth_table(cell, key, problem):
    assert normalise_one(cell) == (key, problem)


@pytest.mark.parametrize(
    ("cell", "key", "problem"),
    [
        (EAN8, 96385074, None),
        (UPC12, 12345678905, None),
        (EAN13, 8712345678906, None),
        (GTIN14, 18712345678903, None),
        (EAN13 + ".0", 8712345678906, None),
        ("12345678905", None, "bad_length"),  # 11 digits: a UPC-12 that lost its 0
        ("0" + EAN8, None, "bad_length"),  # 9 digits
        ("1234567", None, "bad_length"),
        ("0", None, "bad_length"),
        ("123456789012345", None, "too_long"),
        ("8,71235E+12", None, "scientific"),
        ("", None, "empty"),
        ("8712345678907", None, "bad_check_digit"),
    ],
)
def test_catalog_requires_gtin_lengths(cell, key, problem):
    assert normalise_one(cell, catalog=True) == (key, problem)


def test_normalise_columns_and_index():
    cells = pd.Series(["'" + UPC12, "12345678905", "x", None], index=["a", "b", "c", "d"])
    result = normalise_eans(cells)
    assert list(result.columns) == ["text", "digits", "key", "problem"]
    assert list(result.index) == ["a", "b", "c", "d"]
    assert str(result["key"].dtype) == "Int64"
    assert result["text"].tolist()[:3] == [UPC12, "12345678905", "x"]
    # Digits as given, never padded: reports show the EAN as loaded.
    assert result["digits"].tolist()[:2] == [UPC12, "12345678905"]
    assert result["digits"].iloc[2:].isna().all() and result["text"].iloc[3:].isna().all()
    assert result["key"].tolist() == [12345678905, 12345678905, pd.NA, pd.NA]
    assert result["problem"].fillna("-").tolist() == ["-", "-", "not_digits", "empty"]


def test_normalise_number_column():
    cells = pd.Series([8712345678906.0, np.nan, 123.5, 12345678905.0])
    result = normalise_eans(cells)
    assert result["key"].tolist() == [8712345678906, pd.NA, pd.NA, 12345678905]
    assert result["problem"].fillna("-").tolist() == ["-", "empty", "not_whole", "-"]


def test_normalise_empty_column():
    result = normalise_eans(pd.Series([], dtype=object), catalog=True)
    assert len(result) == 0 and list(result.columns) == ["text", "digits", "key", "problem"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (" 'a ", "a"),
        ("\u00a0" + EAN13 + "\u00a0", EAN13),
        ("'" + EAN13, EAN13),
        ("  ' 0123 ", "0123"),
        ("a b", "a b"),
        ("\u00a0", None),
        ("", None),
        ("   ", None),
        ("'", None),
        (None, None),
    ],
)
def test_clean_text(cell, expected):
    value = clean_text(pd.Series([cell], dtype=object)).iloc[0]
    assert (None if pd.isna(value) else value) == expected


def test_check_digit_ok_examples():
    digits = pd.Series([EAN13, "8712345678907", EAN8, UPC12, "12345678905", GTIN14, "0"])
    assert check_digit_ok(digits).tolist() == [True, False, True, True, True, True, True]
    assert check_digit_ok(pd.Series([], dtype="str")).tolist() == []


@pytest.mark.parametrize("problem", ALL_PROBLEMS)
def test_every_problem_is_described(problem):
    text = describe_problem(problem)
    assert isinstance(text, str) and len(text) > 5


def test_scientific_message_says_how_to_keep_the_digits():
    text = describe_problem(ean.SCIENTIFIC)
    assert "scientific" in text and "text" in text


@pytest.mark.parametrize("catalog", [False, True])
def test_a_column_in_stretches_normalises_alike(catalog):
    """A long column is normalised in stretches of rows, one thread each."""
    cells = [EAN13, " '" + UPC12, EAN13 + ".0", 12345678905.0, "8,71235E+12", "123,5", "abc",
             "1" * 15, None, "", "8712345678907", EAN8, GTIN14, "0" + EAN8]  # fmt: skip
    column = pd.Series(cells * 7, index=pd.RangeIndex(2, 2 + 7 * len(cells)), dtype=object)
    at_once = normalise_eans(column, catalog=catalog)
    with mock.patch.multiple(parallel, THREADS=4, THREAD_ROWS=5):
        assert len(parallel.stretches(len(column))) == 4
        in_stretches = normalise_eans(column, catalog=catalog)
    pd.testing.assert_frame_equal(in_stretches, at_once)
    assert at_once["key"].notna().sum() > 0 and at_once["problem"].notna().sum() > 0


def test_every_produced_problem_is_described():
    cells = pd.Series(["", "8E+12", "1.5", "x", "1" * 15, "12345678", "1234567"], dtype=object)
    problems = normalise_eans(cells, catalog=True)["problem"]
    assert set(problems) == set(ALL_PROBLEMS)
    assert all(describe_problem(p) for p in problems)


# --- cross-checks against python-stdnum -------------------------------------------

digit_strings = st.sampled_from([8, 12, 13, 14]).flatmap(
    lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
)


@st.composite
def gtins(draw) -> str:
    """A digit string of a GTIN length, valid about half of the time."""
    body = draw(
        st.sampled_from([7, 11, 12, 13]).flatmap(
            lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
        )
    )
    if draw(st.booleans()):
        return body + draw(st.sampled_from("0123456789"))
    return make_ean(body)


@given(st.one_of(digit_strings, gtins()))
def test_check_digit_agrees_with_stdnum(digits):
    valid = stdnum_ean.is_valid(digits)
    assert check_digit_ok(pd.Series([digits])).tolist() == [valid]
    for catalog in (False, True):
        key, problem = normalise_one(digits, catalog=catalog)
        assert (key, problem) == ((int(digits), None) if valid else (None, "bad_check_digit"))


@given(
    st.one_of(gtins(), st.text(alphabet="0123456789", min_size=1, max_size=14)),
    st.integers(min_value=1, max_value=13),
)
def test_left_padding_keeps_validity_and_key(digits, zeros):
    padded = "0" * min(zeros, 14 - len(digits)) + digits
    key, problem = normalise_one(digits)
    assert normalise_one(padded) == (key, problem)
    assert key is None or key == int(digits)
    ok = check_digit_ok(pd.Series([padded, digits])).tolist()
    assert ok == [stdnum_ean.is_valid(digits.zfill(14))] * 2


@given(st.text(alphabet="0123456789", min_size=1, max_size=16))
def test_any_digit_string_follows_the_gtin14_key(digits):
    key, problem = normalise_one(digits)
    if len(digits) > 14:
        assert (key, problem) == (None, "too_long")
    elif stdnum_ean.is_valid(digits.zfill(14)):
        assert (key, problem) == (int(digits), None)
    else:
        assert (key, problem) == (None, "bad_check_digit")


def random_digit_strings(rng: np.random.Generator, lengths) -> list[str]:
    sizes = rng.choice(lengths, size=20_000)
    strings = ["".join(map(str, rng.integers(0, 10, size=n))) for n in sizes]
    # Fix the check digit of every other one so both outcomes are frequent.
    return [make_ean(s[:-1]) if i % 2 else s for i, s in enumerate(strings)]


def test_bulk_agrees_with_stdnum():
    strings = random_digit_strings(np.random.default_rng(20241205), [8, 12, 13, 14])
    expected = [stdnum_ean.is_valid(s) for s in strings]
    digits = pd.Series(strings)
    assert check_digit_ok(digits).tolist() == expected
    result = normalise_eans(digits, catalog=True)
    assert result["key"].notna().tolist() == expected
    keys = [int(s) if ok else pd.NA for s, ok in zip(strings, expected, strict=True)]
    assert result["key"].tolist() == keys
    assert result["problem"].fillna("-").tolist() == [
        "-" if ok else "bad_check_digit" for ok in expected
    ]
    assert 0.4 < np.mean(expected) < 0.7


def test_bulk_any_length_agrees_with_stdnum():
    strings = random_digit_strings(np.random.default_rng(7), list(range(2, 17)))
    result = normalise_eans(pd.Series(strings))
    catalog = normalise_eans(pd.Series(strings), catalog=True)
    expected = [len(s) <= 14 and stdnum_ean.is_valid(s.zfill(14)) for s in strings]
    assert result["key"].notna().tolist() == expected
    # stdnum accepts only 8, 12, 13 and 14 digits: exactly what a catalog EAN may have.
    assert catalog["key"].notna().tolist() == [stdnum_ean.is_valid(s) for s in strings]
    assert (result["problem"] == "too_long").tolist() == [len(s) > 14 for s in strings]
