"""Drawing detections (lesson 03): a fixed colour per class, boxes + masks + captions, a grid, a score slider.

Part of :mod:`cvlib.detection`, used by lesson 03 (Mask R-CNN fine-tuning). Pictures are made with
``torchvision.utils.draw_bounding_boxes`` / ``draw_segmentation_masks``; grids with :func:`cvlib.viz.panel_grid`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from matplotlib import font_manager
from matplotlib.figure import Figure
from torchvision.transforms import v2
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from cvlib.viz import panel_grid

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4", "#469990"]


def class_color(label: int) -> str:
    """A fixed colour per class label (the same in every figure)."""
    return PALETTE[(int(label) - 1) % len(PALETTE)]


def draw_detections(
    image: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor | Sequence[int],
    masks: torch.Tensor | None = None,
    scores: torch.Tensor | Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    scale: int = 1,
    alpha: float = 0.45,
    width: int = 1,
    captions: bool = True,
    font_size: int | None = None,
) -> torch.Tensor:
    """Draw masks, boxes and ``"name 0.93"`` captions on an image.

    Args:
        image: ``(3, H, W)`` float in [0, 1] or uint8.
        boxes: ``(N, 4)`` XYXY pixels. labels: ``(N,)`` class labels (``>= 1``).
        masks: ``(N, H, W)`` bool, or None. scores: ``(N,)`` or None.
        class_names: names of labels ``1..K`` (``class_names[label - 1]``); default: the label number.
        scale: upsample the picture by this factor first (nearest), so captions fit on small images.
        captions: write the class name (and score) in each box's top-left corner (white on the class colour).
        font_size: caption height in pixels of the returned picture (default ``6 * scale``);
            the font is matplotlib's DejaVu Sans, so captions are legible at any size.

    Returns:
        ``(3, H * scale, W * scale)`` uint8 picture (show it with ``plt.imshow(pic.permute(1, 2, 0))``).

    Raises:
        ValueError: the image is not ``(3, H, W)``, boxes/labels/masks/scores differ in number,
            masks are not of the image's size, or ``scale < 1``.
    """
    img = torch.as_tensor(image)
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"image must be (3, H, W), got {tuple(img.shape)}; use image.permute(2, 0, 1) for (H, W, 3).")
    if scale < 1:
        raise ValueError(f"scale is an integer upsampling factor >= 1, got {scale}.")
    if img.dtype != torch.uint8:
        img = (img.float().clamp(0, 1) * 255).round().to(torch.uint8)
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    labels = [int(v) for v in torch.as_tensor(labels).reshape(-1).tolist()]
    counts = {"boxes": len(boxes), "labels": len(labels)}
    if masks is not None:
        counts["masks"] = len(masks)
        if len(masks) and tuple(torch.as_tensor(masks).shape[-2:]) != tuple(img.shape[-2:]):
            raise ValueError(
                f"masks are {tuple(torch.as_tensor(masks).shape)} but the image is {tuple(img.shape[-2:])}: "
                "give (N, H, W) masks of the image's size."
            )
    if scores is not None:
        counts["scores"] = len(torch.as_tensor(scores).reshape(-1))
    if len(set(counts.values())) > 1:
        raise ValueError(f"one box, label, mask and score per object, got {counts}.")
    if scale != 1:
        img = v2.functional.resize(
            img, [img.shape[-2] * scale, img.shape[-1] * scale], interpolation=v2.InterpolationMode.NEAREST
        )
        boxes = boxes * scale
        if masks is not None:
            masks = torch.as_tensor(masks).repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    colors = [class_color(lab) for lab in labels]
    if masks is not None and len(labels):
        img = draw_segmentation_masks(img, torch.as_tensor(masks).bool(), alpha=alpha, colors=colors)
    if len(labels):
        names = [class_names[lab - 1] if class_names else str(lab) for lab in labels]
        if scores is not None:
            names = [f"{n} {float(s):.2f}" for n, s in zip(names, torch.as_tensor(scores).tolist())]
        if captions:
            font = font_manager.findfont("DejaVu Sans")
            img = draw_bounding_boxes(
                img,
                boxes,
                labels=names,
                colors=colors,
                width=width,
                font=font,
                font_size=font_size or 6 * scale,
                label_colors="white",
                fill_labels=True,
            )
        else:
            img = draw_bounding_boxes(img, boxes, colors=colors, width=width)
    return img


def show_detections(
    images: Sequence[torch.Tensor],
    predictions: Sequence[Mapping[str, torch.Tensor]],
    class_names: Sequence[str] | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
    score_threshold: float | None = 0.5,
    ncols: int = 4,
    scale: int = 2,
    title: str = "Predictions",
    size: float = 2.6,
) -> Figure:
    """Grid of images with their predicted masks and boxes (score ``>= score_threshold``).

    With ``targets``, each panel's title compares the number of predicted and true objects.
    ``score_threshold=None`` draws every object without scores (for ground truth: pass the
    targets as ``predictions``, with a ``scores`` entry of ones).

    Raises:
        ValueError: images, predictions (and targets) differ in number, or there are no images.
    """
    if not len(images) or len(predictions) != len(images) or (targets is not None and len(targets) != len(images)):
        raise ValueError(
            f"show_detections needs one prediction (and target) per image, got {len(images)} images, "
            f"{len(predictions)} predictions" + ("" if targets is None else f", {len(targets)} targets") + "."
        )
    fig, axes = panel_grid(len(images), ncols, size, min_width=0.0, extra_height=0.5, layout="constrained")
    for k, ax in enumerate(axes):
        p = predictions[k]
        keep = (
            torch.ones(len(p["labels"]), dtype=torch.bool)
            if score_threshold is None
            else p["scores"] >= score_threshold
        )
        pic = draw_detections(
            images[k],
            p["boxes"][keep],
            p["labels"][keep],
            p["masks"][keep] if "masks" in p else None,
            None if score_threshold is None else p["scores"][keep],
            class_names,
            scale=scale,
        )
        ax.imshow(pic.permute(1, 2, 0).numpy())
        count = int(keep.sum())
        caption = f"{count} found" if score_threshold is not None else f"{count} object{'' if count == 1 else 's'}"
        if targets is not None:
            caption += f" / {len(targets[k]['labels'])} true"
        ax.set_title(caption, fontsize=9)
        ax.set_xlabel(f"image {k}", fontsize=8)
    fig.suptitle(title if score_threshold is None else f"{title} (score >= {score_threshold:.2f})")
    return fig


def threshold_explorer(
    images: Sequence[torch.Tensor],
    predictions: Sequence[Mapping[str, torch.Tensor]],
    class_names: Sequence[str] | None = None,
    targets: Sequence[Mapping[str, Any]] | None = None,
    ncols: int = 4,
):
    """An ipywidgets slider for the score threshold that redraws :func:`show_detections`.

    ``predictions`` should hold all detections (``predict(..., score_threshold=0.0)``).
    Returns the widget (display it as the last line of a cell).
    """
    import ipywidgets as widgets

    from cvlib.widgets import explorer

    slider = widgets.FloatSlider(
        value=0.5, min=0.0, max=0.99, step=0.05, description="score ≥", continuous_update=False
    )
    # controls + live figure + a static copy of the first view (cvlib.widgets.explorer)
    return explorer(
        [[slider]], lambda: show_detections(images, predictions, class_names, targets, slider.value, ncols=ncols)
    )
