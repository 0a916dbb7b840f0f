"""Colab ships ipywidgets 7.x: every widget the lessons build must work there as with 8.x (issue 11).

The test installs ipywidgets 7.7 into a throw-away folder (pip, from the package registry)
and, in a child process that imports it instead of the course's 8.x:
- builds cvlib's widget helpers (``conv_explorer``, ``threshold_explorer``) for real;
- checks every ``widgets.<Class>(keyword=...)`` call in the lessons and in cvlib: the class
  exists in 7.7 and each keyword is one of its traits.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
IPYWIDGETS_7 = ["ipywidgets==7.7.5", "ipython-genutils==0.2.0"]


def widget_calls() -> list[tuple[str, str, list[str]]]:
    """``(where, class name, keywords)`` for every ``widgets.X(...)`` call in the lessons and cvlib."""
    sources = [(p.name, p.read_text()) for p in sorted((REPO / "cvlib").rglob("*.py"))]
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager().transform_cell  # shell escapes and magics -> plain Python
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        sources += [(path.name, to_python(c.source)) for c in nb.cells if c.cell_type == "code"]
    calls = []
    for where, text in sources:
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "widgets"
            ):
                calls.append((where, node.func.attr, [k.arg for k in node.keywords if k.arg]))
    return calls


CHILD = r"""
import json, sys
import ipywidgets as widgets
assert widgets.__version__.startswith("7."), widgets.__version__
problems = []
for where, name, keywords in json.loads(sys.argv[1]):
    cls = getattr(widgets, name, None)
    if cls is None:
        problems.append(f"{where}: widgets.{name} does not exist in ipywidgets {widgets.__version__}")
        continue
    traits = set(cls.class_trait_names()) if hasattr(cls, "class_trait_names") else set()
    for k in keywords:
        if traits and k not in traits:
            problems.append(f"{where}: widgets.{name} has no {k!r} in ipywidgets {widgets.__version__}")

import torch
from cvlib.widgets import conv_explorer
from cvlib.detection import threshold_explorer
box = conv_explorer(torch.rand(24, 24))
assert isinstance(box, widgets.VBox)
images = [torch.rand(3, 32, 32) for _ in range(2)]
preds = [{"boxes": torch.tensor([[2.0, 2.0, 20.0, 20.0]]), "labels": torch.tensor([1]), "scores": torch.tensor([0.9]),
          "masks": torch.zeros(1, 32, 32, dtype=torch.bool)} for _ in images]
assert isinstance(threshold_explorer(images, preds, ["thing"]), widgets.Widget)
print(json.dumps({"version": widgets.__version__, "problems": problems}))
"""


@pytest.fixture(scope="module")
def ipywidgets7(tmp_path_factory):
    target = tmp_path_factory.mktemp("ipywidgets7")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), *IPYWIDGETS_7]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"could not install {IPYWIDGETS_7} from the package registry: {done.stderr[-800:]}"
    return target


def test_lessons_use_widgets_at_all():
    names = {name for _, name, _ in widget_calls()}
    assert {"Output", "FloatSlider", "Dropdown"} <= names


def test_every_widget_builds_with_ipywidgets_7(ipywidgets7):
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ipywidgets7), str(REPO)]), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(widget_calls())], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"].startswith("7.7")
    assert result["problems"] == []
