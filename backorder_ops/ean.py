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

from .parallel import in_stretches

#: Problem codes for a single EAN cell, in the order they are tested.
EMPTY = "empty"
SCIENTIFIC = "scientific"
NOT_WHOLE = "not_whole"
NOT_DIGITS = "not_digits"
TOO_LONG = "too_long"
BAD_CHECK_DIGIT = "bad_check_digit"
BAD_LENGTH = "bad_length"  # catalog only: not 8, 12, 13 or 14 digits

CATALOG_LENGTHS = (8, 12, 13, 14)

# The patterns run on trimmed text, so "$" (which Python also matches before a
# final newline, RE2 only at the very end) means the same in both: pandas itself
# hands them to Arrow's RE2 unless a cell holds a newline.
_SCIENTIFIC = r"^[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+$"
_INTEGRAL_DECIMAL = r"^([0-9]+)[.,]0+$"  # "8712345678906.0": a number cell shown as text
_DIGITS = r"^[0-9]+$"
_DECIMAL = r"^[0-9]*[.,][0-9]+$"
# Every kind of space (what Python's \\s matches: non-breaking ones included) and the
# zero-width ones; a leading apostrophe is Excel's "text" mark. Trimmed by Arrow,
# which is several times faster than a regular expression per cell.
_SPACES = "".join(c for c in map(chr, range(0x10000)) if c.isspace()) + "\u200b\ufeff"
#: Problem codes by number (0: no problem), for a whole column at once.
_PROBLEMS = (None, EMPTY, SCIENTIFIC, NOT_WHOLE, NOT_DIGITS, TOO_LONG, BAD_LENGTH, BAD_CHECK_DIGIT)
_PROBLEM_TEXT = pa.array(_PROBLEMS, type=pa.large_string())
_WEIGHTS = np.array([3, 1] * 6 + [3], dtype=np.int32)


def arrow_text(cells: pd.Series) -> pa.Array:
    """The cells as text in one Arrow array, ``<NA>`` as null (no copy for a ``str`` column)."""
    arrow = pa.array(cells.astype("str"), type=pa.large_string())
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


def _clean(cells: pd.Series) -> pa.Array:
    return _trim(arrow_text(cells))


def _trim(cells: pa.Array) -> pa.Array:
    arrow = pc.utf8_trim(cells, characters=_SPACES)
    marked = pc.starts_with(arrow, "'")
    if marked.true_count:  # few cells: drop their mark and trim them again
        unmarked = pc.utf8_slice_codeunits(arrow.filter(marked), 1)
        arrow = pc.replace_with_mask(arrow, marked, pc.utf8_trim(unmarked, characters=_SPACES))
    return pc.if_else(pc.equal(arrow, ""), pa.scalar(None, pa.large_string()), arrow)


def clean_text(cells: pd.Series) -> pd.Series:
    """Trim cells the way a person reads them; empty cells become ``<NA>``.

    >>> clean_text(pd.Series([" 'a ", "\u00a0", None])).tolist()
    ['a', nan, nan]
    """
    return pd.Series(_clean(cells), index=cells.index, dtype="str")


def _check_digit_ok(digits: pa.Array) -> np.ndarray:
    # Left-pad to 14 and view the bytes as a matrix: no Python object per cell.
    padded = pc.utf8_lpad(digits.fill_null(""), 14, "0")
    if len(padded) == 0:
        return np.zeros(0, dtype=bool)
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64)
    offsets = offsets[padded.offset : padded.offset + len(padded) + 1]
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    matrix = data.reshape(-1, 14)  # the characters, a view: no copy of the column
    # Weights 3,1,3,1,... counted from the digit left of the check digit, summed on the
    # characters themselves (each is its digit + 48) without a wider copy of them.
    total = np.einsum("ij,j->i", matrix[:, :13], _WEIGHTS, dtype=np.int32)
    total -= ord("0") * int(_WEIGHTS.sum())
    return (10 - total % 10) % 10 == matrix[:, 13].astype(np.int32) - ord("0")


