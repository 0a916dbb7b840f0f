"""Automatically checked exercises: ``check_answer("01.output_size", 14)`` says right or wrong, with a hint.

Each exercise knows how to compute its own answer (with the same cvlib/torch functions the
lesson uses), so nothing is stored as a bare number; worked solutions live in
``solutions/NN_topic_solutions.ipynb`` and run in the test command. Used by lessons 01-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torchvision.ops import box_iou

from cvlib.models.classic import conv_output_size
from cvlib.models.cyclegan import patch_size
from cvlib.models.utils import count_parameters
from cvlib.multimodal import info_nce


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
    "02.head_params": Exercise(
        "Trainable parameters of a new linear head on EfficientNet-Lite0's 1,280 features for 16 classes?",
        lambda: count_parameters(nn.Linear(1280, 16)),
        "a linear layer D -> C has D x C weights and C biases.",
    ),
    "02.kd_gradient_factor": Exercise(
        "By what factor would the soft-target gradient shrink at temperature T = 4 without the T^2 factor?",
        lambda: 4**2,
        "softening the logits by T scales the soft term's gradient by 1/T^2 (Hinton et al., 2015).",
    ),
    "03.iou": Exercise(
        "IoU of the boxes (0, 0, 10, 10) and (5, 0, 15, 10)?",
        lambda: float(box_iou(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[5.0, 0, 15, 10]]))[0, 0]),
        "intersection area / union area; the union counts the overlap once.",
    ),
    "03.coco_bbox": Exercise(
        "The box (x1, y1, x2, y2) = (10, 20, 50, 80) in COCO's bbox format [x, y, width, height]?",
        lambda: [10, 20, 40, 60],
        "COCO keeps the top-left corner and stores width = x2 - x1, height = y2 - y1.",
    ),
    "05.optimal_d": Exercise(
        "Output of the optimal discriminator D*(x) where the generator matches the data (p_g = p_data)?",
        lambda: 0.5,
        "D*(x) = p_data(x) / (p_data(x) + p_g(x)).",
    ),
    "05.equilibrium_loss": Exercise(
        "The discriminator's BCE loss (real term + fake term) when it outputs 0.5 for every image?",
        lambda: 2 * math.log(2),
        "-log(0.5) for the real term plus -log(1 - 0.5) for the fake term.",
    ),
    "06.patch_size": Exercise(
        "Receptive field (pixels) of one score of the 3-layer PatchGAN (4x4 kernels, strides 2, 2, 2, 1, 1)?",
        lambda: patch_size(3),
        "work backwards: r = r + (k - 1) x jump, the jump multiplying by each stride.",
    ),
    "06.identity_weight": Exercise(
        "Weight of the identity loss in CycleGAN with lambda_cycle = 10 and lambda_identity = 0.5?",
        lambda: 0.5 * 10,
        "the identity weight is given relative to the cycle weight: lambda_identity x lambda_cycle.",
    ),
    "07.cam_side": Exercise(
        "Side of the Grad-CAM map at the last layer of a stride-32 network for a 224x224 image?",
        lambda: 224 // 32,
        "the last feature map is the input divided by the network's total stride.",
    ),
    "07.occlusion_positions": Exercise(
        "Occlusion with a 56-px patch and stride 28 on a 224x224 image: how many patch positions?",
        lambda: len(range(0, 224 - 56 + 1, 28)) ** 2,
        "positions per side = (224 - 56) / 28 + 1, in both directions.",
    ),
    "08.dilated_receptive_field": Exercise(
        "Receptive field (pixels) of three stacked 3x3 convolutions, stride 1, dilations 1, 2 and 4?",
        lambda: receptive_field([(d * (3 - 1) + 1, 1) for d in (1, 2, 4)]),
        "a 3x3 kernel with dilation d spans d x (3 - 1) + 1 pixels; with stride 1 each layer adds its span minus 1.",
    ),
    "08.iou_from_cm": Exercise(
        "IoU of class 1 from the confusion matrix [[50, 10], [5, 35]] (rows: true class)?",
        lambda: 35 / (35 + 10 + 5),
        "IoU = cm[c, c] / (row c + column c - cm[c, c]): the diagonal over truth-or-prediction pixels.",
    ),
    "08.panoptic_quality": Exercise(
        "PQ of one class with matches of IoU 0.9 and 0.7, one unmatched prediction and one unmatched truth?",
        lambda: (0.9 + 0.7) / (2 + 0.5 * 1 + 0.5 * 1),
        "PQ = sum of matched IoUs / (TP + FP/2 + FN/2); here SQ = 0.8 and RQ = 2/3.",
    ),
    "09.oks_single_keypoint": Exercise(
        "OKS term exp(-d^2 / (2 s^2 k^2)) of a keypoint 2 px off, box area 400 px^2, sigma 0.05?",
        lambda: math.exp(-(2.0**2) / (2 * 400 * (2 * 0.05) ** 2)),
        "s^2 is the area (400) and k = 2 sigma = 0.1, so 2 s^2 k^2 = 8 and d^2 = 4.",
    ),
    "09.argmax_error": Exercise(
        "Distance (image pixels) from a keypoint on the corner shared by four stride-4 cells to the argmax cell's centre?",
        lambda: math.hypot(2.0, 2.0),
        "a stride-4 cell is 4 x 4 pixels: its centre is 2 px from its corner in x and in y.",
    ),
    "09.centernet_channels": Exercise(
        "Output channels of CenterNet's heads for COCO's 80 classes (heatmaps + size + offset)?",
        lambda: 80 + 2 + 2,
        "one heatmap per class; the size (w, h) and offset (dx, dy) heads are shared by all classes.",
    ),
    "10.psnr_from_mse": Exercise(
        "PSNR (dB) of an output in [0, 1] whose mean squared error to the original is 0.001?",
        lambda: 10 * math.log10(1.0 / 0.001),
        "PSNR = 10 log10(peak^2 / MSE) with peak 1 for images in [0, 1].",
    ),
    "10.unet_depth": Exercise(
        "Stride-2 encoder blocks the pix2pix U-Net needs to take a 256 x 256 image down to 1 x 1?",
        lambda: int(math.log2(256)),
        "each stride-2 block halves the side: 256 -> 128 -> ... -> 1; count the halvings (log2 256).",
    ),
    "10.gram_entries": Exercise(
        "Entries of the Gram matrix of a 128-channel, 56 x 56 feature map?",
        lambda: 128 * 128,
        "the Gram matrix is C x C (channels against channels); the 56 x 56 positions are summed away.",
    ),
    "11.cutmix_weight": Exercise(
        "CutMix pastes an 8 x 8 box of a '3' into a 16 x 16 image of a '7': the mixed label's weight for '3'?",
        lambda: (8 * 8) / (16 * 16),
        "the label is mixed in proportion to the pasted area: box area / image area.",
    ),
    "11.smoothed_target": Exercise(
        "Probability of the true class in a label-smoothed target, epsilon 0.1, 10 classes (PyTorch's rule)?",
        lambda: (1 - 0.1) + 0.1 / 10,
        "PyTorch mixes the one-hot target with the uniform one: (1 - eps) x one-hot + eps / C on every class.",
    ),
    "11.distillation_scale": Exercise(
        "Factor multiplying the KL term of the distillation loss at temperature T = 4?",
        lambda: 4**2,
        "the soft term's gradients shrink like 1 / T^2, so the loss multiplies it by T^2.",
    ),
    "12.uniform_infonce": Exercise(
        "InfoNCE loss (natural log) of a batch of 128 pairs when every image-text similarity is the same?",
        lambda: float(info_nce(torch.ones(128, 4) / 2, torch.ones(128, 4) / 2, 10.0)),
        "with equal logits each row's softmax is uniform over the 128 texts: -log(1/128) in both directions.",
    ),
    "12.attention_weights": Exercise(
        "Attention weights per generated word for a 48 x 48 scene and an encoder of three stride-2 stages?",
        lambda: (48 // 2**3) ** 2,
        "one weight per cell of the feature grid: three halvings take 48 px to a 6 x 6 grid.",
    ),
    "12.brevity_penalty": Exercise(
        "BLEU's brevity penalty for outputs of 8 words in total against references of 10 words?",
        lambda: math.exp(1 - 10 / 8),
        "BP = exp(1 - r / c) when the candidate length c is below the reference length r.",
    ),
}


def _same(answer: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    if isinstance(expected, list) and isinstance(answer, (list, tuple)):
        return len(answer) == len(expected) and all(_same(a, e) for a, e in zip(answer, expected, strict=True))
    if isinstance(expected, int) and isinstance(answer, (int, float)):
        return float(answer) == float(expected)  # counts and sizes: exact
    if isinstance(expected, float) and isinstance(answer, (int, float)):
        return math.isclose(float(answer), expected, rel_tol=1e-3)  # 3 significant digits are enough

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
