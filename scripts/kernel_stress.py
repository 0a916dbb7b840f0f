"""Reproduction harness for notebook runs that hang on a lost kernel reply (issue 19).

    python scripts/kernel_stress.py synthetic --cells 500 --parallel 2
    python scripts/kernel_stress.py lessons notebooks/04_*.ipynb notebooks/07_*.ipynb --repeat 25 --parallel 2

Executes notebooks through nbclient (what ``make outputs`` and ``make bench``
use) with the lessons' own messaging stack. ``synthetic`` builds a notebook of
lesson-like cells (multi-threaded torch compute for seconds, tqdm bars, figures,
ipywidgets with Output, prints from a background thread, display updates);
``lessons`` runs real lessons in the quick profile. ``--parallel 2`` runs two
notebooks at once to load the machine.

Each cell has a short timeout. When it expires the harness tells a hang from
slow work with ``diagnose`` (cvlib-independent, in ``scripts/nbtools.py``):
whether the kernel announced the request (``busy``) and finished it
(``idle``) on IOPub, whether the reply sits unread in the client's shell
socket, and whether the kernel process is using CPU. It prints one line per
run and a summary: cells executed, hangs by kind, configuration (package
versions). The exit code is 1 when any hang was seen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from nbtools import KernelIdleNoReply, execute

STACK = ["ipykernel", "jupyter_client", "pyzmq", "tornado", "nbclient", "nbval", "ipywidgets", "tqdm", "torch"]

# Eleven lesson-like cells, repeated. Each finishes in well under 10 s on 2 busy cores.
SETUP = """\
import threading, time, sys
import numpy as np, torch, matplotlib.pyplot as plt, ipywidgets as widgets
from IPython.display import display, clear_output, update_display
from tqdm.auto import tqdm
torch.manual_seed(0)
"""
CELLS = [
    # multi-threaded compute with a notebook tqdm bar (widget comm messages)
    "x = torch.randn(384, 384)\nfor _ in tqdm(range(40), desc='matmul'):\n    x = torch.tanh(x @ x.T / 384)\n",
    # a burst of stream output
    "for i in range(300):\n    print(f'line {i}', end='\\n' if i % 3 else ' ')\n",
    # a figure
    "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.random.rand(50)); ax.set_title('t'); plt.show()\n",
    # ipywidgets: Output capture, slider, interact
    (
        "out = widgets.Output()\nwith out:\n    print('inside output'); display(np.arange(3))\n"
        "s = widgets.IntSlider(3, 0, 9)\ndisplay(widgets.VBox([s, out]))\n"
        "widgets.interact(lambda k=2: print(k * k), k=(0, 5));\n"
    ),
    # prints from a background thread while the main thread computes
    (
        "def talk():\n    for i in range(50):\n        print('bg', i); time.sleep(0.005)\n"
        "t = threading.Thread(target=talk); t.start()\ny = torch.randn(256, 256)\n"
        "for _ in range(30):\n    y = torch.relu(y @ y / 256)\nt.join()\n"
    ),
    # a text tqdm bar updating at every step, nested
    (
        "from tqdm import tqdm as ttqdm\nfor _ in ttqdm(range(3), file=sys.stdout, mininterval=0):\n"
        "    for _ in ttqdm(range(50), file=sys.stdout, mininterval=0, leave=False):\n        pass\n"
    ),
    # display updates by id
    "h = display('start', display_id=True)\nfor i in range(20):\n    h.update(f'step {i}')\n",
    # a small training loop on two threads
    (
        "torch.set_num_threads(2)\nnet = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.ReLU(), torch.nn.Flatten(), "
        "torch.nn.LazyLinear(10))\nopt = torch.optim.SGD(net.parameters(), lr=0.01)\n"
        "for _ in tqdm(range(15), desc='train', leave=False):\n    loss = net(torch.randn(32, 3, 32, 32)).logsumexp(1).mean()\n"
        "    opt.zero_grad(); loss.backward(); opt.step()\nprint(round(float(loss) * 0, 1))\n"
    ),
    # a short cell
    "print('ok')\n",
    # a slider redraw as in the lessons: clear the Output widget, draw a figure into it
    (
        "sl = widgets.FloatSlider(0.5, min=0, max=1)\nout2 = widgets.Output()\n"
        "def redraw(_=None):\n    with out2:\n        clear_output(wait=True)\n"
        "        fig, ax = plt.subplots(figsize=(2, 2)); ax.imshow(np.random.rand(8, 8) > sl.value); plt.show()\n"
        "        print(f'threshold {sl.value:.2f}')\n"
        "sl.observe(redraw, names='value')\nfor v in (0.2, 0.4, 0.6, 0.8):\n    sl.value = v\n"
        "display(widgets.VBox([sl, out2]))\n"
    ),
    # clear_output and an image grid
    (
        "clear_output(wait=True)\nfig, axs = plt.subplots(1, 4, figsize=(4, 1))\n"
        "[a.imshow(np.random.rand(8, 8)) or a.set_axis_off() for a in axs]\nplt.show()\n"
    ),
]


def synthetic_notebook(n_cells: int) -> nbformat.NotebookNode:
    """A notebook of ``n_cells`` lesson-like code cells (plus one setup cell)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [
        nbformat.v4.new_code_cell(CELLS[i % len(CELLS)]) for i in range(n_cells)
    ]
    return nb


