"""The storefront visibility rule (RULES section 2), in one place.

Read :func:`is_visible` to learn what "visible" means; everything else here only
works out which setting and which stock each product is judged by.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def is_visible(stock, owner_backorder_allowed, sell_when_out_of_stock):
    """Whether a sellable unit shows in the shop.

    A unit is a standalone product or a variant; its *owner* is itself or the
    variant's parent, which carries the "Backorders toegestaan" setting.

    - in stock (``stock > 0``): always visible;
    - otherwise visible when it can be ordered without stock: the shop setting
      "Producten kunnen bestellen wanneer deze niet op voorraad zijn" is on, OR the
      owner's "Backorders toegestaan" is on (which overrides the shop setting off).

    Works element-wise on numpy arrays and pandas Series alike.

    >>> is_visible(np.array([5, 0, 0, -1]), np.array([False, True, False, False]), False)
    array([ True,  True, False, False])
    """
    return (stock > 0) | owner_backorder_allowed | sell_when_out_of_stock


def compute_visibility(products: pd.DataFrame, sell_when_out_of_stock: bool) -> pd.Series:
    """Visibility of every product in a catalog frame, as a bool Series on its index.

    ``products`` needs ``key``, ``parent_key`` (``<NA>`` for a parent product),
    ``stock`` and ``backorder_allowed``. Variants follow their parent's setting; a
    parent with variants is visible iff at least one of its variants is (its own
    stock is ignored).
    """
    keys = products["key"].to_numpy(dtype="int64")
    parent = products["parent_key"]
    is_variant = parent.notna().to_numpy()
    setting = products["backorder_allowed"].to_numpy(dtype=bool)

    owner_key = np.where(is_variant, parent.fillna(0).to_numpy(dtype="int64"), keys)
    owner_setting = pd.Series(setting, index=keys).reindex(owner_key).fillna(False)
    unit_visible = is_visible(
        products["stock"].to_numpy(dtype="int64"),
        owner_setting.to_numpy(dtype=bool),
        bool(sell_when_out_of_stock),
    )

    # A parent with variants takes the OR of its variants.
    variant_parents = owner_key[is_variant]
    any_variant_visible = (
        pd.Series(unit_visible[is_variant], index=variant_parents).groupby(level=0).any()
    )
    has_variants = np.isin(keys, any_variant_visible.index.to_numpy())
    visible = np.where(
        has_variants,
        any_variant_visible.reindex(keys).fillna(False).to_numpy(dtype=bool),
        unit_visible,
    )
    return pd.Series(visible, index=products.index, name="visible")


def diff_visibility(before: pd.Series, after: pd.Series) -> tuple[pd.Index, pd.Index]:
    """Index labels that disappear (visible before, hidden after) and that reappear."""
    # A label on one side only counts as hidden on the other; align fills with
    # objects, so make both bool again before negating.
    before, after = before.align(after, fill_value=False)
    before, after = before.astype(bool), after.astype(bool)
    return before.index[before & ~after], before.index[~before & after]
