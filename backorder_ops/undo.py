"""Undo a batch: a new batch that puts back the values the batch changed.

The undo is a batch like any other (kind ``undo``, linked to the batch it undoes
by ``undoes``): it has a row log, what it made disappear and reappear, and it is
applied in one transaction. Only what the batch *applied* is undone, and only
where nothing has happened since:

========================  =============================================================
row status / reason        when
========================  =============================================================
``applied``                the product still has the value the batch set, and no later
                           batch changed it: the old value is put back
``changed_since``          the setting was changed again after the batch (by a later
                           batch, an undo, or a catalog load): it is left as it is
``unknown_ean``            the product is no longer in the catalog
``variant_not_allowed``    the product has become a variant, which has no setting
========================  =============================================================

Rows that are not applied are ``rejected`` with one of these reasons, as in any
batch log. Undoing a batch twice therefore changes nothing the second time (every
row is ``changed_since``, by the first undo), and undoing an undo applies the
batch again where nothing has changed since. A shop-setting change is undone the
same way: the setting goes back if it still is what that change made it. Catalog
loads cannot be undone: load the earlier export again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .batch import BatchResult
from .errors import BackorderOpsError
from .store import Store, now
from .visibility import as_store, visibility_changes

CHANGED_SINCE = "changed_since"
UNDO_REASONS = ("unknown_ean", "variant_not_allowed", CHANGED_SINCE)
UNDOABLE_KINDS = ("backorder", "shop", "undo")
SETTING = "'Backorders toegestaan'"
SHOP_SETTING = "'Producten kunnen bestellen wanneer deze niet op voorraad zijn'"


class NotUndoableError(BackorderOpsError):
    """The batch cannot be undone: it applied nothing, has not finished, or is a catalog load."""


@dataclass
class UndoResult(BatchResult):
    """An undo batch (or its preview): a :class:`BatchResult` that knows what it undoes."""

    undoes: int | None = None

    def to_json(self) -> dict:
        """RULES section 5, with ``batch.undoes``: the id of the batch undone."""
        data = super().to_json()
        data["batch"]["undoes"] = self.undoes
        return data


def undo_batch(
    batch_id: int,
    *,
    db: Store | str | None = None,
    reference: str | None = None,
    preview: bool = False,
) -> UndoResult:
    """Undo batch ``batch_id``: restore the values it changed, as a new batch.

    A product whose setting has been changed since is left alone and reported
    (reason ``changed_since``); so is a product no longer in the catalog
    (``unknown_ean``). Everything is applied in one transaction, and the undo is
    kept in the history, linked to the batch it undoes. ``preview=True`` works out
    the same result and writes nothing.

    >>> undo_batch(2, db="data/demo.duckdb", preview=True).summary()  # doctest: +SKIP
    {'rows': 11, 'applied': 11, 'unchanged': 0, 'rejected': 0}
    >>> undo_batch(2, db="data/demo.duckdb", reference="terug").batch_id  # doctest: +SKIP
    3
    """
    store = as_store(db)
    record, rows, _ = store.read_batch(batch_id)
    _check_undoable(record)
    applied = rows[rows["status"] == "applied"]
    source = f"undo of batch {batch_id}"
    if preview:
        with store.connect(read_only=True) as con:
            result, _, _ = _plan(store, con, record, applied)
        result.source, result.reference = source, reference
        return result

    with store.transaction() as con:
        result, restore, shop_after = _plan(store, con, record, applied)
        result.source, result.reference = source, reference
        counts = result.summary()
        result.batch_id = store.insert_batch(
            con,
            kind="undo",
            undoes=batch_id,
            reference=reference,
            source=source,
            status="done",
            strict=False,
            finished=now(),
            rows_total=counts["rows"],
            applied=counts["applied"],
            unchanged=counts["unchanged"],
            rejected=counts["rejected"],
            newly_hidden=len(result.newly_hidden),
            newly_visible=len(result.newly_visible),
            progress_done=counts["rows"],
            progress_total=counts["rows"],
        )
        if not restore.empty:
            store.update_settings(con, restore)
        if shop_after is not None:
            store.write_shop(con, shop_after)
        store.insert_batch_rows(con, result.batch_id, result.rows)
        store.insert_batch_visibility(
            con, result.batch_id, result.newly_hidden, result.newly_visible
        )
    return result


def _check_undoable(record: dict) -> None:
    batch_id, kind, status = record["id"], record["kind"], record["status"]
    if kind not in UNDOABLE_KINDS:
        raise NotUndoableError(
            f"Batch {batch_id} is a catalog {kind}; undo handles 'Product Backorder' batches, "
            "shop-setting changes and undos. To go back, load the earlier export again."
        )
    if status in ("queued", "running"):
        raise NotUndoableError(f"Batch {batch_id} is still {status}; undo it once it has finished.")
    if status != "done":
        raise NotUndoableError(
            f"Batch {batch_id} was {status} and changed nothing, so there is nothing to undo."
        )


def _plan(
    store: Store, con, record: dict, applied: pd.DataFrame
) -> tuple[UndoResult, pd.DataFrame, bool | None]:
    """Classify the rows to undo against the catalog now; nothing is written.

    Returns the result, the settings to restore (``key``, ``new_value``) and the
    shop setting to restore (``None`` to leave it).
    """
    batch_id = int(record["id"])
    products = store.read_products(con)
    shop = store.read_shop(con)
    later = store.later_setting_changes(con, batch_id, record["finished"])
    undone_by = store.undone_by(con, batch_id)

    product_rows = applied[applied["key"].notna()].reset_index(drop=True)
    shop_rows = applied[applied["key"].isna()].reset_index(drop=True)
    rows = _product_rows(product_rows, products, later, batch_id)
    if not shop_rows.empty:
        shop_row = _shop_rows(shop_rows, shop, later, batch_id)
        rows = shop_row if rows.empty else pd.concat([rows, shop_row], ignore_index=True)

    doing = rows[rows["status"] == "applied"]
    restore = doing.loc[doing["key"].notna(), ["key", "new_value"]].astype(
        {"key": "int64", "new_value": "bool"}
    )
    shop_restore = doing.loc[doing["key"].isna(), "new_value"]
    shop_after = bool(shop_restore.iloc[0]) if not shop_restore.empty else None

    after = products.copy()
    if not restore.empty:
        values = restore.set_index("key")["new_value"]
        hit = after["key"].isin(values.index)
        after.loc[hit, "backorder_allowed"] = after.loc[hit, "key"].map(values).to_numpy(bool)
    hidden, shown = visibility_changes(
        products, shop, after, shop if shop_after is None else shop_after
    )

    warnings = []
    if applied.empty:
        warnings.append(f"Batch {batch_id} changed nothing, so there is nothing to undo.")
    elif undone_by:
        warnings.append(
            f"Batch {batch_id} was undone before, by batch {', '.join(map(str, undone_by))}."
        )
    left = int((rows["reason"] == CHANGED_SINCE).sum())
    if left:
        warnings.append(
            f"{left} setting(s) changed since batch {batch_id} and were left as they are."
        )
    result = UndoResult(
        rows=rows,
        newly_hidden=hidden,
        newly_visible=shown,
        source=f"undo of batch {batch_id}",
        status="done",
        warnings=warnings,
        undoes=batch_id,
    )
    return result, restore, shop_after


def _product_rows(
    rows: pd.DataFrame, products: pd.DataFrame, later: pd.Series, batch_id: int
) -> pd.DataFrame:
    """The undo of each product row the batch applied: status, reason and message."""
    key = rows["key"].astype("Int64")
    catalog = products.set_index("key")[["ean", "name", "parent_key", "backorder_allowed"]]
    now_ = catalog.reindex(key.fillna(-1).astype("int64").to_numpy())
    now_.index = rows.index
    found = now_["ean"].notna()
    variant = found & now_["parent_key"].notna()
    current = now_["backorder_allowed"].astype("boolean").where(found)
    set_to = rows["new_value"].astype("boolean")  # what the batch set
    restore = rows["old_value"].astype("boolean")  # what it was before
    changed_by = later.reindex(key.to_numpy()).set_axis(rows.index)
    changed = found & ~variant & ((current != set_to).fillna(True) | changed_by.notna())

    reason = pd.Series(
        np.select(
            [~found.to_numpy(), variant.to_numpy(), changed.to_numpy(dtype=bool)],
            list(UNDO_REASONS),
            "",
        ),
        index=rows.index,
        dtype="str",
    ).replace("", pd.NA)
    doing = reason.isna()
    status = pd.Series("applied", index=rows.index, dtype="str").mask(~doing, "rejected")

    ean = now_["ean"].fillna(rows["ean"]).astype("str")
    named = ean + (" (" + now_["name"].astype("str") + ")").fillna("")
    word = {True: "ja", False: "nee"}
    by = (" by batch " + changed_by.astype("Int64").astype("str")).fillna("")
    origin = "Row " + rows["row"].astype("Int64").astype("str").fillna("?")
    origin = origin + f" of batch {batch_id}: "
    messages = {
        "applied": (
            f"{SETTING} changes back from "
            + set_to.map(word).astype("str")
            + " to "
            + restore.map(word).astype("str")
            + " for "
            + named
            + "."
        ),
        "unknown_ean": ean + " is no longer in the catalog; nothing to undo.",
        "variant_not_allowed": (
            named + f" is a variant now; variants have no {SETTING}, so nothing to undo."
        ),
        CHANGED_SINCE: (
            named
            + f" has {SETTING} = "
            + current.map(word).astype("str").fillna("?")
            + ", changed since"
            + by
            + "; left as it is."
        ),
    }
    case = reason.fillna("applied")
    message = pd.Series(pd.NA, index=rows.index, dtype="str")
    for name, template in messages.items():
        chosen = case == name
        message = message.mask(chosen, template.where(chosen))
    return pd.DataFrame(
        {
            "row": rows["row"].astype("Int64"),
            "ean_given": rows["ean_given"].astype("str"),
            "ean": ean,
            "key": key,
            "value_given": restore.map(word).astype("str"),
            "value": restore,
            "old_value": current,
            "new_value": restore.where(doing),
            "status": status,
            "reason": reason,
            "message": origin + message,
        }
    )


def _shop_rows(rows: pd.DataFrame, shop: bool, later: pd.Series, batch_id: int) -> pd.DataFrame:
    """The undo of a shop-setting change: at most one row."""
    set_to, restore = bool(rows["new_value"].iloc[-1]), bool(rows["old_value"].iloc[-1])
    changed_by = later.get(-1)  # later shop changes are filed under key -1
    on_off = {True: "on", False: "off"}
    if shop != set_to or changed_by is not None:
        by = f" by batch {int(changed_by)}" if changed_by is not None else ""
        status, reason, new_value = "rejected", CHANGED_SINCE, None
        message = (
            f"Shop setting {SHOP_SETTING} is {on_off[shop]}, changed since{by}; left as it is."
        )
    else:
        status, reason, new_value = "applied", None, restore
        message = (
            f"Shop setting {SHOP_SETTING} changes back from {on_off[shop]} to {on_off[restore]}."
        )
    return pd.DataFrame(
        {
            "row": pd.Series([None], dtype="Int64"),
            "ean_given": pd.Series([None], dtype="str"),
            "ean": pd.Series([None], dtype="str"),
            "key": pd.Series([None], dtype="Int64"),
            "value_given": [on_off[restore]],
            "value": pd.Series([restore], dtype="boolean"),
            "old_value": pd.Series([shop], dtype="boolean"),
            "new_value": pd.Series([new_value], dtype="boolean"),
            "status": [status],
            "reason": pd.Series([reason], dtype="str"),
            "message": [f"Batch {batch_id}: {message}"],
        }
    )


# -- history queries -----------------------------------------------------------------------
# Read-only questions about the history that Store has no method for yet. They belong in
# store.py (the only module meant to speak SQL); kept here while that module is being
# restructured.
