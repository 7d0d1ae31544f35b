"""The notebooks in notebooks/, executed top to bottom with a kernel of this environment.

Each runs against a temporary copy of the sample data: ``BACKORDER_OPS_DB`` points at
a database in tmp_path, and parameters are injected after the cell tagged
``parameters`` (as papermill does), with ``auto_run = True`` so that the notebook
presses its own buttons. The tests then check what the notebook produced: the
store's catalog and history, the mail, the workbook.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from conftest import ROOT, SAMPLE

from backorder_ops import Store, apply_batch, load_catalog

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("ipywidgets")

NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01_export_laden.ipynb", "02_backorder_batch.ipynb", "03_rapport_verdwijnen.ipynb"]
KERNEL = "backorder-ops-tests"
TIMEOUT = 600  # seconds per cell: generous, a slow machine is not a failure


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec that runs this very Python, found first on JUPYTER_PATH.

    A "python3" spec in the user's own Jupyter folder would otherwise win over
    the one that ipykernel installs in this environment.
    """
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "backorder_ops tests", "language": "python"})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(folder))
        yield KERNEL


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel's environment: a database and an outbox in tmp_path, no mail server."""
    db = tmp_path / "notebook.duckdb"
    monkeypatch.setenv("BACKORDER_OPS_DB", str(db))
    monkeypatch.setenv("BACKORDER_OPS_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.delenv("BACKORDER_OPS_SMTP_URL", raising=False)
    return db


def execute(name: str, kernel: str, record_property, **parameters) -> nbformat.NotebookNode:
    """Run a notebook with ``parameters`` injected after its parameters cell."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, injected)
    client = nbclient.NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name=kernel,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 2))
    print(f"\n{name}: executed in {seconds:.1f} s")
    return notebook


def outputs_text(notebook) -> str:
    """Everything the notebook showed, as text (widgets show as their views' ids)."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            data = output.get("data", {})
            parts += [output.get("text", ""), data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), name
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert 'os.environ.get("BACKORDER_OPS_DB", "../data/demo.duckdb")' in tagged[0].source
    assert "auto_run = False" in tagged[0].source
    assert notebook.metadata.kernelspec.name == "python3"


def test_01_loads_the_export(env: Path, kernel: str, record_property):
    notebook = execute(
        "01_export_laden.ipynb",
        kernel,
        record_property,
        export_path=str(SAMPLE / "catalogus.xlsx"),
        auto_run=True,
    )
    store = Store(env)
    products = store.read_products()
    assert len(products) == 338
    history = store.list_batches()
    assert history[["kind", "status", "applied"]].values.tolist() == [["load", "done", 338]]
    assert store.read_shop() is False  # the toggle only previewed
    text = outputs_text(notebook)
    assert "catalogus.xlsx" in text and "338 of 338 rows loaded" in text


def test_02_runs_the_sample_batch(env: Path, kernel: str, record_property, tmp_path: Path):
    store = Store(env)
    load_catalog(SAMPLE / "catalogus.xlsx", db=store)
    before = store.read_products().set_index("ean")["backorder_allowed"]
    notebook = execute(
        "02_backorder_batch.ipynb",
        kernel,
        record_property,
        reference="notebook week 49",
        sheet_path=str(SAMPLE / "batch_week49.xlsx"),
        notify_address="inkoop@webshop.nl",
        auto_run=True,
    )
    batch = store.list_batches().iloc[0]
    assert (batch["kind"], batch["reference"], batch["status"]) == (
        "backorder",
        "notebook week 49",
        "done",
    )
    assert (batch["applied"], batch["unchanged"], batch["rejected"]) == (11, 3, 9)
    assert batch["notify_status"] == "written"
    after = store.read_products().set_index("ean")["backorder_allowed"]
    assert int((after != before.reindex(after.index)).sum()) == 11
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    text = outputs_text(notebook)
    assert "notebook week 49" in text  # the history table of the last cell


def test_02_with_pasted_columns(env: Path, kernel: str, record_property):
    store = Store(env)
    load_catalog(SAMPLE / "catalogus.xlsx", db=store)
    products = store.read_products()
    parents = products[products["parent_key"].isna()].head(3)["ean"].tolist()
    pasted = "".join(f"{ean}\tja\n" for ean in parents)  # no header: EAN, then value
    execute(
        "02_backorder_batch.ipynb",
        kernel,
        record_property,
        reference="geplakt",
        paste_text=pasted,
        auto_run=True,
    )
    batch = store.list_batches().iloc[0]
    assert (batch["reference"], batch["status"], batch["rows_total"]) == ("geplakt", "done", 3)
    settings = store.read_products().set_index("ean")["backorder_allowed"]
    assert settings[parents].all()


def test_03_writes_the_workbook(env: Path, kernel: str, record_property, tmp_path: Path):
    store = Store(env)
    load_catalog(SAMPLE / "catalogus.xlsx", db=store)
    result = apply_batch(SAMPLE / "batch_week49.xlsx", db=store, reference="week 49")
    out_dir = tmp_path / "rapporten"
    notebook = execute(
        "03_rapport_verdwijnen.ipynb",
        kernel,
        record_property,
        out_dir=str(out_dir),
        auto_run=True,
    )
    path = out_dir / f"rapport-batch-{result.batch_id}.xlsx"
    assert path.exists()
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Samenvatting", "Verdwijnt", "Verschijnt", "Afgewezen"]
    summary = dict(workbook["Samenvatting"].iter_rows(min_row=2, values_only=True))
    assert summary["Referentie"] == "week 49"
    gone = [row[0] for row in workbook["Verdwijnt"].iter_rows(min_row=2, values_only=True)]
    assert sorted(gone) == sorted(result.newly_hidden["ean"])
    assert workbook["Afgewezen"].max_row == 1 + 9
    assert path.name in outputs_text(notebook)  # the FileLink