def run_one(path: Path, timeout: int, stock_output_widget: bool = False, slow_client_ms: float = 0.0) -> dict:
    """Execute one notebook (in this process); return cells run, hang (if any) and wall time."""
    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    start = time.perf_counter()
    row = {"notebook": path.name, "cells": n_code, "hang": None, "error": None}
    try:
        execute(path, timeout=timeout, nb=nb, stock_output_widget=stock_output_widget, slow_client_ms=slow_client_ms)
    except KernelIdleNoReply as err:
        row["hang"] = err.diagnosis
        row["cells"] = err.diagnosis["cell_index"]
    except Exception as err:  # noqa: BLE001  (report, go on with the next run)
        row["error"] = f"{type(err).__name__}: {str(err)[-300:]}"
        row["cells"] = sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count"))
    row["wall_s"] = round(time.perf_counter() - start, 1)
    return row


def versions() -> dict:
    out = {}
    for name in STACK:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["synthetic", "lessons", "_one"])
    ap.add_argument("paths", nargs="*", help="notebooks (lessons mode)")
    ap.add_argument("--cells", type=int, default=200, help="synthetic: code cells per notebook")
    ap.add_argument("--runs", type=int, default=1, help="synthetic: notebooks to run")
    ap.add_argument("--repeat", type=int, default=1, help="lessons: runs of each notebook")
    ap.add_argument("--parallel", type=int, default=1, help="notebooks executing at once")
    ap.add_argument("--timeout", type=int, default=None, help="per-cell timeout, s (synthetic 60, lessons 300)")
    ap.add_argument("--json", type=Path, help="append one JSON line per run to this file")
    ap.add_argument(
        "--stock-output-widget",
        action="store_true",
        help="use nbclient's own Output-widget mimic (the bug) instead of the fixed one",
    )
    ap.add_argument(
        "--slow-client-ms",
        type=float,
        default=0.0,
        help="the client spends this long on each output captured by an Output widget "
        "(a client starved of CPU on a loaded machine)",
    )
    args = ap.parse_args(argv)

    if args.mode == "_one":  # a worker: one notebook, one JSON line
        row = run_one(Path(args.paths[0]), args.timeout, args.stock_output_widget, args.slow_client_ms)
        print("ROW " + json.dumps(row), flush=True)
        return 0

    timeout = args.timeout or (60 if args.mode == "synthetic" else 300)
    tmp = Path(tempfile.mkdtemp(prefix="kernel_stress_"))
    if args.mode == "synthetic":
        jobs = []
        for r in range(args.runs):
            p = tmp / f"synthetic_{r:03d}.ipynb"
            nbformat.write(synthetic_notebook(args.cells), p)
            jobs.append(p)
    else:
        jobs = [Path(p).resolve() for _ in range(args.repeat) for p in args.paths]

    config = {
        "mode": args.mode,
        "parallel": args.parallel,
        "timeout_s": timeout,
        "output_widget": "nbclient stock" if args.stock_output_widget else "fixed (nbtools)",
        "slow_client_ms": args.slow_client_ms,
        **versions(),
    }
    print("configuration:", json.dumps(config), flush=True)
    rows: list[dict] = []
    running: list[tuple[Path, subprocess.Popen]] = []
    queue = list(jobs)
    started = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.parallel:
            p = queue.pop(0)
            cmd = [
                sys.executable,
                __file__,
                "_one",
                str(p),
                "--timeout",
                str(timeout),
                "--slow-client-ms",
                str(args.slow_client_ms),
            ] + (["--stock-output-widget"] * args.stock_output_widget)
            running.append((p, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)))
        time.sleep(0.5)
        for item in list(running):
            p, proc = item
            if proc.poll() is None:
                continue
            running.remove(item)
            out = proc.stdout.read() if proc.stdout else ""
            line = next((x[4:] for x in out.splitlines() if x.startswith("ROW ")), None)
            row = (
                json.loads(line)
                if line
                else {
                    "notebook": p.name,
                    "cells": 0,
                    "hang": None,
                    "error": f"worker exited {proc.returncode}",
                    "wall_s": 0,
                }
            )
            row.update(config)
            rows.append(row)
            status = "HANG " + row["hang"]["kind"] if row["hang"] else ("error" if row["error"] else "ok")
            print(
                f"[{len(rows):>3}/{len(jobs)}] {row['notebook']:<34} cells {row['cells']:>4}  "
                f"{row['wall_s']:>6} s  {status}",
                flush=True,
            )
            if row["hang"] or row["error"]:
                print("      ", json.dumps(row["hang"] or row["error"]), flush=True)
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    hangs = [r for r in rows if r["hang"]]
    kinds: dict[str, int] = {}
    for r in hangs:
        kinds[r["hang"]["kind"]] = kinds.get(r["hang"]["kind"], 0) + 1
    print(
        f"summary: runs {len(rows)}, cells executed {sum(r['cells'] for r in rows)}, hangs {len(hangs)} "
        f"{kinds or ''}, other errors {sum(1 for r in rows if r['error'])}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 1 if hangs or any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    os.environ.setdefault("CVLIB_PROFILE", "quick")
    sys.exit(main())
