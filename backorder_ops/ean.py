"""EAN / GTIN normalisation, vectorised (RULES section 3).

A cell becomes a *key*: its digits left-padded to 14 (GTIN-14), held as an int64.
The check digit is computed with numpy over the whole column at once; the tests
cross-check it against ``stdnum.ean``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Problem codes for a single EAN cell, in the order they are tested.
EMPTY = "empty"
SCIENTIFIC = "scientific"
NOT_WHOLE = "not_whole"
NOT_DIGITS = "not_digits"
TOO_LONG = "too_long"
BAD_CHECK_DIGIT = "bad_check_digit"
BAD_LENGTH = "bad_length"  # catalog only: not 8, 12, 13 or 14 digits

CATALOG_LENGTHS = (8, 12, 13, 14)

_SCIENTIFIC = r"^[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+$"
_INTEGRAL_DECIMAL = r"^([0-9]+)[.,]0+$"  # "8712345678906.0": a number cell shown as text
# Every kind of space (what Python's \\s matches: non-breaking ones included) and the
# zero-width ones; a leading apostrophe is Excel's "text" mark. Trimmed by Arrow,
# which is several times faster than a regular expression per cell.
_SPACES = "".join(c for c in map(chr, range(0x10000)) if c.isspace()) + "\u200b\ufeff"


def clean_text(cells: pd.Series) -> pd.Series:
    """Trim cells the way a person reads them; empty cells become ``<NA>``.

    >>> clean_text(pd.Series([" 'a ", "\u00a0", None])).tolist()
    ['a', nan, nan]
    """
    arrow = pa.array(cells.astype("str"), type=pa.large_string())
    arrow = pc.utf8_trim(arrow, characters=_SPACES)
    arrow = pc.replace_substring_regex(arrow, pattern="^'", replacement="", max_replacements=1)
    arrow = pc.utf8_trim(arrow, characters=_SPACES)
    text = arrow.to_pandas().set_axis(cells.index).astype("str")
    return text.mask(text == "")


def check_digit_ok(digits: pd.Series) -> np.ndarray:
    """True where a string of digits (at most 14) ends in a valid GS1 mod-10 check digit.

    Vectorised: the strings are left-padded to 14 and viewed as a byte matrix.
    """
    padded = digits.str.zfill(14).to_numpy(dtype="S14")
    if len(padded) == 0:
        return np.zeros(0, dtype=bool)
    matrix = np.frombuffer(padded.tobytes(), dtype=np.uint8).reshape(-1, 14) - ord("0")
    # Weights 3,1,3,1,... counted from the digit left of the check digit.
    weights = np.array([3, 1] * 6 + [3], dtype=np.int64)
    total = matrix[:, :13].astype(np.int64) @ weights
    return (10 - total % 10) % 10 == matrix[:, 13]


def normalise_eans(cells: pd.Series, *, catalog: bool = False) -> pd.DataFrame:
    """Normalise a column of EAN cells.

    Returns a frame on the same index with columns:

    - ``text``: the cell as trimmed (``<NA>`` when empty),
    - ``digits``: the digits as given (no padding), for a well-formed cell,
    - ``key``: the GTIN-14 key as ``Int64`` where the EAN is valid, else ``<NA>``,
    - ``problem``: ``<NA>`` for a valid EAN, else one of the problem codes above.

    With ``catalog=True`` the EAN must also be 8, 12, 13 or 14 digits long.

    >>> normalise_eans(pd.Series(["8712345678906", "12345678905"]))["key"].tolist()
    [8712345678906, 12345678905]
    """
    text = clean_text(cells)
    digits = text.str.replace(_INTEGRAL_DECIMAL, r"\1", regex=True)
    is_digits = digits.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    length = digits.str.len().fillna(0).astype("int64")

    problem = pd.Series(pd.NA, index=cells.index, dtype="str")
    problem = problem.mask(text.isna(), EMPTY)
    scientific = text.str.fullmatch(_SCIENTIFIC).fillna(False).astype(bool)
    problem = problem.mask(problem.isna() & scientific, SCIENTIFIC)
    decimal = digits.str.fullmatch(r"[0-9]*[.,][0-9]+").fillna(False).astype(bool)
    problem = problem.mask(problem.isna() & decimal, NOT_WHOLE)
    problem = problem.mask(problem.isna() & ~is_digits, NOT_DIGITS)
    problem = problem.mask(problem.isna() & (length > 14), TOO_LONG)
    if catalog:
        problem = problem.mask(problem.isna() & ~length.isin(CATALOG_LENGTHS), BAD_LENGTH)

    candidates = problem.isna()
    check_ok = pd.Series(False, index=cells.index)
    check_ok[candidates] = check_digit_ok(digits[candidates])
    problem = problem.mask(candidates & ~check_ok, BAD_CHECK_DIGIT)

    valid = problem.isna()
    key = pd.Series(pd.NA, index=cells.index, dtype="Int64")
    key[valid] = digits[valid].astype("int64")
    return pd.DataFrame(
        {"text": text, "digits": digits.where(is_digits), "key": key, "problem": problem}
    )


def describe_problem(problem: str) -> str:
    """A short explanation of a problem code, for messages."""
    return {
        EMPTY: "is empty",
        SCIENTIFIC: (
            "is in scientific notation, so its last digits are lost; format the EAN column "
            "as text in Excel and type or paste the EANs again"
        ),
        NOT_WHOLE: "is a number with decimals, not an EAN",
        NOT_DIGITS: "holds characters other than digits",
        TOO_LONG: "has more than 14 digits",
        BAD_LENGTH: "must have 8, 12, 13 or 14 digits",
        BAD_CHECK_DIGIT: "has a check digit that does not match (a typing error?)",
    }[problem]
