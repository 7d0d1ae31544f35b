"""Parsing yes/no cells ("Backorder toegestaan?") without Python truthiness.

``bool("nee")`` is True; here ``"nee"`` is False, and ``"misschien"`` is invalid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TRUE_WORDS = frozenset({"1", "ja", "j", "yes", "y", "true", "waar"})  # WAAR: Dutch Excel
FALSE_WORDS = frozenset({"0", "nee", "n", "no", "false", "onwaar"})
# A number cell read as text ("1.0"), or typed with a Dutch decimal comma ("1,0").
# Run on stripped text, where RE2's "$" and Python's mean the same.
_ONE_OR_ZERO = r"^([01])[.,]0*$"
_TRUE = pa.array(sorted(TRUE_WORDS), type=pa.large_string())
_FALSE = pa.array(sorted(FALSE_WORDS), type=pa.large_string())
_PROBLEMS = pa.array([None, "missing", "invalid"], type=pa.large_string())

ACCEPTED = "1 or ja (allowed), 0 or nee (not allowed)"


def parse_flags(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse trimmed text cells into a nullable boolean and a problem per cell.

    Returns ``(value, problem)``: ``value`` is ``boolean`` (``<NA>`` where not
    parsed); ``problem`` is ``<NA>``, ``"missing"`` (empty cell) or ``"invalid"``.

    >>> value, problem = parse_flags(pd.Series(["ja", "nee", "1.0", "", "misschien"]))
    >>> value.tolist(), problem.tolist()
    ([True, False, True, <NA>, <NA>], [nan, nan, nan, 'missing', 'invalid'])
    """
    words = pc.utf8_trim_whitespace(pa.array(text.astype("str"), type=pa.large_string()))
    words = _casefold(words)
    words = pc.replace_substring_regex(words, _ONE_OR_ZERO, r"\1")
    is_true = _in(words, _TRUE)
    is_false = _in(words, _FALSE)
    missing = pc.or_kleene(words.is_null(), pc.equal(words, "")).fill_null(True)
    missing = missing.to_numpy(zero_copy_only=False)
    problem = np.where(missing, 1, np.where(is_true | is_false, 0, 2)).astype(np.int8)
    value = pd.arrays.BooleanArray(is_true, ~(is_true | is_false))
    return (
        pd.Series(value, index=text.index),
        pd.Series(pd.array(_PROBLEMS.take(problem), dtype="str"), index=text.index),
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
