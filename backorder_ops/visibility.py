"""What the shop shows, what a change makes disappear, and the shop setting.

The rule itself is in :mod:`backorder_ops.rules`; this module applies it to the
stored catalog and describes the products whose visibility flips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import StaleError
from .rules import compute_visibility, diff_visibility
from .store import DESCRIBED_TYPES, Store, now


def as_store(db: Store | str | None) -> Store:
    """Accept a :class:`Store`, a path, or ``None`` for the default database."""
    return db if isinstance(db, Store) else Store(db)


def lookup(table: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """The rows of ``table`` (indexed by product key) for each of ``keys``, on keys' index.

    Missing and ``<NA>`` keys give a row of ``<NA>``. (``reindex`` with a nullable key
    array fails in pandas 3 on some indexes.)
    """
    positions = table.index.get_indexer(keys.fillna(-1).to_numpy(dtype="int64"))
    if table.empty:  # nothing to find (a batch that names no product)
        table = table.reindex([-1])
    found = table.iloc[positions.clip(min=0)].set_axis(keys.index)
    return found.where(pd.Series(positions >= 0, index=keys.index), axis=0)


def families_for(store: Store, con, keys: np.ndarray) -> pd.DataFrame:
    """The part of the catalog a preview needs: the families of the products with these
    keys (the ones a batch names).

    A family is a parent with all its variants, or a standalone product; what a
    setting changes is decided inside the family, so a batch is classified and its
    visibility changes worked out on these products only, not the whole catalog.
    """
    return store.read_families(con, keys)


#: What classifying a batch reads of a product.
CLASSIFY_COLUMNS = ["key", "ean", "name", "parent_key", "backorder_allowed"]


def products_for(store: Store, con, keys: np.ndarray) -> pd.DataFrame:
    """The part of the catalog a batch is classified on: the products with these keys
    (the ones it names) and their parents, with the columns classifying reads
    (applying reads what flips from the store itself).
    """
    return store.read_products_with_parents(con, keys, CLASSIFY_COLUMNS)


def describe_products(products: pd.DataFrame, keys) -> pd.DataFrame:
    """EAN, SKU, name, stock, role and parent of the given products, sorted by EAN."""
    chosen = products[products["key"].isin(keys)]
    parents = products.set_index("key")[["ean", "name"]]
    parent = lookup(parents, chosen["parent_key"])
    has_variants = chosen["key"].isin(products["parent_key"].dropna())
    role = pd.Series("product", index=chosen.index, dtype="str")
    role = role.mask(chosen["parent_key"].notna(), "variant").mask(has_variants, "parent")
    described = pd.DataFrame(
        {
            "key": chosen["key"].to_numpy(),
            "ean": chosen["ean"].to_numpy(),
            "sku": chosen["sku"].to_numpy(),
            "name": chosen["name"].to_numpy(),
            "stock": chosen["stock"].to_numpy(),
            "role": role.to_numpy(),
            "parent_ean": parent["ean"].to_numpy(),
            "parent_name": parent["name"].to_numpy(),
        }
    ).astype(DESCRIBED_TYPES)
    return described.sort_values("ean", kind="stable").reset_index(drop=True)


def visibility_changes(
    before_products: pd.DataFrame,
    before_shop: bool,
    after_products: pd.DataFrame,
    after_shop: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products that disappear and that reappear between two states of the catalog."""
    before = compute_visibility(before_products, before_shop)
    after = compute_visibility(after_products, after_shop)
    before.index, after.index = before_products["key"], after_products["key"]
    hidden, shown = diff_visibility(before, after)
    return describe_products(after_products, hidden), describe_products(after_products, shown)


