"""cvlib.exercises: checked answers, and the worked solutions run as notebooks."""

import sys
from pathlib import Path

import pytest

from cvlib.exercises import EXERCISES, check_answer, receptive_field

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import nbtools

SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))


def test_receptive_field_of_known_stacks():
    assert receptive_field([(3, 1)] * 3) == 7  # three 3x3 convolutions see 7x7, like one 7x7
    assert receptive_field([(5, 1), (2, 2), (5, 1)]) == 14
    with pytest.raises(ValueError, match="non-empty"):
        receptive_field([])


def test_right_wrong_and_missing_answers(capsys):
    assert check_answer("01.output_size", 14) is True
    assert check_answer("01.output_size", 14.0) is True
    assert check_answer("01.output_size", 13) is False
    assert check_answer("01.alexnet_conv1_params", 3 * 64 * 11 * 11 + 64) is True
    assert check_answer("04.grey_levels", None) is False
    assert check_answer("01.alexnet_conv1_params", 23_297) is False, "counts are exact"
    assert check_answer("05.equilibrium_loss", 1.386) is True, "floats to 3 significant digits"
    assert check_answer("05.equilibrium_loss", 1.39) is False
    assert check_answer("03.coco_bbox", (10, 20, 40, 60)) is True
    out = capsys.readouterr().out
    assert "right 01.output_size: 14" in out and "hint: the output side is floor" in out and "not answered yet" in out
    with pytest.raises(KeyError, match="choose one of"):
        check_answer("99.nothing", 1)


def test_every_exercise_is_used_by_a_lesson_and_solved_in_a_solutions_notebook():
    lessons = "".join(p.read_text() for p in (REPO / "notebooks").glob("*.ipynb"))
    solutions = "".join(p.read_text() for p in SOLUTIONS)
    for key in EXERCISES:
        assert key in lessons, f"{key} is not asked in any lesson"
        assert key in solutions, f"{key} has no worked solution in solutions/"


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_worked_solutions_run_and_are_right(path):
    nb = nbtools.execute(path, timeout=120)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "not yet" not in text and "right " in text
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
