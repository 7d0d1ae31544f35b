"""Shared fixtures: real DuckDB files in tmp_path, a small hand-made catalog, the sample data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from stdnum import ean as stdnum_ean

from backorder_ops import Store, load_catalog

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def make_ean(body: str) -> str:
    """A valid EAN: ``body`` followed by its GS1 check digit (computed by python-stdnum)."""
    return body + stdnum_ean.calc_check_digit(body)


# A small catalog with every role: a parent with variants, standalone products on
# and off, stock negative / zero / positive, an EAN-8 and a UPC-12 with a leading zero.
JAS = make_ean("871234500001")  # parent, backorders off
JAS_S = make_ean("871234500002")  # variant, stock 0
JAS_M = make_ean("871234500003")  # variant, stock 4
TRUI = make_ean("871234500010")  # parent, backorders on
TRUI_S = make_ean("871234500011")  # variant, stock -1
TRUI_M = make_ean("871234500012")  # variant, stock 0
KAARS = make_ean("871234500020")  # standalone, stock 0, off
MOK = make_ean("871234500021")  # standalone, stock 7, off
SOK = make_ean("8712345")  # EAN-8 standalone, stock -2, on
UPC = make_ean("01234500003")  # UPC-12 "0..." standalone, stock 0, off

TINY_ROWS = [
    # ean, sku, name, parent, stock, backorder
    (JAS, "JAS", "Winterjas", "", 0, "nee"),
    (JAS_S, "JAS-S", "Winterjas - S", JAS, 0, ""),
    (JAS_M, "JAS-M", "Winterjas - M", JAS, 4, ""),
    (TRUI, "TRUI", "Trui Merino", "", 0, "ja"),
    (TRUI_S, "TRUI-S", "Trui Merino - S", TRUI, -1, ""),
    (TRUI_M, "TRUI-M", "Trui Merino - M", TRUI, 0, ""),
    (KAARS, "KAARS", "Geurkaars", "", 0, "0"),
    (MOK, "MOK", "Mok", "", 7, "nee"),
    (SOK, "SOK", "Sokken", "", -2, "1"),
    (UPC, "UPC", "Bidon", "", 0, "nee"),
]
TINY_COLUMNS = ["EAN", "SKU", "Naam", "Parent EAN", "Voorraad", "Backorders toegestaan"]


@pytest.fixture
def tiny_catalog_csv(tmp_path: Path) -> Path:
    """The tiny catalog as a ``;``-separated CSV, as Dutch Excel writes it."""
    path = tmp_path / "tiny.csv"
    pd.DataFrame(TINY_ROWS, columns=TINY_COLUMNS).to_csv(path, sep=";", index=False)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty database file."""
    return Store(tmp_path / "test.duckdb", wait=2)


@pytest.fixture
def tiny(store: Store, tiny_catalog_csv: Path) -> Store:
    """A database holding the tiny catalog (shop setting off)."""
    report = load_catalog(tiny_catalog_csv, db=store)
    assert report.status == "done", report.issues
    return store


@pytest.fixture
def sample(store: Store) -> Store:
    """A database holding the shipped sample catalog."""
    report = load_catalog(SAMPLE / "catalogus.xlsx", db=store)
    assert report.status == "done", report.issues
    return store


@pytest.fixture
def sample_batch(tmp_path: Path) -> Path:
    """A copy of the shipped sample batch sheet."""
    return Path(shutil.copy(SAMPLE / "batch_week49.xlsx", tmp_path / "batch_week49.xlsx"))
