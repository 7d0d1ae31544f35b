"""Parsing yes/no cells ("Backorder toegestaan?") without Python truthiness.

``bool("nee")`` is True; here ``"nee"`` is False, and ``"misschien"`` is invalid.
"""

from __future__ import annotations

import pandas as pd

TRUE_WORDS = frozenset({"1", "ja", "j", "yes", "y", "true", "waar"})  # WAAR: Dutch Excel
FALSE_WORDS = frozenset({"0", "nee", "n", "no", "false", "onwaar"})
# A number cell read as text ("1.0"), or typed with a Dutch decimal comma ("1,0").
_ONE_OR_ZERO = r"^([01])[.,]0*$"

ACCEPTED = "1 or ja (allowed), 0 or nee (not allowed)"


def parse_flags(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse trimmed text cells into a nullable boolean and a problem per cell.

    Returns ``(value, problem)``: ``value`` is ``boolean`` (``<NA>`` where not
    parsed); ``problem`` is ``<NA>``, ``"missing"`` (empty cell) or ``"invalid"``.

    >>> value, problem = parse_flags(pd.Series(["ja", "nee", "1.0", "", "misschien"]))
    >>> value.tolist(), problem.tolist()
    ([True, False, True, <NA>, <NA>], [nan, nan, nan, 'missing', 'invalid'])
    """
    words = text.astype("str").str.strip().str.casefold()
    words = words.mask(words == "")
    words = words.str.replace(_ONE_OR_ZERO, r"\1", regex=True)
    is_true = words.isin(TRUE_WORDS)
    is_false = words.isin(FALSE_WORDS)
    value = pd.Series(pd.NA, index=text.index, dtype="boolean")
    value[is_true] = True
    value[is_false] = False
    problem = pd.Series(pd.NA, index=text.index, dtype="str")
    problem = problem.mask(words.isna(), "missing")
    problem = problem.mask(words.notna() & ~is_true & ~is_false, "invalid")
    return value, problem
