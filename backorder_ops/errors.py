"""Exceptions for trouble that stops the work.

Problems *inside* the data (a bad EAN on row 7) are not exceptions: they are rows
of a report. These classes are for the cases where nothing can be done at all.
Every message is written for the analyst who will read it.
"""

from __future__ import annotations


class BackorderOpsError(Exception):
    """Base class: the work could not be done; the message says why, for a person."""


class StructureError(BackorderOpsError):
    """The file or pasted text cannot be used: unreadable, empty, or a column is missing."""


class DatabaseBusyError(BackorderOpsError):
    """Another process holds the database file and did not let go in time."""


class DatabaseError(BackorderOpsError):
    """The database file cannot be opened or is of an unknown schema version."""


class NotFoundError(BackorderOpsError):
    """A batch or product that was asked for does not exist."""


class StaleError(BackorderOpsError):
    """What was read earlier no longer matches the store: read it again."""
