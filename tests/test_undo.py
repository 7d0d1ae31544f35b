"""Undo: a new batch that restores what a batch changed, unless it has changed since."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import JAS, JAS_S, KAARS, MOK, SAMPLE, TINY_COLUMNS, TINY_ROWS, TRUI, UPC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backorder_ops import (
    NotFoundError,
    NotUndoableError,
    Report,
    Store,
    apply_batch,
    current_visibility,
    load_catalog,
    read_sheet,
    set_shop_setting,
    submit_batch,
    undo_batch,
)
from backorder_ops.cli import cli


def sheet(*rows: tuple[str, str]):
    """A pasted batch sheet: header, then (EAN, value) rows (row 2 onwards)."""
    lines = ["EAN\tBackorder toegestaan?", *(f"{ean}\t{value}" for ean, value in rows)]
    return read_sheet(text="\n".join(lines))


def state(store: Store) -> tuple[pd.DataFrame, bool, list[str]]:
    """The catalog, the shop setting and the visible EANs."""
    shop = current_visibility(db=store)
    return store.read_products(), shop.sell_when_out_of_stock, sorted(shop.visible["ean"])


def listed(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    """Rows of the given columns, empty cells as None."""
    chosen = frame[columns].astype("object")
    return chosen.where(chosen.notna(), None).values.tolist()


def setting(store: Store, ean: str) -> bool:
    products = store.read_products()
    return bool(products.loc[products["ean"] == ean, "backorder_allowed"].iloc[0])


def test_undo_restores_settings_and_visibility(tiny):
    before = state(tiny)
    batch = apply_batch(sheet((KAARS, "ja"), (JAS, "ja"), (TRUI, "nee"), (MOK, "nee")), db=tiny)
    assert batch.summary()["applied"] == 3

    undo = undo_batch(batch.batch_id, db=tiny, reference="terug")
    after = state(tiny)
    assert after[0].equals(before[0]) and after[1:] == before[1:]
    assert undo.summary() == {"rows": 3, "applied": 3, "unchanged": 0, "rejected": 0}
    assert undo.undoes == batch.batch_id and undo.reference == "terug"
    assert sorted(undo.newly_hidden["ean"]) == sorted(batch.newly_visible["ean"])
    assert sorted(undo.newly_visible["ean"]) == sorted(batch.newly_hidden["ean"])
    assert undo.rows["row"].tolist() == [2, 3, 4]  # the rows of the batch undone
    assert undo.rows["message"].iloc[0] == (
        f"Row 2 of batch {batch.batch_id}: 'Backorders toegestaan' changes back from ja to nee "
        f"for {KAARS} (Geurkaars)."
    )

    record, rows, changes = tiny.read_batch(undo.batch_id)
    assert (record["kind"], record["undoes"], record["status"]) == ("undo", batch.batch_id, "done")
    assert (record["reference"], record["source"]) == ("terug", f"undo of batch {batch.batch_id}")
    assert (record["applied"], record["newly_hidden"], record["newly_visible"]) == (3, 2, 3)
    assert rows["status"].tolist() == ["applied"] * 3
    assert len(changes) == 5
    listed = tiny.list_batches()
    assert listed["id"].iloc[0] == undo.batch_id and listed["kind"].iloc[0] == "undo"
    data = undo.to_json()
    assert data["batch"] == {"id": undo.batch_id, "reference": "terug", "status": "done",
                             "undoes": batch.batch_id}  # fmt: skip


def test_preview_writes_nothing(tiny):
    batch = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee")), db=tiny)
    before, batches = state(tiny), len(tiny.list_batches())
    preview = undo_batch(batch.batch_id, db=tiny, preview=True)
    assert preview.batch_id is None and preview.summary()["applied"] == 2
    assert sorted(preview.newly_visible["ean"]) == sorted(batch.newly_hidden["ean"])
    after = state(tiny)
    assert after[0].equals(before[0]) and len(tiny.list_batches()) == batches


def test_a_product_changed_since_is_left_alone(tiny):
    first = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee"), (JAS, "ja")), db=tiny)
    second = apply_batch(sheet((TRUI, "ja")), db=tiny, reference="toch wel")
    undo = undo_batch(first.batch_id, db=tiny)
    assert listed(undo.rows, ["ean", "status", "reason"]) == [
        [KAARS, "applied", None],
        [TRUI, "rejected", "changed_since"],
        [JAS, "applied", None],
    ]
    assert undo.rows["message"].iloc[1] == (
        f"Row 3 of batch {first.batch_id}: {TRUI} (Trui Merino) has 'Backorders toegestaan' = ja, "
        f"changed since by batch {second.batch_id}; left as it is."
    )
    assert (setting(tiny, KAARS), setting(tiny, TRUI), setting(tiny, JAS)) == (False, True, False)
    assert "1 setting(s) changed since" in undo.warnings[0]


def test_a_product_changed_back_and_forth_since_is_left_alone(tiny):
    first = apply_batch(sheet((KAARS, "ja")), db=tiny)
    apply_batch(sheet((KAARS, "nee")), db=tiny)
    apply_batch(sheet((KAARS, "ja")), db=tiny)  # the value the first batch set, but not its doing
    undo = undo_batch(first.batch_id, db=tiny)
    assert undo.rows["reason"].tolist() == ["changed_since"]
    assert setting(tiny, KAARS) is True


def test_a_setting_changed_by_a_load_is_left_alone(tiny, tmp_path):
    batch = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee")), db=tiny)
    changed = pd.DataFrame([TINY_ROWS[6]], columns=TINY_COLUMNS)  # KAARS, backorders "0"
    load_catalog(changed, db=tiny, merge=True, name="kaars.csv")
    undo = undo_batch(batch.batch_id, db=tiny)
    assert listed(undo.rows, ["ean", "reason"]) == [[KAARS, "changed_since"], [TRUI, None]]
    assert undo.rows["message"].iloc[0].endswith("= nee, changed since; left as it is.")


def test_products_gone_or_now_a_variant(tiny):
    batch = apply_batch(sheet((KAARS, "ja"), (UPC.lstrip("0"), "ja"), (TRUI, "nee")), db=tiny)
    rows = [r for r in TINY_ROWS if r[0] != KAARS]  # KAARS is gone
    rows = [(*r[:3], JAS, *r[4:]) if r[0] == UPC else r for r in rows]  # UPC now a variant
    rows = [(*r[:5], "nee") if r[0] == TRUI else r for r in rows]  # as the batch left it
    report = load_catalog(pd.DataFrame(rows, columns=TINY_COLUMNS), db=tiny, name="nieuw.csv")
    assert report.status == "done"
    undo = undo_batch(batch.batch_id, db=tiny)
    assert listed(undo.rows, ["ean", "status", "reason"]) == [
        [KAARS, "rejected", "unknown_ean"],
        [UPC, "rejected", "variant_not_allowed"],
        [TRUI, "applied", None],
    ]
    assert undo.rows["message"].iloc[0].endswith("is no longer in the catalog; nothing to undo.")
    assert setting(tiny, TRUI) is True


def test_undo_twice_changes_nothing_the_second_time(tiny):
    batch = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee")), db=tiny)
    first = undo_batch(batch.batch_id, db=tiny)
    before = state(tiny)
    second = undo_batch(batch.batch_id, db=tiny)
    assert second.summary() == {"rows": 2, "applied": 0, "unchanged": 0, "rejected": 2}
    assert set(second.rows["reason"]) == {"changed_since"}
    assert second.rows["message"].str.contains(f"by batch {first.batch_id}").all()
    assert (
        second.warnings[0]
        == f"Batch {batch.batch_id} was undone before, by batch {first.batch_id}."
    )
    assert second.newly_hidden.empty and second.newly_visible.empty
    after = state(tiny)
    assert after[0].equals(before[0])


def test_undo_of_an_undo_applies_the_batch_again(tiny):
    batch = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee")), db=tiny)
    applied = state(tiny)
    undo = undo_batch(batch.batch_id, db=tiny)
    redo = undo_batch(undo.batch_id, db=tiny)
    assert redo.summary()["applied"] == 2 and redo.undoes == undo.batch_id
    again = state(tiny)
    assert again[0].equals(applied[0]) and again[1:] == applied[1:]


def test_undo_of_a_shop_change(tiny):
    before = state(tiny)
    change = set_shop_setting(True, db=tiny)
    undo = undo_batch(change.batch_id, db=tiny)
    assert undo.summary() == {"rows": 1, "applied": 1, "unchanged": 0, "rejected": 0}
    assert sorted(undo.newly_hidden["ean"]) == sorted(change.newly_visible["ean"])
    after = state(tiny)
    assert after[1:] == before[1:] and tiny.read_shop() is False
    assert "changes back from on to off" in undo.rows["message"].iloc[0]
    report = Report.from_history(tiny, undo.batch_id)
    assert report.summary["sell_when_out_of_stock_before"] is True
    assert report.summary["sell_when_out_of_stock"] is False
    assert report.disappear["reason"].str.contains("turned off").all()

    again = undo_batch(change.batch_id, db=tiny)  # undone already
    assert again.rows["reason"].tolist() == ["changed_since"] and tiny.read_shop() is False

    on = set_shop_setting(True, db=tiny)
    set_shop_setting(False, db=tiny)
    set_shop_setting(True, db=tiny)
    kept = undo_batch(on.batch_id, db=tiny)
    assert kept.rows["reason"].tolist() == ["changed_since"] and tiny.read_shop() is True


def test_a_batch_that_changed_nothing(tiny):
    batch = apply_batch(sheet((MOK, "nee")), db=tiny)
    undo = undo_batch(batch.batch_id, db=tiny)
    assert undo.summary()["rows"] == 0
    assert undo.warnings == [
        f"Batch {batch.batch_id} changed nothing, so there is nothing to undo."
    ]


def test_what_cannot_be_undone(tiny):
    with pytest.raises(NotUndoableError, match="catalog load"):
        undo_batch(1, db=tiny)
    with pytest.raises(NotFoundError, match="no batch 99"):
        undo_batch(99, db=tiny)
    refused = apply_batch(sheet((KAARS, "ja"), (JAS_S, "ja")), db=tiny, strict=True)
    assert refused.status == "refused"
    with pytest.raises(NotUndoableError, match="refused and changed nothing"):
        undo_batch(refused.batch_id, db=tiny)
    queued = submit_batch(sheet((KAARS, "ja")), db=tiny, in_thread=False)
    with pytest.raises(NotUndoableError, match="still queued"):
        undo_batch(queued.id, db=tiny)


def test_report_of_an_undo(tiny, tmp_path):
    batch = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee")), db=tiny)
    undo = undo_batch(batch.batch_id, db=tiny)
    report = Report.from_history(tiny, undo.batch_id)
    assert (report.summary["batch_kind"], report.summary["undoes"]) == ("undo", batch.batch_id)
    assert sorted(report.disappear["ean"]) == sorted(undo.newly_hidden["ean"])
    assert Report.from_batch(undo).summary["undoes"] == batch.batch_id
    path = report.write(tmp_path / "undo.xlsx")[0]
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Samenvatting", "Verdwijnt", "Verschijnt", "Afgewezen"]
    summary = {row[0].value: row[1].value for row in workbook["Samenvatting"].iter_rows(min_row=2)}
    assert (summary["kind"], summary["undoes batch"]) == ("undo", batch.batch_id)
    eans = [row[0].value for row in workbook["Verdwijnt"].iter_rows(min_row=2)]
    assert eans == sorted(undo.newly_hidden["ean"])
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)


# -- the law: apply, then undo, and the shop is as it was -------------------------------------

_TEMPLATE: dict[str, Path] = {}


def sample_copy() -> Store:
    """A fresh copy of a database holding the sample catalog (made once)."""
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="undo-template-"))
        report = load_catalog(SAMPLE / "catalogus.xlsx", db=Store(folder / "sample.duckdb"))
        assert report.status == "done"
        _TEMPLATE["path"] = folder / "sample.duckdb"
        _TEMPLATE["products"] = Store(_TEMPLATE["path"]).read_products()
    folder = Path(tempfile.mkdtemp(prefix="undo-"))
    return Store(shutil.copy(_TEMPLATE["path"], folder / "db.duckdb"), wait=5)


def template_products() -> pd.DataFrame:
    if "products" not in _TEMPLATE:
        sample_copy()
    return _TEMPLATE["products"]


@st.composite
def batches(draw, parents: list[str], variants: list[str]):
    """A batch sheet's rows: parent EANs with values, plus some variants and unknown EANs."""
    rows = draw(
        st.lists(
            st.tuples(
                st.one_of(
                    st.sampled_from(parents),
                    st.sampled_from(variants),
                    st.just("8712345678906"),  # valid, not in the catalog
                ),
                st.sampled_from(["ja", "nee", "1", "0", "misschien"]),
            ),
            min_size=1,
            max_size=25,
        )
    )
    return rows


