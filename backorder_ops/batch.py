"""The batch "Product Backorder": read a sheet, classify its rows, preview, apply.

RULES sections 3 and 4. Classification is vectorised: one pass of column
operations over all rows, no Python loop over the data.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from . import ean as ean_mod
from .errors import StructureError
from .parallel import in_stretches
from .reading import Grid, find_columns, read_grid, read_text
from .store import DESCRIBED_TYPES, Store
from .values import ACCEPTED, parse_flags
from .visibility import as_store, families_for, visibility_changes

SYNONYMS = {
    "ean": {"ean", "ean-code", "ean code", "gtin", "barcode"},
    "value": {
        "backorder toegestaan",
        "backorders toegestaan",
        "backorder allowed",
        "backorders allowed",
        "backorder",
    },
}
LABELS = {"ean": "EAN", "value": "Backorder toegestaan?"}
DESCRIBE = "two columns: 'EAN' and 'Backorder toegestaan?' (1/ja or 0/nee)"

STATUSES = ("applied", "unchanged", "rejected")
#: Reasons a row is rejected, in the order in which they win (RULES section 4).
REASONS = (
    "missing_ean",
    "invalid_ean",
    "unknown_ean",
    "variant_not_allowed",
    "missing_value",
    "invalid_value",
    "conflicting_duplicate",
)
BATCH_STATUSES = ("queued", "running", "done", "failed", "refused")
#: Rows matched per step of a batch, between two progress reports: about 15 ms of
#: work each (smaller steps cost more in all than they tell).
CHUNK_ROWS = int(os.environ.get("BACKORDER_OPS_CHUNK_ROWS", 100_000))

#: ``progress(done, total)``: rows done out of rows in the batch.
Progress = Callable[[int, int], None]

#: The classified rows of a batch sheet: one status per row, a reason iff rejected.
ROWS_SCHEMA = pa.DataFrameSchema(
    {
        "row": pa.Column("int64", pa.Check.ge(1), unique=True),
        "ean_given": pa.Column("str", nullable=True),
        "ean": pa.Column("str", nullable=True),
        "key": pa.Column("Int64", nullable=True),
        "value_given": pa.Column("str", nullable=True),
        "value": pa.Column("boolean", nullable=True),
        "old_value": pa.Column("boolean", nullable=True),
        "new_value": pa.Column("boolean", nullable=True),
        "status": pa.Column("str", pa.Check.isin(STATUSES)),
        "reason": pa.Column("str", pa.Check.isin(REASONS), nullable=True),
        "message": pa.Column("str"),
    },
    checks=[
        pa.Check(
            lambda df: (df["status"] == "rejected") == df["reason"].notna(),
            name="reason_iff_rejected",
        ),
        pa.Check(
            lambda df: (df["status"] != "applied") | (df["old_value"] != df["new_value"]),
            name="applied_changes_value",
        ),
    ],
    strict=True,
    name="classified batch rows",
)

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass
class BatchSheet:
    """The rows of a batch sheet: EAN and value cells as text, indexed by row number."""

    rows: pd.DataFrame  # ean_given, value_given; index "row"
    grid: Grid
    fields: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.grid.source

    @property
    def eans(self) -> pd.DataFrame:
        """The EAN cells normalised (see :func:`~backorder_ops.ean.normalise_eans`), once
        for these rows."""
        rows, eans = getattr(self, "_eans", (None, None))
        if rows is not self.rows:
            rows, eans = self.rows, ean_mod.normalise_eans(self.rows["ean_given"])
            self._eans = rows, eans
        return eans

    def keys(self) -> np.ndarray:
        """The keys of the valid EANs the sheet names: the products it is about."""
        return self.eans["key"].dropna().to_numpy(dtype="int64")

    def __len__(self) -> int:
        return len(self.rows)


def read_sheet(
    source: str | os.PathLike | bytes | pd.DataFrame | None = None,
    *,
    text: str | None = None,
    sheet: str | None = None,
    name: str | None = None,
) -> BatchSheet:
    """Read a "Product Backorder" batch sheet from a file, file bytes, a frame or pasted text.

    >>> read_sheet(text="EAN\\tBackorder toegestaan?\\n8712345678906\\tja\\n").rows
    ... # doctest: +NORMALIZE_WHITESPACE
                  ean_given value_given
    row
    2         8712345678906          ja
    """
    if text is not None:
        grid = read_text(text, name=name or "pasted text")
    elif source is None:
        raise TypeError("read_sheet() needs a source or text=")
    else:
        grid = read_grid(source, sheet=sheet, name=name)
    columns = find_columns(
        grid,
        SYNONYMS,
        key_field="ean",
        required=("ean", "value"),
        header_required=False,
        describe=DESCRIBE,
        labels=LABELS,
    )
    rows = columns.rows.rename(columns={"ean": "ean_given", "value": "value_given"})
    # Rows with neither an EAN nor a value carry nothing to do (a remark at most).
    rows = rows[rows["ean_given"].notna() | rows["value_given"].notna()]
    warnings = []
    if columns.ignored:
        warnings.append("Ignored columns: " + ", ".join(columns.ignored) + ".")
    return BatchSheet(rows=rows, grid=grid, fields=columns.fields, warnings=warnings)


def as_sheet(sheet: BatchSheet | str | os.PathLike | bytes | pd.DataFrame) -> BatchSheet:
    """A batch sheet as given, or read from what was given (see :func:`read_sheet`)."""
    return sheet if isinstance(sheet, BatchSheet) else read_sheet(sheet)


def classify_rows(
    sheet: BatchSheet,
    products: pd.DataFrame,
    *,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
) -> pd.DataFrame:
    """Give every row of the sheet one status, a reason when rejected, and a message.

    ``products`` is the catalog as :meth:`Store.read_products` returns it. The
    result follows :data:`ROWS_SCHEMA`, one line per sheet row, in sheet order.
    ``progress(done, total)`` is called as rows are matched, a chunk at a time.
    """
    rows = sheet.rows
    # The EANs are normalised once per sheet (reading the products needed them too).
    # Each row's value is worked out a chunk of rows at a time (vectorised within a
    # chunk) so that a long batch can report progress; matching, duplicates and
    # statuses need all rows and are decided after.
    eans = sheet.eans
    parts = []
    chunk_rows = chunk_rows or CHUNK_ROWS
    for start in range(0, len(rows), chunk_rows):
        parts.append(parse_flags(rows["value_given"].iloc[start : start + chunk_rows]))
        if progress is not None:
            progress(min(start + chunk_rows, len(rows)), len(rows))
    if len(parts) == 1:
        value, value_problem = parts[0]
    elif parts:
        value, value_problem = (pd.concat(p) for p in zip(*parts, strict=True))
    else:
        value, value_problem = parse_flags(rows["value_given"])

    # Each row's product as a position in the catalog (-1: none), found with numpy:
    # a pandas join against a million products costs more than all the rest.
    keys = eans["key"].to_numpy(dtype="int64", na_value=-1)
    locate = _locator(products["key"].to_numpy(dtype="int64"))
    position = np.full(len(rows), -1, dtype=np.int64)
    valid = eans["key"].notna().to_numpy()
    position[valid] = locate(keys[valid])
    catalog_ean = _column_text(products["ean"])
    found = position >= 0
    if catalog_ean.null_count:  # a product without an EAN matches nothing
        found[found] = _take(catalog_ean, position[found]).is_valid().to_numpy(zero_copy_only=False)
        position[~found] = -1
    at = position[found]
    parent_key = np.full(len(rows), -1, dtype=np.int64)
    parent_key[found] = products["parent_key"].array.take(at).to_numpy("int64", na_value=-1)
    is_variant = parent_key >= 0
    current = np.zeros(len(rows), dtype=bool)
    current[found] = products["backorder_allowed"].to_numpy(dtype=bool)[at]
    is_true = value.to_numpy(dtype=bool, na_value=False)

    # The first reason that holds, as its number in REASONS counted from 1 (0: none).
    conditions = [
        eans["text"].isna().to_numpy(),
        eans["problem"].notna().to_numpy(),
        ~found,
        is_variant,
        (value_problem == "missing").to_numpy(),
        (value_problem == "invalid").to_numpy(),
    ]
    reason = np.select(conditions, range(1, len(conditions) + 1), 0).astype(np.int8)

    # The rows left, by product and in sheet order within a product (positions and
    # row numbers are unique together, so any sort gives this order).
    row = rows.index.to_numpy(dtype="int64")
    left = np.flatnonzero(reason == 0)
    left = left[np.argsort(position[left] * max(len(rows), 1) + left)]
    starts, of_product = _runs(position[left])
    # The same product with both values: all of its rows are rejected.
    with_true, with_false = (
        np.logical_or.reduceat(flags[left], starts) if len(left) else np.zeros(0, dtype=bool)
        for flags in (is_true, ~is_true)
    )
    conflicting = (with_true & with_false)[of_product]
    conflict = left[conflicting]
    reason[conflict] = REASONS.index("conflicting_duplicate") + 1
    candidate = reason == 0
    # A product's first row is the one that may change it; later rows repeat it.
    first = np.zeros(len(rows), dtype=bool)
    first[left[starts]] = ~(with_true & with_false)
    first_row = np.zeros(len(rows), dtype=np.int64)
    first_row[left] = row[left[starts]][of_product]
    applied = first & (is_true != current)
    # The status, as its index in STATUSES.
    status = np.where(applied, 0, np.where(candidate, 1, 2)).astype(np.int8)
    # The catalog's EAN where the row matched a product, else the cell as trimmed. A
    # matched cell's digits are that EAN unless the two differ in length (the zeros
    # Excel dropped, put back): only those few are read from the catalog. And its
    # digits are its text but for a number shown with decimals ("8712345678906.0").
    text = ean_mod.arrow_text(eans["text"])
    digits = ean_mod.arrow_text(eans["digits"])
    catalog_length = _lengths(catalog_ean, at)
    digits_length = _lengths(digits)
    given_length = digits_length[found]
    differ = np.zeros(len(rows), dtype=bool)
    differ[found] = catalog_length != given_length
    replace = differ | (found & (_lengths(text) != digits_length))
    ean = text
    if replace.any():
        replaced = np.flatnonzero(replace)
        from_catalog = differ[replaced]
        values = pc.if_else(
            from_catalog,
            _take(catalog_ean, np.where(from_catalog, position[replaced], -1)),
            digits.take(replaced),
        )
        ean = pc.replace_with_mask(text, replace, values)
    restored = np.zeros(len(rows), dtype=bool)
    restored[found] = given_length < catalog_length
    # For each product in conflict, the list of its rows.
    conflict_starts, of_list = _runs(of_product[conflicting])
    row_lists = pc.binary_join(
        arrow.LargeListArray.from_arrays(
            np.r_[conflict_starts, len(conflict)], _text(row[conflict])
        ),
        arrow.scalar(", ", type=arrow.large_string()),
    )
    row_list = np.full(len(rows), -1, dtype=np.int64)
    row_list[conflict] = of_list
    context = _Context(
        sheet=sheet,
        locate=locate,
        catalog_ean=catalog_ean,
        catalog_name=_column_text(products["name"]),
        row_lists=row_lists,
    )
    facts = _Facts(
        context=context,
        row=row,
        text=text,
        ean=ean,
        value=is_true,
        old_value=current,
        value_given=ean_mod.arrow_text(rows["value_given"]),
        problem=ean_mod.arrow_text(eans["problem"]),
        position=position,
        parent_key=parent_key,
        restored=restored,
        first_row=first_row,
        row_list=row_list,
    )
    case = np.where(reason > 0, reason + 2, np.where(applied, 0, np.where(first, 1, 2)))
    messages = _messages(facts, case)
    classified = pd.DataFrame(
        {
            "row": row,
            "ean_given": rows["ean_given"].array,
            "ean": pd.array(ean, dtype="str"),
            "key": pd.arrays.IntegerArray(keys, ~found),
            "value_given": rows["value_given"].array,
            "value": value.array,
            "old_value": pd.arrays.BooleanArray(current, ~(found & ~is_variant)),
            "new_value": pd.arrays.BooleanArray(is_true, ~candidate),
            "status": pd.array(_STATUS_TEXT.take(status), dtype="str"),
            "reason": pd.array(_REASON_TEXT.take(reason), dtype="str"),
            "message": pd.array(messages, dtype="str"),
        }
    )
    # ROWS_SCHEMA holds by construction (status and reason come from fixed tables),
    # except where the input decides: the sheet's row numbers and column types, and a
    # message left without text. Those and the schema's two rules across columns are
    # checked here on the codes, in well under a millisecond; pandera runs only to
    # report a failure in detail (validating costs ~12 ms on 100k rows, and its first
    # use in a process ~100 ms of imports). The tests validate with ROWS_SCHEMA itself.
    rejected = status == STATUSES.index("rejected")
    changes = found & ~is_variant & candidate & (is_true != current)
    holds = (
        _has_schema_types(classified)
        and bool((row >= 1).all())
        and rows.index.is_unique
        and messages.null_count == 0
        and bool((rejected == (reason > 0)).all())
        and bool((changes | ~applied).all())
    )
    return classified if holds else ROWS_SCHEMA.validate(classified)


def _has_schema_types(rows: pd.DataFrame) -> bool:
    """Whether ``rows`` has exactly ROWS_SCHEMA's columns, in its order, with its types."""
    return list(rows.columns) == list(ROWS_SCHEMA.columns) and all(
        rows[name].dtype == column.dtype.type for name, column in ROWS_SCHEMA.columns.items()
    )


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal neighbours starts, and each value's run number."""
    starts = np.flatnonzero(np.diff(values, prepend=values[:1] - 1))
    run = np.zeros(len(values), dtype=np.int64)
    run[starts[1:]] = 1
    return starts, np.cumsum(run)


