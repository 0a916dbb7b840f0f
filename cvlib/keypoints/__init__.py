"""Keypoint estimation for lesson 09: heatmap targets and decoding, PCK / OKS, COCO keypoint AP.

Used by lesson 09 (keypoints). Keypoints are ``(B, K, 3)`` ``(x, y, v)`` in image pixels with COCO's
convention (an integer coordinate is a pixel centre; ``v`` = 0 not labelled, 1 occluded, 2 visible);
a heatmap cell at ``stride`` ``s`` sits at image coordinate ``cell * s + (s - 1) / 2``. Module map:

- :mod:`cvlib.keypoints.heatmaps` -- :func:`gaussian_heatmaps` (Gaussian targets and the per-keypoint loss
  weight), :func:`heatmap_mse_loss`, :func:`decode_argmax` (peak + Hourglass quarter-cell refinement),
  :func:`soft_argmax` (integral regression), :func:`image_to_heatmap` / :func:`heatmap_to_image`,
  the metrics :func:`pck` and :func:`oks` (pycocotools' ``computeOks``), :data:`COCO_SIGMAS`;
- :mod:`cvlib.keypoints.evaluation` -- :func:`keypoint_results` (predictions -> COCO result entries),
  :func:`keypoint_ap` (``COCOeval`` ``"keypoints"``: AP / AR at OKS 0.50:0.95, optional area ranges for small
  images), :data:`KEYPOINT_STAT_NAMES`, :data:`COCO_AREA_RANGES`;
- :mod:`cvlib.keypoints.centernet` -- objects as points (CenterNet): :func:`gaussian_radius` (CornerNet's rule),
  :func:`centernet_targets`, :func:`focal_loss` (penalty-reduced), :func:`centernet_loss`, :func:`decode`
  (3x3 peak picking instead of NMS), :func:`centernet_detect`, :func:`train_centernet`, :func:`evaluate_centernet`;
- :mod:`cvlib.keypoints.drawing` -- :func:`draw_pose` (joints and limbs with ``torchvision.utils.draw_keypoints``
  on an enlarged image), COCO's person :data:`COCO_KEYPOINTS` and :data:`COCO_SKELETON`;
- :mod:`cvlib.keypoints.training` -- :func:`train_keypoints` (random batches, left/right-aware flips,
  one-cycle AdamW), :func:`flip_keypoints`, :func:`forward_batches`.

Every public name is re-exported here: ``from cvlib.keypoints import X``.
"""

from cvlib.keypoints.centernet import (
    centernet_detect,
    centernet_loss,
    centernet_targets,
    decode,
    evaluate_centernet,
    focal_loss,
    gaussian_radius,
    train_centernet,
)
from cvlib.keypoints.drawing import COCO_KEYPOINTS, COCO_SKELETON, draw_pose
from cvlib.keypoints.evaluation import COCO_AREA_RANGES, KEYPOINT_STAT_NAMES, keypoint_ap, keypoint_results
from cvlib.keypoints.heatmaps import (
    COCO_SIGMAS,
    decode_argmax,
    gaussian_heatmaps,
    heatmap_mse_loss,
    heatmap_to_image,
    image_to_heatmap,
    oks,
    pck,
    soft_argmax,
)
from cvlib.keypoints.training import flip_keypoints, forward_batches, train_keypoints

__all__ = [
    "COCO_AREA_RANGES",
    "COCO_KEYPOINTS",
    "COCO_SIGMAS",
    "COCO_SKELETON",
    "KEYPOINT_STAT_NAMES",
    "centernet_detect",
    "centernet_loss",
    "centernet_targets",
    "decode",
    "decode_argmax",
    "draw_pose",
    "evaluate_centernet",
    "flip_keypoints",
    "focal_loss",
    "forward_batches",
    "gaussian_heatmaps",
    "gaussian_radius",
    "heatmap_mse_loss",
    "heatmap_to_image",
    "image_to_heatmap",
    "keypoint_ap",
    "keypoint_results",
    "oks",
    "pck",
    "soft_argmax",
    "train_centernet",
    "train_keypoints",
]
