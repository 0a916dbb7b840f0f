"""Automatically checked exercises: ``check_answer("01.output_size", 14)`` says right or wrong, with a hint.

Each exercise knows how to compute its own answer (with the same cvlib/torch functions the
lesson uses), so nothing is stored as a bare number; worked solutions live in
``solutions/NN_topic_solutions.ipynb`` and run in the test command. Used by lessons 01 and 04.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from cvlib.models.classic import conv_output_size
from cvlib.models.utils import count_parameters


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Receptive field of a stack of ``(kernel, stride)`` layers (conv or pool), in input pixels."""
    if not layers or any(k < 1 or s < 1 for k, s in layers):
        raise ValueError(f"layers must be a non-empty list of (kernel >= 1, stride >= 1), got {layers!r}.")
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


@dataclass(frozen=True)
class Exercise:
    """One checked question: ``solve()`` computes the answer, ``hint`` is shown on a wrong one."""

    question: str
    solve: Callable[[], Any]
    hint: str


EXERCISES: dict[str, Exercise] = {
    "01.output_size": Exercise(
        "Output side of a 5x5 convolution, stride 2, padding 2, on a 28x28 image?",
        lambda: conv_output_size(28, 5, 2, 2),
        "the output side is floor((n + 2p - k) / s) + 1.",
    ),
    "01.alexnet_conv1_params": Exercise(
        "Parameters of AlexNet's first layer, Conv2d(3, 64, 11, stride=4, padding=2)?",
        lambda: count_parameters(nn.Conv2d(3, 64, 11, stride=4, padding=2)),
        "weights: out_channels x in_channels x k x k, plus one bias per output channel; stride and padding add none.",
    ),
    "01.lenet_receptive_field": Exercise(
        "Receptive field of LeNet-5's second convolution output (conv 5x5, pool 2, conv 5x5)?",
        lambda: receptive_field([(5, 1), (2, 2), (5, 1)]),
        "each layer adds (k - 1) x (product of the strides before it); the pool doubles what later layers add.",
    ),
    "04.grey_levels": Exercise(
        "At epsilon = 2/255 (L-infinity), by how many grey levels (of 0-255) can one pixel change at most?",
        lambda: 2,
        "epsilon bounds every pixel's change in [0, 1] units; one grey level is 1/255.",
    ),
    "04.pixels_changed": Exercise(
        "An FGSM image of a 28x28 grey digit (no pixel at 0 or 1, epsilon > 0): how many pixels change?",
        lambda: 28 * 28,
        "FGSM moves every pixel by +epsilon or -epsilon (the sign of its gradient), unless clamping stops it.",
    ),
}


def _same(answer: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    if isinstance(expected, (int, float)) and isinstance(answer, (int, float)):
        return math.isclose(float(answer), float(expected), rel_tol=1e-6, abs_tol=1e-9)
    return answer == expected


def check_answer(key: str, answer: Any) -> bool:
    """Print whether ``answer`` to exercise ``key`` is right (with a hint if not); return True if right.

    ``None`` means "not answered yet". Raises ``KeyError`` (listing the keys) for an unknown exercise.
    """
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}: choose one of {', '.join(sorted(EXERCISES))}.")
    exercise = EXERCISES[key]
    if answer is None:
        print(f"- {key}: not answered yet ({exercise.question})")
        return False
    right = _same(answer, exercise.solve())
    print(f"{'right' if right else 'not yet'} {key}: {answer!r}" + ("" if right else f" -- hint: {exercise.hint}"))
    return right