def _locator(keys: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function that says where wanted keys are in ``keys`` (unique); -1: not there."""
    if len(keys) == 0:
        return lambda wanted: np.full(len(wanted), -1, dtype=np.int64)
    if not (keys[1:] > keys[:-1]).all():
        return pd.Index(keys).get_indexer

    def locate(wanted: np.ndarray) -> np.ndarray:
        # The store reads products by key: a binary search for the wanted keys in
        # their order beats hashing a million keys.
        order = np.argsort(wanted)
        ordered = wanted[order]
        where = np.searchsorted(keys, ordered).clip(max=len(keys) - 1)
        position = np.empty(len(wanted), dtype=np.int64)
        position[order] = np.where(keys[where] == ordered, where, -1)
        return position

    return locate


def _column_text(column: pd.Series) -> arrow.Array | arrow.ChunkedArray:
    """A catalog column as Arrow text, in the chunks it comes in (see _take)."""
    return arrow.array(column.astype("str"), type=arrow.large_string())


def _lengths(
    values: arrow.Array | arrow.ChunkedArray, position: np.ndarray | None = None
) -> np.ndarray:
    """The length in bytes of ``values`` at each position (or of all), read from the
    offsets where it can. Only a non-null value's length is meaningful."""
    if isinstance(values, arrow.ChunkedArray) and values.num_chunks == 1:
        values = values.chunk(0)
    if isinstance(values, arrow.ChunkedArray) or values.type != arrow.large_string():
        values = values if position is None else _take(values, position)
        return pc.binary_length(values).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    if position is None:
        return np.diff(offsets)
    return offsets[position + 1] - offsets[position]


def _take(values: arrow.Array | arrow.ChunkedArray, position: np.ndarray) -> arrow.Array:
    """``values`` at each position, null where the position is -1, as one array."""
    found = position >= 0
    if not found.any():
        return arrow.nulls(len(position), type=values.type)
    at = position if found.all() else np.maximum(position, 0)
    if isinstance(values, arrow.ChunkedArray) and values.num_chunks > 1:
        # The store's products come in chunks, and Arrow's take from chunked text
        # first joins them (a million names, each time): take from each chunk instead.
        ends = np.cumsum([len(chunk) for chunk in values.chunks])
        order = None if (at[1:] >= at[:-1]).all() else np.argsort(at)
        ordered = at if order is None else at[order]
        bounds = np.searchsorted(ordered, np.r_[0, ends], side="left")
        taken = arrow.concat_arrays([
            part.take(ordered[bounds[number] : bounds[number + 1]] - (end - len(part)))
            for number, (part, end) in enumerate(zip(values.chunks, ends, strict=True))
        ])  # fmt: skip
        if order is not None:
            inverse = np.empty(len(at), dtype=np.int64)
            inverse[order] = np.arange(len(at))
            taken = taken.take(inverse)
    else:
        taken = values.take(at)
        taken = taken.combine_chunks() if isinstance(taken, arrow.ChunkedArray) else taken
    if not found.all():  # cheaper than a take with null positions
        taken = pc.if_else(found, taken, arrow.scalar(None, type=values.type))
    return taken


@dataclass
class _Context:
    """What the messages of a batch read that is not per row."""

    sheet: BatchSheet
    locate: Callable[[np.ndarray], np.ndarray]  # catalog positions of keys
    catalog_ean: arrow.Array | arrow.ChunkedArray  # per product
    catalog_name: arrow.Array | arrow.ChunkedArray  # per product
    row_lists: arrow.Array  # "2, 5, 9": the rows of each conflicting product


@dataclass
class _Facts:
    """What the messages of a batch are made of, per row (and the context)."""

    context: _Context
    row: np.ndarray
    text: arrow.Array  # the EAN cell as trimmed
    ean: arrow.Array  # the catalog's EAN where matched, else the cell as trimmed
    value: np.ndarray
    old_value: np.ndarray
    value_given: arrow.Array
    problem: arrow.Array  # the EAN's problem code
    position: np.ndarray  # of the row's product in the catalog (-1: none)
    parent_key: np.ndarray  # of the row's product (-1: none)
    restored: np.ndarray  # matched only once the leading zeros Excel dropped were put back
    first_row: np.ndarray  # for a repeat, the row where its product first appears
    row_list: np.ndarray  # per row: its product's entry in context.row_lists (-1: none)

    def rows(self, part: slice) -> _Facts:
        """The facts of a stretch of the rows (views, not copies)."""
        return dataclasses.replace(self, **{
            fact.name: getattr(self, fact.name)[part]
            for fact in dataclasses.fields(self) if fact.name != "context"
        })  # fmt: skip


#: Message cases: one per status the row may have, then one per reason (as REASONS).
_CASES = ("applied", "already", "repeat", *REASONS)
_STATUS_TEXT = arrow.array(STATUSES, type=arrow.large_string())
_REASON_TEXT = arrow.array((None, *REASONS), type=arrow.large_string())
_YES_NO = ("nee", "ja")


def _messages(facts: _Facts, case: np.ndarray) -> arrow.ChunkedArray:
    """One sentence per row (see :func:`_sentences`); a long batch's in stretches of
    rows, one thread each (see :mod:`backorder_ops.parallel`)."""

    def sentences(part: slice) -> arrow.Array:
        return _sentences(facts.rows(part), case[part])

    return arrow.chunked_array(in_stretches(sentences, len(case)), type=arrow.large_string())


def _sentences(facts: _Facts, case: np.ndarray) -> arrow.Array:
    """One sentence per row, from the template of its case, built for those rows only.

    A template gives the parts of its sentence: text, or Arrow arrays of text for the
    rows of its case; Arrow joins them. The sentences are put back in row order.
    """
    setting = "'Backorders toegestaan'"

    def named(f):
        return f.ean, *_bracketed(f.name)

    templates = {
        "applied": lambda f: (
            f"{setting} changes from {f.old_word} to {f.new_word} for ", *named(f), ".",
        ),
        "already": lambda f: (
            *named(f), f" already has {setting} = {f.new_word}; nothing changes.",
        ),
        "repeat": lambda f: (
            "repeats row ", _text(f.first_row), " for ", *named(f),
            " with the same value; nothing more changes.",
        ),
        "missing_ean": lambda f: (
            "the EAN (", f.ean_cell, ") is empty while a value is filled in."
        ),
        "invalid_ean": lambda f: (
            "the EAN '", f.text, "' (", f.ean_cell, ") ", f.described_problem, "."
        ),
        "unknown_ean": lambda f: (
            "no product in the catalog has EAN '", f.text, "' (", f.ean_cell, ")."
        ),
        "variant_not_allowed": lambda f: (
            *named(f), " is a variant; ", setting, " can only be set on parent products. ",
            "Use the parent's EAN ", f.parent_ean, *_bracketed(f.parent_name), " instead.",
        ),
        "missing_value": lambda f: (
            "the value (", f.value_cell, ") is empty; fill in ", ACCEPTED, "."
        ),
        "invalid_value": lambda f: (
            "'", f.value_given, "' (", f.value_cell, ") is not a valid value; use ", ACCEPTED,
            ".",
        ),
        "conflicting_duplicate": lambda f: (
            *named(f), " appears on rows ", f.conflict_rows, " with different values; ",
            "none of these rows is applied, as it is not clear which one was meant.",
        ),
    }  # fmt: skip
    # Rows grouped by case, within a case by whether the match needed the zeros Excel
    # dropped (worth a word), and by the old and new value (words of the sentence):
    # one join of parts per group, with as much of the sentence as can be plain text.
    words = np.where(case <= _CASES.index("already"), facts.value * 2 + facts.old_value, 0)
    group = (case * 2 + facts.restored) * 4 + words
    # Within a group, rows in catalog order: products' text is then read in order.
    order = np.argsort(group * (facts.position.max(initial=0) + 2) + facts.position + 1)
    bounds = np.searchsorted(group[order], np.arange(8 * len(_CASES) + 1))
    ordered = _Ordered(facts, order)
    messages = []
    for number in np.flatnonzero(np.diff(bounds)):
        name, restored, (new, old) = _CASES[number // 8], number // 4 % 2, divmod(number % 4, 2)
        f = _CaseFacts(ordered, bounds[number], bounds[number + 1])
        f.new_word, f.old_word = _YES_NO[new], _YES_NO[old]
        remark = (
            " (EAN '", f.text, "' matched ", f.ean,
            " after restoring the leading zeros that Excel dropped.)",
        ) if restored else ()  # fmt: skip
        messages.append(_join("Row ", _text(f.row), ": ", *templates[name](f), *remark))
    if not messages:
        return arrow.array([], type=arrow.large_string())
    inverse = np.empty(len(case), dtype=np.int64)
    inverse[order] = np.arange(len(case))
    # One array first: Arrow's take from chunks of text is many times slower.
    return arrow.concat_arrays(messages).take(inverse)


#: The facts nearly every sentence reads (see _CaseFacts).
_ORDERED_ONCE = frozenset({"row", "ean", "position"})


class _Ordered:
    """The per-row facts in the order the messages are built in, each taken once."""

    def __init__(self, facts: _Facts, order: np.ndarray):
        self.facts, self.order = facts, order

    def __getattr__(self, name: str):
        column = getattr(self.facts, name)
        taken = column[self.order] if isinstance(column, np.ndarray) else column.take(self.order)
        setattr(self, name, taken)
        return taken


class _CaseFacts:
    """The facts of the rows of one case: a stretch of the ordered facts."""

    def __init__(self, ordered: _Ordered, start: int, stop: int):
        self.facts, self.ordered, self.start, self.stop = ordered.facts, ordered, start, stop

    def __getattr__(self, name: str):
        # A per-row fact for the case's rows (EAN text with <NA> as ""), kept for the
        # next use. What most sentences use is taken for all rows at once; the rest
        # only for the rows of the cases that use it.
        if name in _ORDERED_ONCE:
            taken = getattr(self.ordered, name)[self.start : self.stop]
        else:
            chosen = self.ordered.order[self.start : self.stop]
            column = getattr(self.facts, name)
            taken = column[chosen] if isinstance(column, np.ndarray) else column.take(chosen)
        taken = taken.fill_null("") if name == "text" else taken
        setattr(self, name, taken)
        return taken

    @property
    def name(self) -> arrow.Array:
        return _take(self.facts.context.catalog_name, self.position)

    @functools.cached_property
    def _parent(self) -> np.ndarray:
        return self.facts.context.locate(self.parent_key)

    @property
    def parent_ean(self) -> arrow.Array:
        return _take(self.facts.context.catalog_ean, self._parent)

    @property
    def parent_name(self) -> arrow.Array:
        return _take(self.facts.context.catalog_name, self._parent)

    @property
    def ean_cell(self) -> arrow.Array:
        return self._cells("ean")

    @property
    def value_cell(self) -> arrow.Array:
        return self._cells("value")

    def _cells(self, field: str) -> arrow.Array:
        sheet = self.facts.context.sheet
        return ean_mod.arrow_text(sheet.grid.cell_names(sheet.fields[field], pd.Series(self.row)))

    @property
    def described_problem(self) -> arrow.Array:
        problems = self.problem
        known = pc.unique(problems)
        described = [ean_mod.describe_problem(p) for p in known.to_pylist()]
        described = arrow.array(described, type=arrow.large_string())
        return described.take(pc.index_in(problems, value_set=known))

    @property
    def conflict_rows(self) -> arrow.Array:
        return self.facts.context.row_lists.take(self.row_list)


def _join(*parts) -> arrow.Array:
    """Text parts (Arrow arrays or Python strings) joined row by row; null if any part is.

    Neighbouring strings are put together first: Arrow's cost is per part and row.
    """
    merged = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    merged = [arrow.scalar(p, type=arrow.large_string()) if isinstance(p, str) else p
              for p in merged]  # fmt: skip
    return pc.binary_join_element_wise(*merged, arrow.scalar("", type=arrow.large_string()))


def _bracketed(text: arrow.Array) -> tuple:
    """The parts of `` (text)``, or of nothing where the text is null."""
    if text.null_count == 0:
        return " (", text, ")"
    return (pc.coalesce(_join(" (", text, ")"), ""),)


def _text(numbers: np.ndarray) -> arrow.Array:
    return pc.cast(arrow.array(numbers), arrow.large_string())


@dataclass
class BatchResult:
    """A classified batch: the rows, what disappears and reappears, and its outcome."""

    rows: pd.DataFrame
    newly_hidden: pd.DataFrame
    newly_visible: pd.DataFrame
    source: str
    status: str
    reference: str | None = None
    strict: bool = False
    batch_id: int | None = None
    notify: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    notify_status: str | None = None  # pending, sent, written, failed
    notify_detail: str | None = None  # where the mail went, or why it failed
    rows_waiting: int | None = None  # rows of a queued or running batch, not yet classified

    @property
    def rejected(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "rejected"]

    def summary(self) -> dict:
        counts = self.rows["status"].value_counts()
        rows = len(self.rows) if self.rows_waiting is None else self.rows_waiting
        return {"rows": rows} | {s: int(counts.get(s, 0)) for s in STATUSES}

    def to_json(self) -> dict:
        """The object of RULES section 5."""
        rows = self.rows[["row", "ean", "value", "status", "reason", "message"]]
        return {
            "batch": {"id": self.batch_id, "reference": self.reference, "status": self.status},
            "summary": self.summary(),
            "rows": json.loads(rows.to_json(orient="records")),
            "visibility": {
                "newly_hidden": sorted(self.newly_hidden["ean"].tolist()),
                "newly_visible": sorted(self.newly_visible["ean"].tolist()),
            },
            "warnings": list(self.warnings),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        parts = [
            f"<p><b>{html.escape(self.source)}</b> — {self.status}: {s['rows']} rows, "
            f"{s['applied']} applied, {s['unchanged']} unchanged, {s['rejected']} rejected; "
            f"{len(self.newly_hidden)} products disappear, {len(self.newly_visible)} reappear."
            "</p>"
        ]
        for title, frame in (
            ("Rejected rows", self.rejected[["row", "ean", "reason", "message"]]),
            ("Disappear", self.newly_hidden.drop(columns="key")),
            ("Reappear", self.newly_visible.drop(columns="key")),
        ):
            if not frame.empty:
                parts.append(f"<h4>{title}</h4>" + frame.head(200).to_html(index=False))
        return "".join(parts)


def classify_batch(
    sheet: BatchSheet,
    products: pd.DataFrame,
    *,
    strict: bool = False,
    progress: Progress | None = None,
) -> BatchResult:
    """Classify a sheet against the products it names: its rows, and whether it is refused.

    ``products`` holds at least the products the sheet names and their parents.
    What the batch flips is left empty: :func:`evaluate` works it out for a
    preview, and applying reads it from the store as it writes the change.
    """
    rows = classify_rows(sheet, products, progress=progress)
    rejected = int((rows["status"] == "rejected").sum())
    refused = strict and rejected > 0
    warnings = list(sheet.warnings)
    if refused:
        warnings.append(
            f"Strict mode: {rejected} rejected row(s), so the whole batch is refused and "
            "nothing is applied."
        )
    return BatchResult(
        rows=rows,
        newly_hidden=no_products(),
        newly_visible=no_products(),
        source=sheet.source,
        status="refused" if refused else "done",
        strict=strict,
        warnings=warnings,
    )


def evaluate(
    sheet: BatchSheet,
    products: pd.DataFrame,
    shop: bool,
    *,
    strict: bool = False,
    progress: Progress | None = None,
) -> BatchResult:
    """Classify a sheet against a catalog and work out what the batch would flip.

    ``products`` holds the whole families of the products the sheet names.
    """
    result = classify_batch(sheet, products, strict=strict, progress=progress)
    rows = result.rows
    changes = rows.loc[rows["status"] == "applied", ["key", "new_value"]]
    if result.status == "done" and not changes.empty:
        after = products.copy()
        new = changes.set_index(changes["key"].astype("int64"))["new_value"].astype(bool)
        hit = after["key"].isin(new.index)
        after.loc[hit, "backorder_allowed"] = after.loc[hit, "key"].map(new).to_numpy()
        result.newly_hidden, result.newly_visible = visibility_changes(products, shop, after, shop)
    return result


def check_address(address: str | None) -> str | None:
    """Validate an e-mail address for "Stuur mij een mail wanneer de taak is volbracht"."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    if not _EMAIL.fullmatch(address):
        raise StructureError(
            f"'{address}' is not an e-mail address; give one like naam@voorbeeld.nl."
        )
    return address


def preview_batch(
    sheet: BatchSheet | str | os.PathLike | bytes | pd.DataFrame,
    *,
    db: Store | str | None = None,
    strict: bool = False,
    reference: str | None = None,
) -> BatchResult:
    """Classify a batch and show what it would make disappear; writes nothing.

    >>> result = preview_batch("data/sample/batch_week49.xlsx", db="data/demo.duckdb")
    ... # doctest: +SKIP
    >>> result.newly_hidden[["ean", "name", "stock"]]  # doctest: +SKIP
    """
    store = as_store(db)
    with store.connect_while(functools.partial(as_sheet, sheet), read_only=True) as (con, sheet):
        products = families_for(store, con, sheet.keys())
        shop = store.read_shop(con)
    result = evaluate(sheet, products, shop, strict=strict)
    result.reference = reference
    return result


def counts_of(result: BatchResult) -> dict:
    s = result.summary()
    return {
        "rows_total": s["rows"],
        "applied": s["applied"],
        "unchanged": s["unchanged"],
        "rejected": s["rejected"],
        "newly_hidden": len(result.newly_hidden),
        "newly_visible": len(result.newly_visible),
    }


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in ROWS_SCHEMA.columns})


def no_products() -> pd.DataFrame:
    """A table of products that disappear or reappear, with none in it."""
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in DESCRIBED_TYPES.items()})