def check_digit_ok(digits: pd.Series) -> np.ndarray:
    """True where a string of digits (at most 14) ends in a valid GS1 mod-10 check digit.

    Vectorised: the strings are left-padded to 14 and viewed as a byte matrix.
    """
    return _check_digit_ok(pc.utf8_slice_codeunits(arrow_text(digits), 0, 14))


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
    given = arrow_text(cells)

    def normalise(part: slice) -> tuple:
        return _normalise(given.slice(part.start, part.stop - part.start), catalog)

    # A long column in stretches, one thread each: Arrow and numpy do all of the work.
    parts = in_stretches(normalise, len(given))
    if len(parts) == 1:  # no copy
        text, digits, code, key = parts[0]
    else:
        text, digits = (pa.concat_arrays([part[n] for part in parts]) for n in (0, 1))
        code, key = (np.concatenate([part[n] for part in parts]) for n in (2, 3))
    return pd.DataFrame(
        {
            "text": pd.array(text, dtype="str"),
            "digits": pd.array(digits, dtype="str"),
            "key": pd.arrays.IntegerArray(key, code != 0),
            "problem": pd.array(_PROBLEM_TEXT.take(code), dtype="str"),
        },
        index=cells.index,
    )


def _normalise(cells: pa.Array, catalog: bool) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    """:func:`normalise_eans` of some cells: their text, digits, problem codes and keys."""
    text = _trim(cells)
    filled = text.is_valid().to_numpy(zero_copy_only=False)
    # Most cells are digits already: the regular expressions only run on the others.
    is_digits = pc.ascii_is_decimal(text).fill_null(False).to_numpy(zero_copy_only=False)
    other = np.flatnonzero(filled & ~is_digits)
    other_text = text.take(other)
    other_digits = pc.replace_substring_regex(other_text, _INTEGRAL_DECIMAL, r"\1")
    is_digits[other] = (
        pc.ascii_is_decimal(other_digits).fill_null(False).to_numpy(zero_copy_only=False)
    )
    # The digits of a cell are its text, but for numbers shown with decimals: only the
    # digit cells are read from here on.
    converted = is_digits[other]
    digits = text
    if converted.any():
        mask = np.zeros(len(text), dtype=bool)
        mask[other[converted]] = True
        digits = pc.replace_with_mask(text, pa.array(mask), other_digits.filter(converted))
    length = pc.utf8_length(digits).fill_null(0).to_numpy(zero_copy_only=False)

    # Each cell's problem code: the first that holds, in the order of _PROBLEMS (0: none).
    code = np.zeros(len(text), dtype=np.int8)
    code[~filled] = _PROBLEMS.index(EMPTY)
    other_code = np.full(len(other), _PROBLEMS.index(NOT_DIGITS), dtype=np.int8)
    other_code[is_digits[other]] = 0
    other_code[_matches(other_digits, _DECIMAL)] = _PROBLEMS.index(NOT_WHOLE)
    other_code[_matches(other_text, _SCIENTIFIC)] = _PROBLEMS.index(SCIENTIFIC)
    code[other] = other_code
    rules = [(length > 14, TOO_LONG)]
    if catalog:
        rules.append((~np.isin(length, CATALOG_LENGTHS), BAD_LENGTH))
    for broken, problem in rules:
        code[(code == 0) & broken] = _PROBLEMS.index(problem)
    candidates = np.flatnonzero(code == 0)
    checked = _check_digit_ok(digits.take(candidates))
    code[candidates[~checked]] = _PROBLEMS.index(BAD_CHECK_DIGIT)

    valid = code == 0
    key = np.zeros(len(text), dtype=np.int64)
    key[valid] = pc.cast(digits.filter(valid), pa.int64()).to_numpy()
    return text, pc.if_else(is_digits, digits, None), code, key


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    """Where ``text`` matches an anchored ``pattern`` (False where null)."""
    return pc.match_substring_regex(text, pattern).fill_null(False).to_numpy(zero_copy_only=False)


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
