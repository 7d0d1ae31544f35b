"""Parsing yes/no cells ("Backorder toegestaan?") without Python truthiness.

``bool("nee")`` is True; here ``"nee"`` is False, and ``"misschien"`` is invalid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .ean import arrow_text

TRUE_WORDS = frozenset({"1", "ja", "j", "yes", "y", "true", "waar"})  # WAAR: Dutch Excel
FALSE_WORDS = frozenset({"0", "nee", "n", "no", "false", "onwaar"})
# A number cell read as text ("1.0"), or typed with a Dutch decimal comma ("1,0").
# Run on stripped text, where RE2's "$" and Python's mean the same.
_ONE_OR_ZERO = r"^([01])[.,]0*$"
_TRUE = pa.array(sorted(TRUE_WORDS), type=pa.large_string())
_FALSE = pa.array(sorted(FALSE_WORDS), type=pa.large_string())
_EMPTY = pa.array([""], type=pa.large_string())
#: Problem text by code (see parse_flags).
_PROBLEMS = pa.array([None, None, "missing", "invalid"], type=pa.large_string())

ACCEPTED = "1 or ja (allowed), 0 or nee (not allowed)"


def parse_flags(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse trimmed text cells into a nullable boolean and a problem per cell.

    Returns ``(value, problem)``: ``value`` is ``boolean`` (``<NA>`` where not
    parsed); ``problem`` is ``<NA>``, ``"missing"`` (empty cell) or ``"invalid"``.

    >>> value, problem = parse_flags(pd.Series(["ja", "nee", "1.0", "", "misschien"]))
    >>> value.tolist(), problem.tolist()
    ([True, False, True, <NA>, <NA>], [nan, nan, nan, 'missing', 'invalid'])
    """
    # A column holds few distinct cells: each is parsed once, then looked up per row.
    cells = pc.dictionary_encode(arrow_text(text))
    words = _casefold(pc.utf8_trim_whitespace(cells.dictionary))
    words = pc.replace_substring_regex(words, _ONE_OR_ZERO, r"\1")
    # Per distinct cell: 0 true, 1 false, 2 missing, 3 invalid; an empty cell (null) is missing.
    code = np.select(
        [_in(words, _TRUE), _in(words, _FALSE), _in(words, _EMPTY)], [0, 1, 2], 3
    ).astype(np.int8)
    code = np.append(code, np.int8(2))[cells.indices.fill_null(-1).to_numpy()]
    value = pd.arrays.BooleanArray(code == 0, code > 1)
    return (
        pd.Series(value, index=text.index),
        pd.Series(pd.array(_PROBLEMS.take(code), dtype="str"), index=text.index),
    )


def _casefold(words: pa.Array) -> pa.Array:
    # str.casefold, as a person would compare words; Arrow's lower-casing is the same
    # for ASCII text and much faster, so Python only sees the rare other cells.
    ascii_only = pc.string_is_ascii(words).fill_null(True).to_numpy(zero_copy_only=False)
    other = np.flatnonzero(~ascii_only)
    lower = pc.utf8_lower(words)
    if len(other) == 0:
        return lower
    folded = pa.array([w.casefold() for w in words.take(other).to_pylist()], type=words.type)
    return pc.replace_with_mask(lower, pa.array(~ascii_only), folded)


def _in(words: pa.Array, value_set: pa.Array) -> np.ndarray:
    return pc.is_in(words, value_set=value_set).fill_null(False).to_numpy(zero_copy_only=False)