class Visibility:
    """The storefront as it is: how many products the shop shows, and which.

    The counts are read at once; :attr:`flags` (every product's key, EAN and
    ``visible``), :attr:`hidden` and :attr:`visible` (described: name, stock, role,
    parent) are read from the store on first use, as a large catalog has millions
    of them. They are read as the store is then: if the catalog or a setting has
    changed in between, they say so rather than mix two states.
    """

    def __init__(self, store: Store, sell_when_out_of_stock: bool, products: int, visible: int,
                 revision: int):  # fmt: skip
        self.store = store
        self.sell_when_out_of_stock = sell_when_out_of_stock
        self.products, self.visible_count, self._revision = products, visible, revision
        self._flags: pd.DataFrame | None = None
        self._described: dict[bool, pd.DataFrame] = {}

    def __repr__(self) -> str:
        s = self.summary()
        return f"<Visibility: {s['visible']} of {s['products']} visible, {s['hidden']} hidden>"

    def _read(self, read):
        with self.store.connect(read_only=True) as con:
            if self.store.revision(con) != self._revision:
                raise StaleError(
                    f"{self.store.path}: the catalog or a setting has changed since this "
                    "visibility was worked out; call current_visibility() again."
                )
            return read(con)

    @property
    def flags(self) -> pd.DataFrame:
        """Every product's ``key``, ``ean`` and ``visible``, by key."""
        if self._flags is None:
            self._flags = self._read(self.store.visibility)
        return self._flags

    def _products(self, visible: bool) -> pd.DataFrame:
        if visible not in self._described:
            keys = self.flags.loc[self.flags["visible"] == visible, "key"]
            described = self._read(lambda con: self.store.describe(con, keys))
            self._described[visible] = described.assign(visible=visible)
        return self._described[visible]

    @property
    def hidden(self) -> pd.DataFrame:
        """The products the shop does not show, described."""
        return self._products(False)

    @property
    def visible(self) -> pd.DataFrame:
        """The products the shop shows, described."""
        return self._products(True)

    def summary(self) -> dict:
        return {
            "products": self.products,
            "visible": self.visible_count,
            "hidden": self.products - self.visible_count,
            "sell_when_out_of_stock": self.sell_when_out_of_stock,
        }

    def to_json(self) -> dict:
        """RULES section 5: the shop setting and the sorted EANs, visible and hidden."""
        shown = self.flags["visible"]
        return {
            "sell_when_out_of_stock": self.sell_when_out_of_stock,
            "visible": sorted(self.flags.loc[shown, "ean"].tolist()),
            "hidden": sorted(self.flags.loc[~shown, "ean"].tolist()),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        return (
            f"<p>{s['visible']} of {s['products']} products visible, {s['hidden']} hidden "
            f"(shop setting {'on' if self.sell_when_out_of_stock else 'off'}).</p>"
            + self.hidden.drop(columns=["key", "visible"]).head(50).to_html(index=False)
        )


def current_visibility(*, db: Store | str | None = None) -> Visibility:
    """Which products the shop shows now, as the store keeps it.

    >>> current_visibility(db="data/demo.duckdb").summary()  # doctest: +SKIP
    """
    store = as_store(db)
    with store.connect(read_only=True) as con:
        shop, revision = store.read_shop(con), store.revision(con)
        products, visible = store.visibility_counts(con)
    return Visibility(store, shop, products, visible, revision)


@dataclass
class ShopChange:
    """A change (or a what-if) of the shop setting and what it makes disappear or reappear."""

    previous: bool
    sell_when_out_of_stock: bool
    newly_hidden: pd.DataFrame
    newly_visible: pd.DataFrame
    batch_id: int | None = None
    reference: str | None = None
    status: str = "done"
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.previous != self.sell_when_out_of_stock

    def to_json(self) -> dict:
        return {
            "batch": {"id": self.batch_id, "reference": self.reference, "status": self.status},
            "sell_when_out_of_stock": self.sell_when_out_of_stock,
            "previous": self.previous,
            "visibility": {
                "newly_hidden": sorted(self.newly_hidden["ean"].tolist()),
                "newly_visible": sorted(self.newly_visible["ean"].tolist()),
            },
            "warnings": self.warnings,
        }

    def _repr_html_(self) -> str:
        return f"<pre>{json.dumps(self.to_json(), indent=1)[:5000]}</pre>"


def set_shop_setting(
    sell_when_out_of_stock: bool,
    *,
    db: Store | str | None = None,
    reference: str | None = None,
    dry_run: bool = False,
) -> ShopChange:
    """Set "Producten kunnen bestellen wanneer deze niet op voorraad zijn" on or off.

    Returns what the change makes disappear and reappear; the change is recorded
    in the history as a batch of kind ``shop``. ``dry_run=True`` only tells.

    >>> set_shop_setting(True, db="data/demo.duckdb").newly_visible  # doctest: +SKIP
    """
    store = as_store(db)
    new = bool(sell_when_out_of_stock)
    with store.connect(read_only=dry_run) as con:
        if not dry_run:
            con.begin()
        products = store.read_products(con)
        old = store.read_shop(con)
        hidden, shown = visibility_changes(products, old, products, new)
        change = ShopChange(old, new, hidden, shown, reference=reference)
        if dry_run:
            change.status = "preview"
            return change
        store.write_shop(con, new)
        change.batch_id = store.insert_batch(
            con,
            kind="shop",
            reference=reference,
            status="done",
            source=f"sell_when_out_of_stock: {'on' if old else 'off'} -> {'on' if new else 'off'}",
            rows_total=1,
            applied=int(change.changed),
            unchanged=int(not change.changed),
            newly_hidden=len(hidden),
            newly_visible=len(shown),
            finished=now(),
        )
        store.insert_batch_rows(
            con,
            change.batch_id,
            pd.DataFrame(
                {
                    "row": [None],
                    "old_value": [old],
                    "new_value": [new],
                    "value": [new],
                    "status": ["applied" if change.changed else "unchanged"],
                    "message": [
                        f"Shop setting 'Producten kunnen bestellen wanneer deze niet op voorraad "
                        f"zijn' {'on' if old else 'off'} -> {'on' if new else 'off'}."
                    ],
                }
            ),
        )
        store.insert_batch_visibility(con, change.batch_id, hidden, shown)
        con.commit()
    return change
