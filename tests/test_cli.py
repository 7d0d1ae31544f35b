"""End to end through the command line: ``python -m backorder_ops`` in a subprocess.

A few tests use click's CliRunner instead, for speed. Every subprocess run is
checked for a traceback, whatever its exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import (
    JAS,
    JAS_M,
    JAS_S,
    KAARS,
    MOK,
    SAMPLE,
    SOK,
    TINY_ROWS,
    TRUI,
    TRUI_M,
    TRUI_S,
    UPC,
)

from backorder_ops import Store
from backorder_ops.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BATCH_KEYS = {"batch", "summary", "rows", "visibility", "warnings"}
ROW_KEYS = {"row", "ean", "value", "status", "reason", "message"}
REASONS = {
    "missing_ean", "invalid_ean", "unknown_ean", "variant_not_allowed", "missing_value",
    "invalid_value", "conflicting_duplicate",
}  # fmt: skip

# A batch for the tiny catalog; rows as the user sees them (header = row 1).
TINY_BATCH = [
    ("EAN", "Backorder toegestaan?"),
    (KAARS, "ja"),  # 2 applied: KAARS reappears
    (JAS, "ja"),  # 3 applied: variant JAS_S reappears
    (TRUI, "nee"),  # 4 applied: TRUI and both its variants disappear
    (MOK, "nee"),  # 5 unchanged
    (JAS_S, "ja"),  # 6 rejected: a variant
    ("12345", "ja"),  # 7 rejected: invalid EAN
    (UPC.lstrip("0"), "1"),  # 8 applied: the UPC whose zero Excel dropped
]
TINY_HIDDEN = sorted([TRUI, TRUI_S, TRUI_M])
TINY_SHOWN = sorted([KAARS, JAS_S, UPC])


def run(*args, db=None, expect=0, stdin=None, env=None, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m backorder_ops [--db DB] ARGS`` and check its exit code."""
    command = [sys.executable, "-m", "backorder_ops"]
    if db is not None:
        command += ["--db", str(db)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BACKORDER_OPS_")}
    environment.update(env or {})
    result = subprocess.run(
        command + [str(a) for a in args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.returncode == expect, (result.returncode, result.stdout, result.stderr)
    return result


def run_json(*args, **kwargs):
    return json.loads(run(*args, "--json", **kwargs).stdout)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single line a structure error prints on standard error."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    return lines[0]


def write_tsv(path: Path, rows) -> Path:
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    return path


@pytest.fixture
def db(tmp_path, tiny_catalog_csv) -> Path:
    """A database file holding the tiny catalog, loaded through the command line."""
    path = tmp_path / "cli.duckdb"
    result = run("load", tiny_catalog_csv, db=path)
    assert "Loaded 10 product(s)" in result.stdout
    return path


def history_ids(db: Path) -> list[int]:
    return [b["id"] for b in run_json("history", db=db)]


def check_batch_json(payload: dict) -> None:
    """RULES section 5: keys and types of the batch object."""
    assert set(payload) == BATCH_KEYS
    assert set(payload["batch"]) == {"id", "reference", "status"}
    assert payload["batch"]["status"] in {"done", "failed", "refused", "queued", "running"}
    assert set(payload["summary"]) == {"rows", "applied", "unchanged", "rejected"}
    assert all(type(v) is int for v in payload["summary"].values())
    s = payload["summary"]
    assert s["rows"] == s["applied"] + s["unchanged"] + s["rejected"] == len(payload["rows"])
    for row in payload["rows"]:
        assert set(row) == ROW_KEYS
        assert type(row["row"]) is int
        assert isinstance(row["ean"], str) or row["ean"] is None
        assert row["value"] in (True, False, None)
        assert row["status"] in {"applied", "unchanged", "rejected"}
        assert (row["reason"] is not None) == (row["status"] == "rejected")
        assert row["reason"] is None or row["reason"] in REASONS
        assert isinstance(row["message"], str) and row["message"]
    assert set(payload["visibility"]) == {"newly_hidden", "newly_visible"}
    for eans in payload["visibility"].values():
        assert eans == sorted(eans)
        assert all(isinstance(e, str) for e in eans)
    assert all(isinstance(w, str) for w in payload["warnings"])


# -- load and visible ------------------------------------------------------------------


def test_visible_json(db):
    payload = run_json("visible", db=db)
    assert payload == {
        "sell_when_out_of_stock": False,
        "visible": sorted([JAS, JAS_M, TRUI, TRUI_S, TRUI_M, MOK, SOK]),
        "hidden": sorted([JAS_S, KAARS, UPC]),
    }
    assert list(payload) == ["sell_when_out_of_stock", "visible", "hidden"]


def test_visible_text_groups_hidden_products(db):
    out = run("visible", db=db).stdout
    assert "7 of 10 product(s) visible, 3 hidden" in out
    assert ": off." in out
    for ean in (JAS_S, KAARS, UPC):
        assert ean in out


def test_load_json_report(tmp_path, tiny_catalog_csv):
    payload = run_json("load", tiny_catalog_csv, db=tmp_path / "x.duckdb")
    assert payload["status"] == "done"
    assert payload["mode"] == "replace"
    assert payload["summary"] == {"rows": 10, "loaded": 10, "rejected": 0, "visible": 7,
                                  "hidden": 3}  # fmt: skip
    assert payload["issues"] == []


def test_load_merge(db, tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text(f"EAN;Voorraad;Parent EAN\n{MOK};0;\n{UPC};5;\n")
    out = run("load", extra, "--merge", db=db).stdout
    assert "merged" in out
    products = Store(db).read_products().set_index("ean")
    assert len(products) == len(TINY_ROWS)
    assert (products.loc[MOK, "stock"], products.loc[UPC, "stock"]) == (0, 5)


def test_load_with_invalid_rows_refuses_with_exit_2(db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"EAN;Voorraad\n12345678905;1\n{MOK};x\n{KAARS};4\n")
    before = Store(db).read_products()
    result = run("load", bad, db=db, expect=2)
    # The row-by-row report, and nothing changed.
    assert "Row 2, column 'EAN'" in result.stdout
    assert "invalid_ean" in result.stdout and "invalid_stock" in result.stdout
    assert "--skip-invalid" in result.stdout
    assert Store(db).read_products().equals(before)
    payload = json.loads(run("load", bad, "--json", db=db, expect=2).stdout)
    assert payload["status"] == "refused"
    assert [[i["row"], i["code"]] for i in payload["issues"]] == [
        [2, "invalid_ean"], [3, "invalid_stock"],
    ]  # fmt: skip
    # Like every exit 2 (RULES section 5): one clear message on standard error.
    assert "bad.csv" in one_error_line(result)


def test_load_skip_invalid(db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"EAN;Voorraad\n12345678905;1\n{MOK};x\n{KAARS};4\n")
    result = run("load", bad, "--skip-invalid", db=db)
    assert "Loaded 1 product(s)" in result.stdout
    assert "Skipped rows (2)" in result.stdout
    assert Store(db).read_products()["ean"].tolist() == [KAARS]


# -- shop ------------------------------------------------------------------------------


def test_shop_show_and_set(db):
    assert "niet op voorraad zijn: off" in run("shop", db=db).stdout
    assert run_json("shop", db=db) == {"sell_when_out_of_stock": False}

    payload = run_json("shop", "--sell-when-out-of-stock", "on", "--reference", "zomer", db=db)
    assert set(payload["batch"]) == {"id", "reference", "status"}
    assert type(payload["batch"]["id"]) is int
    assert payload["batch"]["reference"] == "zomer"
    assert payload["batch"]["status"] == "done"
    assert payload["sell_when_out_of_stock"] is True
    assert payload["visibility"] == {"newly_hidden": [], "newly_visible": TINY_SHOWN}

    assert run_json("shop", db=db) == {"sell_when_out_of_stock": True}
    assert run_json("visible", db=db)["hidden"] == []

    # The change is in the history, with what it made reappear.
    batches = run_json("history", db=db)
    assert batches[0]["id"] == payload["batch"]["id"]
    assert (batches[0]["kind"], batches[0]["reference"]) == ("shop", "zomer")
    assert batches[0]["newly_visible"] == 3
    shown = run_json("history", payload["batch"]["id"], db=db)
    assert shown["batch"]["kind"] == "shop"
    assert shown["visibility"] == {"newly_hidden": [], "newly_visible": TINY_SHOWN}
    assert "shop" in run("history", db=db).stdout

    out = run("shop", "--sell-when-out-of-stock", "off", db=db).stdout
    assert "Shop setting is now off (was on)" in out
    assert "Disappear from the shop (3)" in out
    for ean in TINY_SHOWN:
        assert ean in out


def test_shop_bad_value_is_a_usage_error(db):
    result = run("shop", "--sell-when-out-of-stock", "misschien", db=db, expect=2)
    assert "misschien" in result.stderr
    assert run_json("shop", db=db) == {"sell_when_out_of_stock": False}


# -- batch preview and apply -----------------------------------------------------------


def test_batch_preview_json_writes_nothing(db, tmp_path):
    sheet = write_tsv(tmp_path / "week.tsv", TINY_BATCH)
    ids, before = history_ids(db), Store(db).read_products()
    payload = run_json("batch", "preview", sheet, "--reference", "week 1", db=db)
    check_batch_json(payload)
    assert payload["batch"] == {"id": None, "reference": "week 1", "status": "done"}
    assert payload["summary"] == {"rows": 7, "applied": 4, "unchanged": 1, "rejected": 2}
    assert [[r["row"], r["status"], r["reason"]] for r in payload["rows"]] == [
        [2, "applied", None],
        [3, "applied", None],
        [4, "applied", None],
        [5, "unchanged", None],
        [6, "rejected", "variant_not_allowed"],
        [7, "rejected", "invalid_ean"],
        [8, "applied", None],
    ]
    assert [r["value"] for r in payload["rows"]] == [True, True, False, False, True, True, True]
    assert payload["rows"][6]["ean"] == UPC  # row 8: the catalog's EAN, zero restored
    assert payload["rows"][5]["ean"] == "12345"  # row 7: the cell's text, nothing matched
    assert payload["visibility"] == {"newly_hidden": TINY_HIDDEN, "newly_visible": TINY_SHOWN}
    assert history_ids(db) == ids
    assert Store(db).read_products().equals(before)


def test_batch_apply_json(db, tmp_path):
    sheet = write_tsv(tmp_path / "week.tsv", TINY_BATCH)
    preview = run_json("batch", "preview", sheet, db=db)
    payload = run_json("batch", "apply", sheet, "--reference", "week 1", db=db)
    check_batch_json(payload)
    assert type(payload["batch"]["id"]) is int
    assert payload["batch"]["reference"] == "week 1"
    assert payload["batch"]["status"] == "done"
    # Preview and apply agree on everything but the id.
    assert {**payload, "batch": None} == {**preview, "batch": None}
    visible = run_json("visible", db=db)
    assert set(TINY_HIDDEN) <= set(visible["hidden"])
    assert set(TINY_SHOWN) <= set(visible["visible"])
    # In the history, most recent first, with its rows and what it flipped.
    batches = run_json("history", db=db)
    assert batches[0]["id"] == payload["batch"]["id"]
    assert (batches[0]["kind"], batches[0]["reference"]) == ("backorder", "week 1")
    assert (batches[0]["applied"], batches[0]["rejected"]) == (4, 2)
    detail = run_json("history", payload["batch"]["id"], db=db)
    assert detail["batch"]["id"] == payload["batch"]["id"]
    assert [r["row"] for r in detail["rows"]] == [2, 3, 4, 5, 6, 7, 8]
    assert detail["visibility"] == payload["visibility"]
    # Applying again changes nothing more.
    again = run_json("batch", "apply", sheet, db=db)
    assert again["summary"] == {"rows": 7, "applied": 0, "unchanged": 5, "rejected": 2}
    assert again["visibility"] == {"newly_hidden": [], "newly_visible": []}
    assert again["batch"]["id"] > payload["batch"]["id"]


def test_history_of_a_batch_as_text(db, tmp_path):
    sheet = write_tsv(tmp_path / "week.tsv", TINY_BATCH)
    batch_id = run_json("batch", "apply", sheet, "--reference", "week 1", db=db)["batch"]["id"]
    out = run("history", batch_id, db=db).stdout
    assert "week 1" in out and "variant_not_allowed" in out
    assert "Disappear from the shop (3)" in out
    assert "Reappear in the shop (3)" in out
    for ean in TINY_HIDDEN + TINY_SHOWN:
        assert ean in out
    listing = run("history", db=db).stdout
    assert "week 1" in listing and "backorder" in listing and "load" in listing


def test_batch_text_output(db, tmp_path):
    sheet = write_tsv(tmp_path / "week.tsv", TINY_BATCH)
    out = run("batch", "preview", sheet, db=db).stdout
    assert "7 row(s): 4 applied, 1 unchanged, 2 rejected" in out
    assert "Rejected rows (2)" in out
    assert f"Use the parent's EAN {JAS}" in out
    assert "Disappear from the shop (3)" in out
    assert "Reappear in the shop (3)" in out


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_pasted_text_from_stdin(db, newline):
    pasted = newline.join("\t".join(row) for row in TINY_BATCH) + newline
    payload = run_json("batch", "preview", "-", db=db, stdin=pasted)
    check_batch_json(payload)
    assert payload["summary"] == {"rows": 7, "applied": 4, "unchanged": 1, "rejected": 2}
    assert payload["visibility"] == {"newly_hidden": TINY_HIDDEN, "newly_visible": TINY_SHOWN}


def test_pasted_text_without_header_numbers_rows_by_line(db):
    pasted = f"{KAARS}\tja\n{MOK}\tnee\n\n{TRUI}\tmisschien\n"
    payload = run_json("batch", "apply", "-", "--reference", "plakken", db=db, stdin=pasted)
    check_batch_json(payload)
    assert [[r["row"], r["status"], r["reason"]] for r in payload["rows"]] == [
        [1, "applied", None],
        [2, "unchanged", None],
        [4, "rejected", "invalid_value"],
    ]
    assert type(payload["batch"]["id"]) is int
    assert run_json("visible", db=db)["hidden"] == sorted([JAS_S, UPC])


def test_strict_refuses_with_exit_1_and_applies_nothing(db, tmp_path):
    sheet = write_tsv(tmp_path / "week.tsv", TINY_BATCH)
    before = Store(db).read_products()
    preview = json.loads(run("batch", "preview", sheet, "--strict", "--json", db=db,
                             expect=1).stdout)  # fmt: skip
    assert preview["batch"]["status"] == "refused"
    assert preview["batch"]["id"] is None
    assert preview["visibility"] == {"newly_hidden": [], "newly_visible": []}
    result = run("batch", "apply", sheet, "--strict", "--json", db=db, expect=1)
    payload = json.loads(result.stdout)
    check_batch_json(payload)
    assert payload["batch"]["status"] == "refused"
    assert payload["summary"]["rejected"] == 2
    assert payload["visibility"] == {"newly_hidden": [], "newly_visible": []}
    assert any("Strict" in w or "strict" in w for w in payload["warnings"])
    assert Store(db).read_products().equals(before)
    assert "refused" in run("batch", "apply", sheet, "--strict", db=db, expect=1).stdout


def test_strict_without_rejected_rows_applies(db, tmp_path):
    sheet = write_tsv(tmp_path / "ok.tsv", [TINY_BATCH[0], (KAARS, "ja")])
    payload = run_json("batch", "apply", sheet, "--strict", db=db)
    assert payload["batch"]["status"] == "done"
    assert payload["visibility"]["newly_visible"] == [KAARS]


# -- exit 2: bad usage and structure errors --------------------------------------------


def corrupt_xlsx(tmp_path: Path) -> Path:
    path = tmp_path / "kapot.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not a workbook")
    return path


STRUCTURE_ERRORS = [
    pytest.param(lambda t: ["load", t / "nope.xlsx"], "nope.xlsx", id="load missing file"),
    pytest.param(
        lambda t: ["batch", "preview", t / "nope.xlsx"], "nope.xlsx", id="batch missing file"
    ),
    pytest.param(
        lambda t: ["batch", "apply", SAMPLE / "batch_week49.xlsx", "--sheet", "Nope"],
        "Nope",
        id="batch unknown sheet",
    ),
    pytest.param(
        lambda t: ["load", SAMPLE / "catalogus.xlsx", "--sheet", "Nope"],
        "Nope",
        id="load unknown sheet",
    ),
    pytest.param(lambda t: ["load", corrupt_xlsx(t)], "kapot.xlsx", id="load corrupt xlsx"),
    pytest.param(
        lambda t: ["batch", "apply", corrupt_xlsx(t)], "kapot.xlsx", id="batch corrupt xlsx"
    ),
    pytest.param(
        lambda t: ["load", write_tsv(t / "geen_voorraad.csv", [("EAN", "Naam"), (MOK, "Mok")])],
        "Voorraad",
        id="load missing column",
    ),
    pytest.param(
        lambda t: ["batch", "apply", write_tsv(t / "alleen_ean.csv", [("EAN",), (KAARS,)])],
        "Backorder toegestaan",
        id="batch missing column",
    ),
    pytest.param(
        lambda t: ["batch", "apply", write_tsv(t / "c.csv", TINY_BATCH[:2]), "--notify", "nope"],
        "nope",
        id="bad notify address",
    ),
    pytest.param(lambda t: ["history", "999"], "999", id="unknown batch"),
]


@pytest.mark.parametrize(("make_args", "named"), STRUCTURE_ERRORS)
def test_structure_errors_exit_2_with_one_message(db, tmp_path, make_args, named):
    ids = history_ids(db)
    result = run(*make_args(tmp_path), db=db, expect=2)
    assert named in one_error_line(result)
    assert result.stdout == ""
    assert history_ids(db) == ids


def test_empty_stdin_is_a_structure_error(db):
    result = run("batch", "preview", "-", db=db, stdin="", expect=2)
    assert "nothing" in one_error_line(result)


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "random.duckdb"
    path.write_bytes(os.urandom(8192))
    result = run("visible", db=path, expect=2)
    assert str(path) in one_error_line(result)


def test_a_busy_database_exit_2_names_the_holder(db):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import select, sys, duckdb
            con = duckdb.connect(sys.argv[1])
            print("ready", flush=True)
            select.select([sys.stdin], [], [], 60)
            """
        ), str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run("visible", db=db, expect=2, env={"BACKORDER_OPS_LOCK_TIMEOUT": "0.5"})
    finally:
        holder.communicate(timeout=60)
    line = one_error_line(result)
    assert str(holder.pid) in line
    assert "try again when the batch has finished" in line


# -- where the database is -------------------------------------------------------------


def test_env_var_overrides_the_default_path(tmp_path, tiny_catalog_csv):
    env_db = tmp_path / "env" / "shop.duckdb"
    run("load", tiny_catalog_csv, env={"BACKORDER_OPS_DB": str(env_db)}, cwd=tmp_path)
    assert env_db.is_file()
    assert not (tmp_path / "data" / "backorder.duckdb").exists()
    payload = run_json("visible", env={"BACKORDER_OPS_DB": str(env_db)}, cwd=tmp_path)
    assert len(payload["visible"]) == 7
    # --db beats the variable.
    other = tmp_path / "other.duckdb"
    run("shop", "--sell-when-out-of-stock", "on", db=other,
        env={"BACKORDER_OPS_DB": str(env_db)})  # fmt: skip
    assert Store(other).read_shop() is True
    assert Store(env_db).read_shop() is False


def test_default_path_is_data_backorder_duckdb(tmp_path, tiny_catalog_csv):
    run("load", tiny_catalog_csv, cwd=tmp_path)
    assert (tmp_path / "data" / "backorder.duckdb").is_file()
    assert len(run_json("visible", cwd=tmp_path)["hidden"]) == 3


# -- the sample data -------------------------------------------------------------------


def test_sample_flow(tmp_path, sample_batch):
    path = tmp_path / "sample.duckdb"
    out = run("load", SAMPLE / "catalogus.xlsx", db=path).stdout
    assert "Loaded 338 product(s)" in out
    preview = run_json("batch", "preview", sample_batch, db=path)
    payload = run_json("batch", "apply", sample_batch, "--reference", "week 49", db=path)
    check_batch_json(payload)
    assert payload["batch"]["status"] == "done"
    assert payload["summary"] == {"rows": 23, "applied": 11, "unchanged": 3, "rejected": 9}
    assert len(payload["visibility"]["newly_hidden"]) == 21
    assert len(payload["visibility"]["newly_visible"]) == 29
    assert {r["reason"] for r in payload["rows"]} - {None} == REASONS
    assert {**preview, "batch": None} == {**payload, "batch": None}
    # The sheet's "Opmerking" column is named as ignored.
    assert any("Opmerking" in w for w in payload["warnings"])
    batches = run_json("history", db=path)
    assert [b["kind"] for b in batches] == ["backorder", "load"]
    assert (batches[0]["newly_hidden"], batches[0]["newly_visible"]) == (21, 29)
    assert (batches[0]["rows_total"], batches[0]["rejected"]) == (23, 9)


# -- help and docs (as sqlite-utils' tests/test_docs.py) -------------------------------


def commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    """Every command and group under ``group``, with its path of names."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


COMMANDS = list(commands())


def test_the_expected_commands_exist():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"load", "visible", "shop", "batch", "batch preview", "batch apply",
            "history"} <= names  # fmt: skip


def test_module_help():
    out = run("--help").stdout
    assert out.startswith("Usage: ")
    for name in ("load", "visible", "shop", "batch", "history"):
        assert name in out


@pytest.mark.parametrize(
    ("path", "command"), [pytest.param(p, c, id=" ".join(p)) for p, c in COMMANDS]
)
def test_every_command_has_help(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="backorder-ops")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: backorder-ops {' '.join(path)}")
    assert command.help and command.help.strip()


@pytest.mark.parametrize(
    ("path", "command"),
    [pytest.param(p, c, id=" ".join(p)) for p, c in COMMANDS if not isinstance(c, click.Group)],
)
def test_every_command_has_an_example(path, command):
    assert "Example:" in command.help
    example = command.help.split("Example:", 1)[1].strip()
    assert example.startswith(f"backorder-ops {' '.join(path)}")


def test_subcommand_help_through_the_module():
    out = run("batch", "apply", "--help").stdout
    assert "--reference" in out and "--strict" in out and "--json" in out


# -- CliRunner for speed ---------------------------------------------------------------


def test_clirunner_visible_and_shop(tmp_path, tiny_catalog_csv):
    db = str(tmp_path / "runner.duckdb")
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "load", str(tiny_catalog_csv)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--db", db, "visible", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hidden"] == sorted([JAS_S, KAARS, UPC])
    result = runner.invoke(cli, ["--db", db, "shop", "--sell-when-out-of-stock", "on", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["visibility"]["newly_visible"] == TINY_SHOWN


def test_clirunner_structure_error(tmp_path):
    db = str(tmp_path / "runner.duckdb")
    result = CliRunner().invoke(cli, ["--db", db, "load", str(tmp_path / "weg.csv")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: {tmp_path / 'weg.csv'}: file not found."]
