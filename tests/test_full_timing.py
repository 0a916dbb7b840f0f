"""scripts/full_timing.py: reads the lessons' own full sizes and times real training steps."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import full_timing


def test_sizes_come_from_the_notebooks_parameters_cell_under_full(monkeypatch):
    monkeypatch.setenv("CVLIB_PROFILE", "quick")
    sizes = full_timing.full_sizes("06_cyclegan")
    assert sizes["image_size"] == 256 and sizes["batch_size"] == 1 and sizes["n_blocks"] == 9
    assert full_timing.full_sizes("01_cnn_basics")["dataset"] == "mnist"
    import os

    assert os.environ["CVLIB_PROFILE"] == "quick", "the caller's profile is restored"


def test_every_lesson_has_a_workload_with_its_full_step_count():
    works = full_timing.workloads()
    lessons = sorted({p.name[:2] for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")})
    assert sorted({w.lesson for w in works}) == lessons, (
        "add the new lesson's training loops to full_timing.workloads()"
    )
    by_name = {w.name: w.steps for w in works}
    assert by_name["SmallVGG, MNIST, 8 epochs"] == 8 * 469  # ceil(60,000 / 128) steps per epoch
    assert by_name["CycleGAN 256 px, 12,000 steps (batch 1)"] == 12_000


def test_times_a_step_and_extrapolates(capsys):
    assert (
        full_timing.main(
            ["--device", "cpu", "--steps", "1", "--warmup", "0", "--lessons", "07", "--estimate-tflops", "4"]
        )
        == 0
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 07 |")]
    assert len(rows) == 2, "one workload row and the lesson's total"
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    # steps: 12 epochs x ceil(6,000 / 64) batches (lesson 07's full SIZES); ms/step; GFLOP/step
    assert cells[2] == "1,128" and float(cells[3]) > 0 and float(cells[4]) > 0.1


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        full_timing.main(["--steps", "0"])
