"""Plain-text rendering of results for the terminal (the CLI's only formatting)."""

from __future__ import annotations

import pandas as pd

MAX_LINES = 200


def table(frame: pd.DataFrame, columns: dict[str, str], *, limit: int | None = MAX_LINES) -> str:
    """A left-aligned text table with the given ``{column: header}``; long tables are cut."""
    if frame.empty:
        return "  (none)"
    shown = frame if limit is None else frame.head(limit)
    cells = shown[list(columns)].astype("object").where(shown[list(columns)].notna(), "")
    cells = cells.astype("str")
    headers = list(columns.values())
    widths = [
        max(len(h), int(cells[c].str.len().max() or 0))
        for c, h in zip(columns, headers, strict=True)
    ]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  " + "  ".join("-" * w for w in widths))
    body = cells.apply(lambda col: col.str.ljust(widths[list(columns).index(col.name)])).agg(
        "  ".join, axis=1
    )
    lines += ("  " + body.str.rstrip()).tolist()
    if limit is not None and len(frame) > limit:
        lines.append(f"  ... and {len(frame) - limit} more (use --json for the full list)")
    return "\n".join(lines)


def grouped_products(products: pd.DataFrame, *, limit: int | None = MAX_LINES) -> str:
    """Products listed under their parent: variants indented below the parent's line."""
    if products.empty:
        return "  (none)"
    listing = products.assign(
        group=products["parent_ean"].fillna(products["ean"]),
        is_member=products["parent_ean"].notna(),
    )
    parents = listing.loc[~listing["is_member"]].set_index("ean")
    # A group headed by a parent that did not flip still shows the parent's name.
    heads = listing.groupby("group", sort=True).agg(
        head_name=("parent_name", "first"), members=("is_member", "sum")
    )
    lines = []
    for group, members in listing.sort_values(["group", "is_member", "ean"]).groupby(
        "group", sort=True
    ):
        if limit is not None and len(lines) >= limit:
            lines.append("  ... and more (use --json for the full list)")
            break
        if group in parents.index:
            p = parents.loc[group]
            extra = (
                f", {int(heads.at[group, 'members'])} variant(s)"
                if heads.at[group, "members"]
                else f", stock {p['stock']}"
            )
            lines.append(f"  {group}  {_text(p['name'])}  ({p['role']}{extra})")
        else:
            lines.append(
                f"  {group}  {_text(heads.at[group, 'head_name'])}  (parent, stays visible)"
            )
        for _, v in members[members["is_member"]].iterrows():
            lines.append(f"      {v['ean']}  {_text(v['name'])}  (stock {v['stock']})")
    return "\n".join(lines)


def _text(value) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and pd.isna(value)) or (value is pd.NA)
        else str(value)
    )
