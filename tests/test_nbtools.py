"""scripts/nbtools.py: what the stored notebooks look like to a reader without a kernel."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import nbtools


def bar_state(left: str, value: float, total: float, right: str, style: str = "") -> dict:
    """Widget state of one tqdm.notebook bar, as nbclient stores it (model ids box, l, p, r)."""
    return {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_l", "IPY_MODEL_p", "IPY_MODEL_r"]}},
        "l": {"model_name": "HTMLModel", "state": {"value": left}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": value, "max": total, "bar_style": style}},
        "r": {"model_name": "HTMLModel", "state": {"value": right}},
    }


def test_a_finished_bar_is_stored_at_100_percent_with_its_timing():
    states = bar_state("epochs:\u2007100%", 3, 3, "\u20073/3\u2007[00:00&lt;00:00,\u200720.59it/s]")
    assert (
        nbtools.progress_text(states, "box")
        == "epochs: 100%|\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588| 3/3 [00:00<00:00, 20.59it/s]"
    )


def test_a_bar_closed_with_stale_text_shows_its_real_count():
    states = bar_state("epoch\u20071:\u2007\u2007\u20070%", 4, 4, "\u20070/4\u2007[00:00&lt;?,\u2007?it/s]")
    assert nbtools.progress_text(states, "box") == "epoch 1: 100%|" + "\u2588" * 10 + "| 4/4 [final state]"
    half = bar_state("run:\u200750%", 5, 10, "\u20075/10\u2007[00:01&lt;00:01]", style="danger")
    assert nbtools.progress_text(half, "box") == "run:  50%|" + "\u2588" * 5 + " " * 5 + "| 5/10 [00:01<00:01]"


def test_other_widgets_are_left_alone():
    states = bar_state("x", 1, 1, "1/1 []")
    states["box"]["model_name"] = "VBoxModel"
    assert nbtools.progress_text(states, "box") is None
    assert nbtools.progress_text({}, "missing") is None


def test_strip_volatile_rewrites_bars_drops_state_and_sets_the_installed_kernelspec():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    view = {"version_major": 2, "version_minor": 0, "model_id": "box"}
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/plain": "  0%|   | 0/3", nbtools.WIDGET_VIEW: view})
    ]
    cell.metadata["execution"] = {"iopub.status.busy": "now"}
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["widgets"] = {
        nbtools.WIDGET_STATE: {"state": bar_state("a:\u2007100%", 3, 3, "\u20073/3\u2007[00:01]")}
    }
    nbtools.strip_volatile(nb)
    assert cell.outputs[0]["data"]["text/plain"] == "a: 100%|" + "\u2588" * 10 + "| 3/3 [00:01]"
    assert "widgets" not in nb.metadata and "execution" not in cell.metadata
    assert nb.metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
