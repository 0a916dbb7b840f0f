"""Drawing keypoints and skeletons on images (lesson 09).

Part of :mod:`cvlib.keypoints`. Small images (the 64-px figures) are enlarged by an integer ``scale``
first (nearest neighbour, so pixels stay square) and the keypoints moved with them: with the COCO
convention (an integer coordinate is a pixel centre) pixel centre ``x`` becomes ``(x + 0.5) * scale - 0.5``.
Drawn with PIL, like ``torchvision.utils.draw_keypoints``, which cannot be used here: it draws every limb
in white whatever the colour asked for, and truncates coordinates to integers (torchvision 0.29).

Also COCO's person keypoints (:data:`COCO_KEYPOINTS`, :data:`COCO_SKELETON`, as in
``person_keypoints_*.json``), for torchvision's Keypoint R-CNN in the ``full`` profile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

__all__ = ["COCO_KEYPOINTS", "COCO_SKELETON", "draw_pose"]

#: COCO's 17 person keypoints, in annotation order.
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
#: COCO's person skeleton: 19 limbs as 1-based keypoint index pairs (the ``skeleton`` of the person category).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14),
    (14, 12),
    (17, 15),
    (15, 13),
    (12, 13),
    (6, 12),
    (7, 13),
    (6, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (9, 11),
    (2, 3),
    (1, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
    (5, 7),
)

Color = str | tuple[int, int, int]


def draw_pose(
    image: torch.Tensor,
    keypoints: torch.Tensor,
    skeleton: Sequence[tuple[int, int]] = (),
    *,
    scale: int = 1,
    color: Color = "white",
    hidden_color: Color | None = None,
    radius: int = 2,
    width: int = 2,
) -> torch.Tensor:
    """Keypoints and limbs drawn on an image; returns a new ``(3, H * scale, W * scale)`` uint8 image.

    Args:
        image: ``(3, H, W)`` uint8 (0..255) or float in [0, 1].
        keypoints: ``(N, K, 3)`` float ``(x, y, v)`` in image pixels (integer = pixel centre), one row per
            instance, or ``(N, K, 2)`` (all drawn). Keypoints with ``v == 0`` are not drawn, nor are limbs
            touching them.
        skeleton: limbs as **1-based** keypoint index pairs (COCO's convention, e.g. :data:`COCO_SKELETON`).
        scale: integer enlargement of the image before drawing (1..32).
        color: colour of the joints and limbs (a name or an RGB tuple).
        hidden_color: if given, joints with ``v == 1`` (labelled, not visible) are drawn over in this colour.
        radius, width: joint radius and limb width in pixels of the enlarged image.

    Raises:
        ValueError: bad shapes, a bad scale, or a limb index outside ``1..K``.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be (3, H, W), got {tuple(image.shape)}.")
    if keypoints.ndim != 3 or keypoints.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must be (N, K, 3) (x, y, v) or (N, K, 2), got {tuple(keypoints.shape)}.")
    if not (isinstance(scale, int) and 1 <= scale <= 32):
        raise ValueError(f"scale must be an integer in 1..32, got {scale!r}.")
    k = keypoints.shape[1]
    if any(not (1 <= a <= k and 1 <= b <= k) for a, b in skeleton):
        raise ValueError(f"skeleton pairs must be 1-based indices in 1..{k}, got {list(skeleton)}.")
    img = image if image.dtype == torch.uint8 else (image.clamp(0, 1) * 255).round().to(torch.uint8)
    img = img.detach().cpu()
    if scale > 1:
        img = img.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    kp = keypoints.detach().cpu().float()
    xy = (kp[..., :2] + 0.5) * scale - 0.5
    v = kp[..., 2] if kp.shape[-1] == 3 else torch.full(kp.shape[:2], 2.0)
    canvas = Image.fromarray(img.permute(1, 2, 0).numpy())
    draw = ImageDraw.Draw(canvas)
    for inst_xy, inst_v in zip(xy.tolist(), v.tolist()):
        for a, b in skeleton:
            if inst_v[a - 1] > 0 and inst_v[b - 1] > 0:
                draw.line([tuple(inst_xy[a - 1]), tuple(inst_xy[b - 1])], fill=color, width=width)
        for (x, y), vis in zip(inst_xy, inst_v):
            if vis > 0:
                fill = hidden_color if vis == 1 and hidden_color is not None else color
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill)
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)