def _eans():
    products = template_products()
    parents = products.loc[products["parent_key"].isna(), "ean"].tolist()
    variants = products.loc[products["parent_key"].notna(), "ean"].tolist()
    return parents, variants


PARENTS, VARIANTS = _eans()
LAW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@LAW
@given(rows=batches(PARENTS, VARIANTS), shop=st.booleans())
def test_apply_then_undo_gives_back_the_catalog(rows, shop):
    store = sample_copy()
    if shop:
        set_shop_setting(True, db=store)
    before = state(store)
    batch = apply_batch(sheet(*rows), db=store)
    undo = undo_batch(batch.batch_id, db=store)
    after = state(store)
    assert after[0].equals(before[0]) and after[1:] == before[1:]
    assert undo.summary()["applied"] == batch.summary()["applied"]
    assert undo.summary()["rejected"] == 0
    shutil.rmtree(store.path.parent, ignore_errors=True)


@LAW
@given(first=batches(PARENTS, VARIANTS), between=batches(PARENTS, VARIANTS))
def test_products_changed_in_between_are_kept_and_reported(first, between):
    store = sample_copy()
    original = store.read_products().set_index("ean")["backorder_allowed"]
    one = apply_batch(sheet(*first), db=store)
    two = apply_batch(sheet(*between), db=store)
    after_two = store.read_products().set_index("ean")["backorder_allowed"]
    undo = undo_batch(one.batch_id, db=store)
    now = store.read_products().set_index("ean")["backorder_allowed"]

    touched_one = set(one.rows.loc[one.rows["status"] == "applied", "ean"])
    touched_two = set(two.rows.loc[two.rows["status"] == "applied", "ean"])
    kept = touched_one & touched_two
    assert set(undo.rows.loc[undo.rows["reason"] == "changed_since", "ean"]) == kept
    assert set(undo.rows.loc[undo.rows["status"] == "applied", "ean"]) == touched_one - kept
    for ean in now.index:
        if ean in touched_one - kept:
            assert now[ean] == original[ean], ean  # restored
        else:
            assert now[ean] == after_two[ean], ean  # left as the second batch left it
    shutil.rmtree(store.path.parent, ignore_errors=True)


