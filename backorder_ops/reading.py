"""Reading spreadsheets, CSV files and pasted text into a grid of text cells.

The only module that knows spreadsheet engines. Everything comes back as a
:class:`Grid`: text cells (``str`` dtype, ``<NA>`` when empty) indexed by the row
number the user sees, plus the column names found in the header row.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .ean import clean_text
from .errors import StructureError

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
DELIMITERS = ",;\t"
# Where fastexcel's error text is calamine's wrapped in its own words.
_ENGINE_PREFIXES = re.compile(
    r"^(?:calamine error: )?(?:(?:Xlsx|Xlsb|Xls|Ods) error: )?(?:(?:Zip|Xml) error: )?"
)
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def column_letter(index: int) -> str:
    """Spreadsheet column letter for a 0-based column index: 0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def normalise_header(name: object) -> str:
    """Header text as compared: trimmed, case-folded, one space, no trailing ``?`` or ``:``."""
    text = re.sub(r"\s+", " ", str(name)).strip().casefold()
    return re.sub(r"\s*[?:]+$", "", text).strip()


@dataclass
class Grid:
    """Cells of one sheet or text, as trimmed text, indexed by the user's row number."""

    cells: pd.DataFrame
    source: str
    kind: str  # "spreadsheet", "csv" or "text"
    headers: dict[int, str] = field(default_factory=dict)

    def cell_name(self, column: int, row: int) -> str:
        """How a person finds a cell of a row: ``cell B4`` in a spreadsheet, else its column."""
        if self.kind == "spreadsheet":
            return f"cell {column_letter(column)}{row}"
        return self.column_name(column)

    def cell_names(self, column: int, rows: pd.Series) -> pd.Series:
        """:meth:`cell_name` for many rows of one column at once."""
        if self.kind == "spreadsheet":
            # Arrow writes the numbers as text many times faster than pandas' astype.
            numbers = pc.cast(pa.array(rows.to_numpy(dtype="int64")), pa.string())
            names = pc.binary_join_element_wise(f"cell {column_letter(column)}", numbers, "")
            return pd.Series(pd.array(names, dtype="str"), index=rows.index)
        return pd.Series(self.column_name(column), index=rows.index, dtype="str")

    def column_name(self, column: int) -> str:
        """The column as the user knows it: its header, or its letter / number."""
        if column in self.headers:
            return f"column '{self.headers[column]}'"
        if self.kind == "spreadsheet":
            return f"column {column_letter(column)}"
        return f"column {column + 1}"


@dataclass
class Columns:
    """Which grid column holds which field, and the data rows below the header."""

    fields: dict[str, int]
    rows: pd.DataFrame  # one str column per field found, index = row number
    header_row: int | None
    ignored: list[str]


def read_grid(
    source: str | os.PathLike | bytes | pd.DataFrame,
    *,
    sheet: str | None = None,
    name: str | None = None,
) -> Grid:
    """Read a file (by path), file contents (bytes with ``name``) or a DataFrame.

    Spreadsheets are read with fastexcel (.ods with python-calamine), every cell as
    text so that EANs keep their digits; CSV and TSV files have their delimiter sniffed.
    """
    if isinstance(source, pd.DataFrame):
        return _grid_from_frame(source, name or "table")
    if isinstance(source, bytes):
        if name is None:
            raise TypeError("name= is required with bytes: its suffix tells the format")
        suffix = Path(name).suffix.lower()
        data, label = io.BytesIO(source), name
    else:
        path = Path(source)
        suffix, label = path.suffix.lower(), path.name
        if not path.is_file():
            raise StructureError(f"{path}: file not found.")
        data = path
    if suffix in SPREADSHEET_SUFFIXES:
        return _read_spreadsheet(data, label, sheet)
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(data)
        except Exception as error:  # pyarrow raises its own types for corrupt files
            raise StructureError(
                f"{label}: cannot be read as a Parquet file ({_first_line(error)})."
            ) from None
        return _grid_from_frame(frame, label)
    if suffix in TEXT_SUFFIXES or suffix == "":
        raw = data.getvalue() if isinstance(data, io.BytesIO) else data.read_bytes()
        delimiter = "\t" if suffix == ".tsv" else None
        return read_text(_decode(raw, label), name=label, kind="csv", delimiter=delimiter)
    raise StructureError(
        f"{label}: cannot read '{suffix}' files; use .xlsx, .xls, .ods, .csv, .tsv or .parquet."
    )


