"""Detection engine for lesson 03 (Mask R-CNN fine-tuning): targets, training, COCO evaluation, drawing.

The pieces the TorchVision detection tutorial fetches from ``references/detection``
(``engine.py``, ``utils.py``, ``coco_eval.py``), rewritten small and versioned with the course.
Used by lesson 03 (``notebooks/03_detection_finetuning.ipynb``). Module map:

- :mod:`cvlib.detection.targets` -- :func:`detection_transforms` (``transforms.v2``; boxes and masks move
  with the image), :class:`TargetError`, :func:`validate_target`, :func:`collate_detection` (bad targets
  caught with a clear message before torchvision), :class:`AspectRatioBatchSampler`, :func:`aspect_ratios`;
- :mod:`cvlib.detection.engine` -- :func:`warmup_cosine` (torch's ``SequentialLR``: linear warm-up, then
  cosine), :func:`train_one_epoch` ``(model, loader, optimizer, *, device=None, ...)``;
- :mod:`cvlib.detection.evaluation` -- :func:`detect`, :func:`coco_from_dataset`, :func:`to_coco_results`,
  :func:`coco_evaluate`, :func:`evaluate_coco` (COCO AP and AR with ``pycocotools``), :func:`format_ap_table`;
- :mod:`cvlib.detection.drawing` -- :data:`PALETTE`, :func:`class_color`, :func:`draw_detections`,
  :func:`show_detections`, :func:`threshold_explorer`.

The models are in :mod:`cvlib.models.maskrcnn`, the COCO format and the box convention (``x2``/``y2``
exclusive) in :mod:`cvlib.data.coco`. Every public name is re-exported here: ``from cvlib.detection import X``.
"""

from cvlib.detection.drawing import (
    PALETTE,
    class_color,
    draw_detections,
    show_detections,
    threshold_explorer,
)
from cvlib.detection.engine import train_one_epoch, warmup_cosine
from cvlib.detection.evaluation import (
    AP_NAMES,
    AR_NAMES,
    IOU_TYPES,
    coco_evaluate,
    coco_from_dataset,
    detect,
    evaluate_coco,
    format_ap_table,
    to_coco_results,
)
from cvlib.detection.targets import (
    AspectRatioBatchSampler,
    TargetError,
    aspect_ratios,
    collate_detection,
    detection_transforms,
    validate_target,
)

__all__ = [
    "AP_NAMES",
    "AR_NAMES",
    "IOU_TYPES",
    "PALETTE",
    "AspectRatioBatchSampler",
    "TargetError",
    "aspect_ratios",
    "class_color",
    "coco_evaluate",
    "coco_from_dataset",
    "collate_detection",
    "detect",
    "detection_transforms",
    "draw_detections",
    "evaluate_coco",
    "format_ap_table",
    "show_detections",
    "threshold_explorer",
    "to_coco_results",
    "train_one_epoch",
    "validate_target",
    "warmup_cosine",
]