# -- the command line -----------------------------------------------------------------------


def invoke(*args, db, expect=0):
    result = CliRunner().invoke(cli, ["--db", str(db), *map(str, args)])
    assert result.exit_code == expect, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_cli_batch_undo(tiny):
    batch = apply_batch(sheet((KAARS, "ja"), (TRUI, "nee")), db=tiny)
    shown = invoke("batch", "undo", batch.batch_id, "--preview", db=tiny.path)
    assert f"Preview of undo of batch {batch.batch_id}: would be applied." in shown.stdout
    assert setting(tiny, KAARS) is True

    data = json.loads(
        invoke(
            "batch", "undo", batch.batch_id, "--reference", "terug", "--json", db=tiny.path
        ).stdout
    )
    assert data["batch"]["undoes"] == batch.batch_id and data["batch"]["reference"] == "terug"
    assert data["summary"] == {"rows": 2, "applied": 2, "unchanged": 0, "rejected": 0}
    assert setting(tiny, KAARS) is False

    shown = invoke("batch", "undo", batch.batch_id, db=tiny.path)
    assert "changed_since" in shown.stdout and "was undone before" in shown.stdout
    history = invoke("history", db=tiny.path).stdout
    assert history.count("undo") >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch", "undo", "1"], "catalog load"),
        (["batch", "undo", "99"], "no batch 99"),
        (["batch", "undo", "x"], "is not a valid integer"),
    ],
)
def test_cli_batch_undo_errors(tiny, args, message):
    result = invoke(*args, db=tiny.path, expect=2)
    assert message in result.stderr and result.stdout == ""