def read_text(
    text: str, *, name: str = "pasted text", kind: str = "text", delimiter: str | None = None
) -> Grid:
    """Read text pasted from a spreadsheet (tab-separated) or a CSV file's contents."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise StructureError(f"{name}: there is nothing in it.")
    delimiter = delimiter or sniff_delimiter(text)
    try:
        cells = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype="str",
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        # Rows of different lengths, or empty lines above the header: pandas takes
        # the width from the first line. The csv module copes; pad short rows.
        records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        width = max(map(len, records), default=0)
        cells = pd.DataFrame([r + [""] * (width - len(r)) for r in records], dtype="str")
    return _finish(cells, name, kind)


def sniff_delimiter(text: str) -> str:
    """The delimiter among tab, ``;`` and ``,`` that the text uses."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else "\t"


def _decode(raw: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StructureError(f"{name}: the text is neither UTF-8 nor Windows-1252.")


def _read_spreadsheet(data: Path | io.BytesIO, label: str, sheet: str | None) -> Grid:
    if _is_ods(data):
        return _read_with_calamine(data, label, sheet)
    import fastexcel

    try:
        workbook = fastexcel.read_excel(
            data.getvalue() if isinstance(data, io.BytesIO) else str(data)
        )
        names = workbook.sheet_names
    except Exception as error:  # fastexcel passes on calamine's errors for corrupt files
        raise _unreadable(label, error) from None
    _check_sheet(names, label, sheet)
    try:
        # Every column as text, never inferred: a column whose first cells are
        # numbers would otherwise lose the zeros of a later text EAN "0012...".
        # No header and skip_rows=0 keep the empty rows above the data, so the
        # row numbers stay the ones the user sees.
        loaded = workbook.load_sheet(
            sheet or names[0], header_row=None, skip_rows=0, dtypes="string"
        )
        batch = loaded.to_arrow()
    except Exception as error:
        raise _unreadable(label, error) from None
    cells = _place_columns(batch, [c.absolute_index for c in loaded.selected_columns])
    return _finish(cells, _sheet_label(label, sheet), "spreadsheet")


def _is_ods(data: Path | io.BytesIO) -> bool:
    """An OpenDocument spreadsheet, by its suffix or (for bytes) its ``mimetype`` entry.

    fastexcel reads an ODS time or duration cell as empty; python-calamine keeps it.
    """
    if isinstance(data, io.BytesIO):
        return _ODS_MIMETYPE in data.getbuffer()[:100].tobytes()
    return data.suffix.lower() == ".ods"


def _read_with_calamine(data: Path | io.BytesIO, label: str, sheet: str | None) -> Grid:
    from python_calamine import CalamineWorkbook

    try:
        workbook = (
            CalamineWorkbook.from_object(data)
            if isinstance(data, io.BytesIO)
            else CalamineWorkbook.from_path(str(data))
        )
    except Exception as error:  # calamine raises its own types for corrupt files
        raise _unreadable(label, error) from None
    names = workbook.sheet_names
    _check_sheet(names, label, sheet)
    if isinstance(data, io.BytesIO):
        data.seek(0)
    try:
        cells = pd.read_excel(
            data, sheet_name=sheet or names[0], header=None, dtype="str", engine="calamine"
        )
    except Exception as error:
        raise _unreadable(label, error) from None
    return _finish(cells, _sheet_label(label, sheet), "spreadsheet")


def _check_sheet(names: list[str], label: str, sheet: str | None) -> None:
    if not names:
        raise StructureError(f"{label}: the workbook has no sheets.")
    if sheet is not None and sheet not in names:
        raise StructureError(
            f"{label}: there is no sheet named '{sheet}'; its sheets are: "
            + ", ".join(f"'{n}'" for n in names)
            + "."
        )


def _sheet_label(label: str, sheet: str | None) -> str:
    return label if sheet is None else f"{label}, sheet '{sheet}'"


def _unreadable(label: str, error: Exception) -> StructureError:
    # fastexcel wraps calamine's message ("calamine error: Xlsx error: Zip error:
    # invalid Zip archive: ..."); python-calamine gave the inner part, kept as before.
    reason = _ENGINE_PREFIXES.sub("", _first_line(error))
    return StructureError(f"{label}: cannot be read as a spreadsheet ({reason}).")


def _place_columns(batch: pa.RecordBatch, positions: list[int]) -> pd.DataFrame:
    """Columns read by fastexcel at their place in the sheet, 0 being column A.

    fastexcel leaves out the empty columns left of the data (it keeps empty rows
    above it with ``skip_rows=0``); ``positions`` are the columns' absolute indices,
    so that data starting in column B is still column 1, "B", in messages.
    """
    rows = pd.RangeIndex(batch.num_rows)
    width = max(positions, default=-1) + 1
    empty = pd.Series(pd.NA, index=rows, dtype="str")
    placed = dict.fromkeys(range(width), empty)
    for position, column in zip(positions, batch.columns, strict=True):
        # pyarrow gives pandas' "str" dtype without copying the text; cast otherwise.
        text = column.to_pandas().set_axis(rows)
        placed[position] = text if text.dtype == "str" else text.astype("str")
    return pd.DataFrame(placed, index=rows)


def _grid_from_frame(frame: pd.DataFrame, name: str) -> Grid:
    header = pd.DataFrame([list(map(str, frame.columns))])
    body = frame.astype("object").where(frame.notna(), None)
    cells = pd.concat([header, pd.DataFrame(body.to_numpy())], ignore_index=True)
    return _finish(cells.astype("str").where(cells.notna()), name, "text")


def _finish(cells: pd.DataFrame, name: str, kind: str) -> Grid:
    cells = cells.copy()
    cells.columns = range(cells.shape[1])
    cells.index = pd.RangeIndex(1, len(cells) + 1, name="row")
    cleaned = pd.DataFrame({c: clean_text(cells[c]) for c in cells.columns}, index=cells.index)
    return Grid(cells=cleaned, source=name, kind=kind)


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def find_columns(
    grid: Grid,
    synonyms: dict[str, set[str]],
    *,
    key_field: str,
    required: tuple[str, ...],
    header_required: bool,
    describe: str,
    labels: dict[str, str],
) -> Columns:
    """Locate the header row and the columns of each field (RULES section 4).

    The header row is the first non-empty row if one of its cells names the
    ``key_field``. Without one, and when ``header_required`` is false, the fields
    are taken by position in the order of ``synonyms``. ``labels`` name each field
    as the user knows it, for messages.
    """
    cells = grid.cells
    nonempty = cells.notna().any(axis=1)
    if not nonempty.any():
        raise StructureError(f"{grid.source}: there is nothing in it.")
    first = nonempty.idxmax()
    header = {c: normalise_header(v) for c, v in cells.loc[first].items() if pd.notna(v)}
    lookup = {alias: f for f, aliases in synonyms.items() for alias in aliases}
    is_header = any(lookup.get(h) == key_field for h in header.values())

    if is_header:
        fields: dict[str, int] = {}
        ignored = []
        for column, text in header.items():
            wanted = lookup.get(text)
            if wanted is not None and wanted not in fields:
                fields[wanted] = column
            else:
                ignored.append(str(cells.at[first, column]))
        grid.headers = {c: str(cells.at[first, c]) for c in header}
        # Columns with data but no header are ignored too, and said so.
        filled = cells.loc[first + 1 :].notna().any()
        ignored += [grid.column_name(c) for c in filled[filled].index if c not in header]
        missing = [f for f in required if f not in fields]
        if missing:
            found = ", ".join(f"'{cells.at[first, c]}'" for c in header) or "nothing"
            raise StructureError(
                f"{grid.source}: no column {' or '.join(repr(labels[f]) for f in missing)} in the "
                f"header row (row {first}). Expected {describe}; found {found}."
            )
        body = cells.loc[first + 1 :]
        header_row: int | None = first
    else:
        if header_required:
            found = ", ".join(f"'{v}'" for v in cells.loc[first].dropna()) or "nothing"
            raise StructureError(
                f"{grid.source}: no header row found. Expected the first filled row (row "
                f"{first}) to name {describe}; found {found}."
            )
        width = int(cells.loc[:, cells.notna().any()].columns.max()) + 1
        if width < len(required):
            raise StructureError(
                f"{grid.source}: found only one column. Expected {describe} "
                "(copy both columns from the spreadsheet)."
            )
        fields = dict(zip(synonyms, range(width), strict=False))
        ignored = [grid.column_name(c) for c in range(len(synonyms), width)]
        body = cells
        header_row = None

    rows = pd.DataFrame({f: body[c] for f, c in fields.items()}, index=body.index)
    other = body.drop(columns=list(fields.values()))
    # Rows empty in every cell are skipped without a word (RULES section 4).
    keep = rows.notna().any(axis=1) | other.notna().any(axis=1)
    ignored = [i for i in ignored if i]
    return Columns(fields=fields, rows=rows[keep], header_row=header_row, ignored=ignored)
