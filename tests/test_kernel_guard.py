"""Lost kernel replies (issue 19): the nbclient fix holds, and a hang fails fast with a diagnosis.

Real kernels, small notebooks: about 40 s in all.
"""

import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import nbtools

# A slider redraw as in the lessons (cvlib.widgets, the detection threshold slider): the cell
# clears an Output widget and draws into it, so nbclient answers each captured output with a
# comm_msg on the shell channel while it waits there for the cell's reply.
SLIDER = (
    "import ipywidgets as widgets, matplotlib.pyplot as plt, numpy as np\n"
    "from IPython.display import clear_output, display\n"
    "sl = widgets.FloatSlider(0.5, min=0, max=1)\nout = widgets.Output()\n"
    "def redraw(_=None):\n    with out:\n        clear_output(wait=True)\n"
    "        fig, ax = plt.subplots(figsize=(2, 2)); ax.imshow(np.eye(8) > sl.value); plt.show()\n"
    "        print(f'threshold {sl.value:.2f}')\n"
    "sl.observe(redraw, names='value')\nfor v in (0.2, 0.4, 0.6, 0.8):\n    sl.value = v\n"
    "display(widgets.VBox([sl, out]))\n"
)


@pytest.fixture()
def slider_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("print('start')"), nbformat.v4.new_code_cell(SLIDER)]
    path = tmp_path / "slider.ipynb"
    nbformat.write(nb, path)
    return path


def test_stock_nbclient_output_widget_loses_the_reply(slider_notebook):
    """The bug, reproduced: with nbclient's own widget mimic and a client slowed as on a busy
    machine, the reply sits unread in the client's shell socket while the kernel is idle."""
    with pytest.raises(nbtools.KernelIdleNoReply) as err:
        nbtools.execute(slider_notebook, timeout=60, stock_output_widget=True, slow_client_ms=20, lost_reply_grace=3)
    d = err.value.diagnosis
    assert d["kind"] == "reply-unread" and d["reply_in_socket"] and d["iopub_state"] == "idle"
    assert d["cell_index"] == 1
    assert "kernel idle, no reply" in str(err.value)


def test_fixed_output_widget_gets_every_reply(slider_notebook):
    """The fix: the same run with the widget mimic sending through the asyncio socket completes."""
    start = time.monotonic()
    nb = nbtools.execute(slider_notebook, timeout=60, slow_client_ms=20, lost_reply_grace=3)
    assert time.monotonic() - start < 40
    assert [c.execution_count for c in nb.cells] == [1, 2]
    assert nb.cells[1].outputs, "the slider cell stored its widget output"


@pytest.fixture()
def nbval_kernel(monkeypatch):
    from nbval.kernel import RunningKernel

    nbtools.install_nbval_guard()  # idempotent (the repository conftest installed it already)
    monkeypatch.setenv("CVLIB_NBVAL_IDLE_S", "4")
    kernel = RunningKernel("python3")
    yield kernel
    if kernel.is_alive():
        kernel.stop()


def test_nbval_wait_fails_fast_on_an_idle_kernel_without_reply(nbval_kernel):
    """A request the kernel never saw: the wait ends after ~4 idle seconds, not the 300 s timeout."""
    start = time.monotonic()
    with pytest.raises(nbtools.KernelIdleNoReply) as err:
        nbval_kernel.await_reply("a-request-the-kernel-never-received", timeout=300)
    assert time.monotonic() - start < 20
    assert err.value.diagnosis["kind"] == "request-not-read"
    assert "kernel idle, no reply" in str(err.value)
    assert not nbval_kernel.is_alive(), "the hung kernel is stopped so later cells fail at once"


def test_nbval_wait_keeps_waiting_for_a_busy_kernel_and_loses_no_output(nbval_kernel):
    """A cell computing longer than the idle limit is not a hang; IOPub drained meanwhile is served in order."""
    code = "import time\nprint('begin')\nt = time.time()\nwhile time.time() - t < 7:\n    pass\nprint('end')"
    msg_id = nbval_kernel.execute_cell_input(code)
    nbval_kernel.await_reply(msg_id, timeout=60)
    texts = []
    while True:
        msg = nbval_kernel.get_message("iopub", timeout=5)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            texts.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert "".join(texts) == "begin\nend\n"


def test_nbval_wait_still_honours_its_timeout(nbval_kernel):
    """A busy cell longer than the cell timeout raises queue.Empty, as nbval expects."""
    from queue import Empty

    msg_id = nbval_kernel.execute_cell_input("import time\nt = time.time()\nwhile time.time() - t < 8:\n    pass")
    start = time.monotonic()
    with pytest.raises(Empty):
        nbval_kernel.await_reply(msg_id, timeout=3)
    assert time.monotonic() - start < 6
