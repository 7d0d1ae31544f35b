"""The storefront visibility rule (RULES section 2) as truth tables and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backorder_ops.rules import compute_visibility, diff_visibility, is_visible

# stock, owner's "Backorders toegestaan", shop "sell when out of stock" -> visible
TRUTH_TABLE = [
    (-1, False, False, False),
    (-1, False, True, True),
    (-1, True, False, True),
    (-1, True, True, True),
    (0, False, False, False),
    (0, False, True, True),
    (0, True, False, True),
    (0, True, True, True),
    (1, False, False, True),
    (1, False, True, True),
    (1, True, False, True),
    (1, True, True, True),
]


@pytest.mark.parametrize(("stock", "owner", "shop", "visible"), TRUTH_TABLE)
def test_is_visible_truth_table(stock, owner, shop, visible):
    assert bool(is_visible(stock, owner, shop)) is visible


def test_is_visible_vectorised():
    stock, owner, shop, visible = (np.array(column) for column in zip(*TRUTH_TABLE, strict=True))
    assert is_visible(stock, owner, shop).tolist() == visible.tolist()
    as_series = is_visible(pd.Series(stock), pd.Series(owner), False)
    assert as_series.tolist() == ((stock > 0) | owner).tolist()
    assert is_visible(stock, owner, True).all()


def catalog(rows: list[tuple]) -> pd.DataFrame:
    """A products frame from (key, parent_key or None, stock, backorder_allowed) rows."""
    key, parent, stock, allowed = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "key": pd.Series(key, dtype="int64"),
            "parent_key": pd.Series(parent, dtype="Int64"),
            "stock": pd.Series(stock, dtype="int64"),
            "backorder_allowed": pd.Series(allowed, dtype=bool),
        }
    )


def visible_keys(products: pd.DataFrame, shop: bool) -> list[int]:
    visible = compute_visibility(products, shop)
    return sorted(products.loc[visible, "key"].tolist())


@pytest.mark.parametrize(
    ("rows", "shop", "visible"),
    [
        # Standalone products use their own stock and setting.
        ([(1, None, 5, False)], False, [1]),
        ([(1, None, 0, False)], False, []),
        ([(1, None, -2, False)], False, []),
        ([(1, None, 0, True)], False, [1]),
        ([(1, None, -2, True)], False, [1]),
        ([(1, None, 0, False)], True, [1]),
        # A variant follows its parent's setting, not its own cell.
        ([(1, None, 0, True), (2, 1, 0, False)], False, [1, 2]),
        ([(1, None, 0, False), (2, 1, 0, True)], False, []),
        ([(1, None, 0, False), (2, 1, -1, False)], True, [1, 2]),
        # A parent with variants is visible iff one of its variants is.
        ([(1, None, 100, False), (2, 1, 0, False), (3, 1, -1, False)], False, []),
        ([(1, None, 0, False), (2, 1, 0, False), (3, 1, 4, False)], False, [1, 3]),
        ([(1, None, -5, False), (2, 1, 1, False)], False, [1, 2]),
        ([(1, None, 100, True), (2, 1, 0, False), (3, 1, -1, False)], False, [1, 2, 3]),
        # Parents do not influence each other.
        (
            [(1, None, 0, True), (2, 1, 0, False), (3, None, 9, False), (4, 3, 0, False)],
            False,
            [1, 2],
        ),
    ],
)
def test_compute_visibility_examples(rows, shop, visible):
    assert visible_keys(catalog(rows), shop) == visible


def test_compute_visibility_keeps_index_and_order():
    products = catalog(
        [(4, 7, 0, False), (7, None, 100, False), (9, None, 1, False), (5, 7, 3, False)]
    )
    products.index = ["a", "b", "c", "d"]
    visible = compute_visibility(products, False)
    assert visible.dtype == bool
    assert visible.to_dict() == {"a": False, "b": True, "c": True, "d": True}
    # The only variant in stock is sold out: the listing disappears despite its own stock.
    products.loc["d", "stock"] = 0
    assert compute_visibility(products, False).to_dict() == {
        "a": False,
        "b": False,
        "c": True,
        "d": False,
    }


def test_compute_visibility_large_keys():
    big = 99_999_999_999_994  # a GTIN-14 key does not fit 32 bits
    products = catalog([(big, None, 0, True), (big - 1, big, 0, False), (5, None, 0, False)])
    assert compute_visibility(products, False).tolist() == [True, True, False]


def test_compute_visibility_empty_catalog():
    products = catalog([(1, None, 0, False)]).iloc[:0]
    assert compute_visibility(products, False).tolist() == []


def reference_visibility(rows: list[tuple], shop: bool) -> list[bool]:
    """RULES section 2, row by row, in plain Python."""
    by_key = {key: (parent, stock, allowed) for key, parent, stock, allowed in rows}
    variants: dict[int, list[int]] = {}
    for key, parent, _, _ in rows:
        if parent is not None:
            variants.setdefault(parent, []).append(key)

    def unit_visible(key: int) -> bool:
        parent, stock, allowed = by_key[key]
        owner_allowed = by_key[parent][2] if parent is not None else allowed
        return stock > 0 or shop or owner_allowed

    return [
        any(unit_visible(v) for v in variants[key]) if key in variants else unit_visible(key)
        for key, _, _, _ in rows
    ]


@st.composite
def catalogs(draw) -> list[tuple]:
    """Random small catalogs: parents with 0..3 variants each, in a shuffled order."""
    stocks = st.integers(min_value=-3, max_value=3)
    keys = iter(draw(st.permutations(range(1, 41))))
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        parent = next(keys)
        rows.append((parent, None, draw(stocks), draw(st.booleans())))
        for _ in range(draw(st.integers(min_value=0, max_value=3))):
            # A variant's own setting cell exists in some exports; it must not count.
            rows.append((next(keys), parent, draw(stocks), draw(st.booleans())))
    return draw(st.permutations(rows))


@given(catalogs(), st.booleans())
def test_compute_visibility_matches_reference(rows, shop):
    visible = compute_visibility(catalog(rows), shop)
    assert visible.tolist() == reference_visibility(rows, shop)


@given(catalogs())
def test_shop_setting_on_shows_everything(rows):
    assert compute_visibility(catalog(rows), True).all()


@given(catalogs(), st.booleans())
def test_turning_a_setting_on_never_hides(rows, shop):
    products = catalog(rows)
    before = compute_visibility(products, shop)
    products["backorder_allowed"] = True
    assert (compute_visibility(products, shop) >= before).all()


def test_diff_visibility_example():
    before = pd.Series({"a": True, "b": True, "c": False, "d": False, "e": True})
    after = pd.Series({"a": True, "b": False, "c": True, "d": False, "f": True})
    hidden, shown = diff_visibility(before, after)
    assert (sorted(hidden), sorted(shown)) == (["b", "e"], ["c", "f"])


bool_series = st.dictionaries(st.integers(0, 30), st.booleans()).map(
    lambda d: pd.Series(d, dtype=bool)
)


@given(bool_series)
def test_diff_with_itself_is_empty(series):
    hidden, shown = diff_visibility(series, series)
    assert list(hidden) == [] and list(shown) == []


@pytest.mark.parametrize(
    ("before", "after", "hidden", "shown"),
    [
        # A product only on one side counts as hidden there; one still visible is no flip.
        ({"a": True, "b": False}, {"a": True}, [], []),
        ({"a": True}, {"a": True, "b": False}, [], []),
        ({"a": True, "b": True}, {"a": True}, ["b"], []),
        ({"a": False}, {"a": False, "b": True}, [], ["b"]),
    ],
)
def test_diff_visibility_labels_on_one_side(before, after, hidden, shown):
    result = diff_visibility(pd.Series(before, dtype=bool), pd.Series(after, dtype=bool))
    assert (list(result[0]), list(result[1])) == (hidden, shown)


@given(bool_series, bool_series)
@example(pd.Series({0: True, 1: False}, dtype=bool), pd.Series({0: True}, dtype=bool))
def test_diff_lists_exactly_the_flips(before, after):
    hidden, shown = diff_visibility(before, after)
    was = before.to_dict()
    now = after.to_dict()
    labels = set(was) | set(now)
    assert set(hidden) == {k for k in labels if was.get(k, False) and not now.get(k, False)}
    assert set(shown) == {k for k in labels if not was.get(k, False) and now.get(k, False)}
    assert set(diff_visibility(after, before)[0]) == set(shown)


@settings(max_examples=40, deadline=None)
@given(catalogs(), st.booleans())
def test_the_database_applies_the_same_rule(rows, shop):
    """The store's rule (DuckDB SQL built from is_visible) and what it keeps agree with
    the reference."""
    import tempfile
    from pathlib import Path

    from backorder_ops import Store

    products = catalog(rows).assign(ean=lambda f: f["key"].astype("str"), sku=None, name=None)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "rule.duckdb")
        with store.transaction() as con:
            store.write_products(con, products, merge=False)
            store.write_shop(con, shop)
            kept = store.visibility(con).set_index("key")["visible"]
            judged = store.judge(con, shop).set_index("key")["visible"]
            counts = store.visibility_counts(con)
    expected = dict(zip([r[0] for r in rows], reference_visibility(rows, shop), strict=True))
    assert judged.to_dict() == expected
    assert kept.to_dict() == expected
    assert counts == (len(rows), sum(expected.values()))


@st.composite
def writes(draw) -> list[tuple]:
    """A sequence of writes to the store: settings, the shop setting, merged exports."""
    steps = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        kind = draw(st.sampled_from(["settings", "shop", "merge"]))
        if kind == "settings":
            steps.append((kind, draw(st.dictionaries(st.integers(1, 40), st.booleans()))))
        elif kind == "shop":
            steps.append((kind, draw(st.booleans())))
        else:
            steps.append((kind, draw(st.dictionaries(st.integers(1, 40), st.integers(-2, 2)))))
    return steps


@settings(max_examples=40, deadline=None)
@given(catalogs(), writes())
def test_the_kept_visibility_follows_every_write(rows, steps):
    """After any sequence of writes, the visibility the store keeps is the rule's."""
    import tempfile
    from pathlib import Path

    from backorder_ops import Store

    rows = [list(r) for r in rows]
    shop = False
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "kept.duckdb")
        with store.transaction() as con:
            store.write_products(con, to_products(rows), merge=False)
        for kind, change in steps:
            by_key = {r[0]: r for r in rows}
            with store.transaction() as con:
                if kind == "shop":
                    shop = change
                    store.write_shop(con, shop)
                elif kind == "settings":
                    parents = {
                        k: v for k, v in change.items() if k in by_key and by_key[k][1] is None
                    }
                    for key, value in parents.items():
                        by_key[key][3] = value
                    frame = pd.DataFrame(
                        {"key": list(parents), "new_value": list(parents.values())}
                    )
                    store.update_settings(con, frame.astype({"key": "int64", "new_value": bool}))
                else:
                    stocks = {k: v for k, v in change.items() if k in by_key}
                    for key, stock in stocks.items():
                        by_key[key][2] = stock
                    merged = [r for r in rows if r[0] in stocks]
                    if merged:
                        store.write_products(con, to_products(merged), merge=True)
            with store.connect(read_only=True) as con:
                kept = store.visibility(con).set_index("key")["visible"].to_dict()
            expected = [tuple(r) for r in rows]
            want = dict(
                zip([r[0] for r in rows], reference_visibility(expected, shop), strict=True)
            )
            assert kept == want, (kind, change)


def to_products(rows) -> pd.DataFrame:
    frame = catalog([tuple(r) for r in rows])
    return frame.assign(ean=lambda f: f["key"].astype("str"), sku=None, name=None)
