"""Every lesson has current stored outputs and follows the lesson contract (CONTRIBUTING.md).

nbval (``make test``) re-runs each notebook and compares with the stored outputs;
this test catches what nbval cannot: outputs that were never stored, cells run
out of order, code edited after the outputs were stored, a missing Colab badge,
parameters cell or key check.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from nbtools import HASH_KEY, REPO_URL, source_hash

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REGENERATE = "regenerate them with `make outputs NB=notebooks/{}`"


def test_there_are_lessons():
    assert NOTEBOOKS, "no notebooks/NN_topic.ipynb found"


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def lesson(request):
    return request.param, nbformat.read(request.param, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def test_outputs_stored_in_order_without_errors(lesson):
    path, nb = lesson
    cells = code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert None not in counts, f"{path.name}: some code cells have no stored output; " + REGENERATE.format(path.name)
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: cells were not run once top to bottom; " + REGENERATE.format(path.name)
    )
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: a stored output is an error ({errors[0].ename})"


def test_outputs_are_not_stale(lesson):
    path, nb = lesson
    stored = nb.metadata.get(HASH_KEY, {}).get("source_hash")
    assert stored == source_hash(nb), (
        f"{path.name}: its code changed after the outputs were stored; " + REGENERATE.format(path.name)
    )


def test_lesson_contract(lesson):
    path, nb = lesson
    text = "\n".join(c.source for c in nb.cells)
    first = nb.cells[0].source
    assert "colab.research.google.com/github/" in first and path.name in first, "Open-in-Colab badge for this file"
    assert re.search(r"run time", first, re.IGNORECASE), "the first cell states the estimated run time"
    assert any("google.colab" in c.source for c in code_cells(nb)[:2]), "Colab setup cell"
    assert any("parameters" in c.metadata.get("tags", []) for c in code_cells(nb)), "a cell tagged `parameters`"
    assert "lesson_header(" in text
    assert len(re.findall(r"key=True", text)) == 1, "exactly one check(..., key=True): the lesson's key metric"
    last = "\n".join(c.source for c in nb.cells[-3:] if c.cell_type == "markdown").lower()
    assert "exercise" in text.lower() and "further reading" in last and "summary" in text.lower()
    assert path.stat().st_size <= 2_000_000, (
        f"{path.name} is {path.stat().st_size // 1000} kB (limit 2 MB): shrink figures"
    )


def test_repository_url_lives_in_one_place(lesson):
    """Badge and Colab setup cell name nbtools.REPO_URL (change it with scripts/set_repo_url.py)."""
    path, nb = lesson
    slug = REPO_URL.removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}" in nb.cells[0].source
    setup = next(c.source for c in code_cells(nb) if "google.colab" in c.source)
    assert f"git+{REPO_URL}.git" in setup, f"{path.name}: the Colab setup cell must install {REPO_URL}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_static_view_has_no_progress_bar_at_zero_and_a_figure_beside_each_widget(path):
    """What GitHub / nbviewer show: bars at their final state, and a static copy next to each widget."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(code_cells(nb)):
        outputs = cell.get("outputs", [])
        for out in outputs:
            text = out.get("data", {}).get("text/plain", "")
            assert not re.match(r"^.*\s0%\|", text), (
                f"code cell {i}: a progress bar stored at 0%: regenerate with make outputs"
            )
        widgets = [
            o
            for o in outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            and "%|" not in o["data"].get("text/plain", "")
        ]
        if widgets:
            assert any({"image/png", "image/jpeg"} & set(o.get("data", {})) for o in outputs), (
                f"code cell {i}: a widget without a static figure"
            )
    assert nb.metadata.get("kernelspec", {}).get("display_name") == "Python 3 (ipykernel)", "the installed kernelspec"
