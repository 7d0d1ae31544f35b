"""The benchmark baseline (a plain pandas script) gives the same answers as backorder_ops.

On a small generated catalog and batch sheet: every row's status and reason, what
the batch makes disappear and reappear, and what the shop shows before and after.
No timings here: those are ``make bench``'s business.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stdnum import ean as stdnum_ean

import backorder_ops as bo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import baseline, generate  # noqa: E402

PRODUCTS = 2_000
BATCH_ROWS = 300


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A 2k-product export (.xlsx, .csv) and a 300-row batch sheet (.xlsx, .csv)."""
    out = tmp_path_factory.mktemp("bench-data")
    catalog = generate.ensure_catalog(PRODUCTS, ("xlsx", "csv"), out=out)
    batch = generate.ensure_batch(BATCH_ROWS, PRODUCTS, out=out)
    return {f"catalog.{fmt}": p for fmt, p in catalog.items()} | {
        f"batch.{fmt}": p for fmt, p in batch.items()
    }


def answers(rows: pd.DataFrame) -> list[tuple]:
    """(row, status, reason) per row, with None for no reason."""
    return [
        (int(r), s, None if pd.isna(why) else why)
        for r, s, why in zip(rows["row"], rows["status"], rows["reason"], strict=True)
    ]


def split(catalog: pd.DataFrame, visible: pd.Series) -> tuple[list, list]:
    return sorted(catalog.loc[visible, "ean"]), sorted(catalog.loc[~visible, "ean"])


def test_generated_catalog_is_deterministic_and_valid():
    first, second = generate.make_catalog(PRODUCTS), generate.make_catalog(PRODUCTS)
    pd.testing.assert_frame_equal(first, second)
    assert first["EAN"].is_unique
    assert all(stdnum_ean.is_valid(code) for code in first["EAN"])
    assert first["EAN"].str.len().isin([12, 13]).all()
    assert first["EAN"].str.match(r"^0\d{11}$").any()  # UPC-12 with a leading zero
    assert first["Parent EAN"].dropna().isin(first["EAN"]).all()
    assert (first["Voorraad"] < 0).any() and (first["Voorraad"] > 50).any()
    parents = first["Parent EAN"].isna()
    on = first.loc[parents, "Backorders toegestaan"].isin(["ja", "1"]).mean()
    assert 0.05 < on < 0.15


def test_vectorised_check_digit_matches_stdnum():
    bodies = np.random.default_rng(1).integers(0, 10**12, 2_000)
    for body, digit in zip(bodies, generate.check_digits(bodies), strict=True):
        assert stdnum_ean.calc_check_digit(str(body).zfill(12)) == str(digit)


@pytest.mark.parametrize("sheet", ["batch.xlsx", "batch.csv"])
def test_baseline_preview_matches_backorder_ops(files, tmp_path, sheet):
    db = bo.Store(tmp_path / "bench.duckdb", wait=2)
    assert bo.load_catalog(files["catalog.xlsx"], db=db).status == "done"
    result = bo.preview_batch(files[sheet], db=db)

    catalog = baseline.load_catalog(files["catalog.csv"])
    rows = baseline.classify(baseline.read_batch(files[sheet]), catalog)
    before = baseline.visibility(catalog)
    updated = baseline.apply_changes(catalog, rows)
    hidden, shown = baseline.diff(updated, before, baseline.visibility(updated))

    assert answers(rows) == answers(result.rows)
    # The generated sheet hits every reason, so the comparison covers each rule.
    assert set(rows["reason"].dropna()) == set(bo.batch.REASONS)
    assert set(rows["status"]) == {"applied", "unchanged", "rejected"}
    assert hidden == sorted(result.newly_hidden["ean"])
    assert shown == sorted(result.newly_visible["ean"])
    assert hidden and shown

    shop = bo.current_visibility(db=db).to_json()
    assert split(catalog, before) == (shop["visible"], shop["hidden"])


def test_baseline_end_to_end_matches_apply(files, tmp_path):
    db = bo.Store(tmp_path / "bench.duckdb", wait=2)
    assert bo.load_catalog(files["catalog.csv"], db=db).status == "done"
    applied = bo.apply_batch(files["batch.xlsx"], db=db, reference="bench")

    report = tmp_path / "hidden.xlsx"
    result = baseline.run(files["catalog.xlsx"], files["batch.xlsx"], report)

    assert answers(result["rows"]) == answers(applied.rows)
    assert result["newly_hidden"] == sorted(applied.newly_hidden["ean"])
    assert result["newly_visible"] == sorted(applied.newly_visible["ean"])
    shop = bo.current_visibility(db=db).to_json()
    after = baseline.visibility(result["catalog"])
    assert split(result["catalog"], after) == (shop["visible"], shop["hidden"])
    written = pd.read_excel(report, engine="openpyxl", dtype=str)
    assert written["ean"].tolist() == result["newly_hidden"]
