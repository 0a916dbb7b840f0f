"""Plots for the lessons: image grids, training curves, confusion matrices.

Used by lessons 01, 02, 03, 05, 06 and 07 (and by cvlib.explain / cvlib.detection for their figures).

Every function draws one titled figure with labelled axes and returns the
``matplotlib.figure.Figure``. In a notebook the figure shows when the cell
ends; end the call with ``;`` (or assign it) so it is not shown twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import cast

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix


def smooth(values: Sequence[float] | np.ndarray | torch.Tensor, window: int) -> np.ndarray:
    """Moving average of a 1-D series over ``window`` points (only full windows: ``len - window + 1`` values).

    For noisy per-step losses. A series shorter than ``window`` is returned unchanged (as float64).
    """
    v = np.asarray(torch.as_tensor(values, dtype=torch.float64).cpu(), dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"smooth needs a 1-D series, got shape {v.shape}.")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}.")
    if len(v) < window:
        return v
    return np.convolve(v, np.ones(window) / window, mode="valid")


def to_numpy_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(C, H, W)`` or ``(H, W)`` tensor/array in [0, 1] -> ``(H, W)`` or ``(H, W, 3)`` array for imshow."""
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
    return np.clip(image, 0.0, 1.0)


def panel_grid(
    n: int, ncols: int, size: float, min_width: float = 4.0, extra_height: float = 0.6, layout: str | None = None
) -> tuple[Figure, list]:
    """A figure with ``n`` image panels in rows of ``ncols``: ticks off, unused panels hidden.

    Each panel is ``size`` inches square (the figure is at least ``min_width`` wide and
    ``extra_height`` taller, for the title); ``layout`` is matplotlib's (e.g. ``"constrained"``).
    Returns the figure and the ``n`` panel axes.
    """
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    figsize = (max(size * ncols, min_width), size * nrows + extra_height)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, layout=layout)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.axis("off")
    return fig, list(axes.flat)[:n]


def show_images(
    images: torch.Tensor | Sequence[torch.Tensor],
    labels: Sequence[int] | None = None,
    preds: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    title: str = "Images",
    size: float = 1.3,
    cmap: str = "gray",
) -> Figure:
    """Grid of images with their label and, if given, prediction (green if right, red if wrong).

    Args:
        images: ``(N, C, H, W)`` float in [0, 1] (C = 1 or 3), or a list of such ``(C, H, W)``.
        labels / preds: ``N`` class indices.
        class_names: names for the indices (default: the index itself).
    """
    fig, axes = panel_grid(len(images), ncols, size)
    name = (lambda i: class_names[i]) if class_names is not None else str
    for k, ax in enumerate(axes):
        ax.imshow(to_numpy_image(images[k]), cmap=cmap, vmin=0, vmax=1)
        if labels is not None and preds is not None:
            ok = int(labels[k]) == int(preds[k])
            ax.set_title(f"{name(int(preds[k]))} ({name(int(labels[k]))})", fontsize=8, color="green" if ok else "red")
        elif labels is not None:
            ax.set_title(name(int(labels[k])), fontsize=8)
        elif preds is not None:
            ax.set_title(name(int(preds[k])), fontsize=8)
    subtitle = " — predicted (true)" if labels is not None and preds is not None else ""
    fig.suptitle(title + subtitle)
    fig.tight_layout()
    return fig


def plot_history(history: Mapping[str, Sequence[float]] | object, title: str = "Training curves") -> Figure:
    """Loss and accuracy per epoch, train vs validation (a :class:`cvlib.train.History` or its dict)."""
    h = history.as_dict() if hasattr(history, "as_dict") else dict(cast(Mapping[str, Sequence[float]], history))
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = h.get(f"{split}_{key}") or []
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=split, markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if key == "loss" else "accuracy")
        ax.set_title(key if key == "loss" else "accuracy")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    y_true: Sequence[int] | torch.Tensor,
    y_pred: Sequence[int] | torch.Tensor,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix",
    normalize: str | None = None,
) -> Figure:
    """Confusion matrix (rows: true class, columns: predicted) drawn with scikit-learn."""
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    labels = np.arange(len(class_names)) if class_names is not None else None
    cm = confusion_matrix(true, pred, labels=labels, normalize=normalize)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ConfusionMatrixDisplay(cm, display_labels=class_names).plot(
        ax=ax, colorbar=False, cmap="Blues", values_format=".2f" if normalize else "d"
    )
    ax.set_title(title)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.tight_layout()
    return fig


def plot_curves(
    xs: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    spread: Mapping[str, Sequence[float]] | None = None,
    logx: bool = False,
) -> Figure:
    """Several named y-curves over the same x, with an optional ± spread band per curve."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name, ys in curves.items():
        line = ax.plot(xs, ys, "-o", label=name, markersize=4)[0]
        if spread and name in spread:
            lo = np.asarray(ys) - np.asarray(spread[name])
            hi = np.asarray(ys) + np.asarray(spread[name])
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def overlay_heatmap(
    image: torch.Tensor | np.ndarray,
    heatmap: torch.Tensor | np.ndarray,
    alpha: float = 0.5,
    cmap: str = "jet",
) -> np.ndarray:
    """Blend a heatmap over an image: ``(1 - alpha) * image + alpha * cmap(heatmap)``.

    Args:
        image: ``(3, H, W)`` or ``(1, H, W)`` / ``(H, W)`` (gray) float in [0, 1].
        heatmap: ``(H, W)`` float in [0, 1] (e.g. a Grad-CAM map upsampled to the image size).
        alpha: weight of the heatmap, in [0, 1].
        cmap: a matplotlib colormap name.

    Returns:
        ``(H, W, 3)`` float64 array in [0, 1], ready for ``imshow``.

    Raises:
        ValueError: when the heatmap's size differs from the image's or alpha is outside [0, 1].
    """
    import matplotlib

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    rgb = to_numpy_image(image)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    heat = (
        heatmap.detach().float().cpu().numpy()
        if isinstance(heatmap, torch.Tensor)
        else np.asarray(heatmap, dtype=float)
    )
    if heat.shape != rgb.shape[:2]:
        raise ValueError(
            f"heatmap {heat.shape} and image {rgb.shape[:2]} differ in size: upsample the map to the image size first."
        )
    coloured = matplotlib.colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3]
    return np.clip((1.0 - alpha) * rgb + alpha * coloured, 0.0, 1.0)


def show_heatmaps(
    images: torch.Tensor | Sequence[torch.Tensor],
    heatmaps: torch.Tensor | Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    *,
    boxes: torch.Tensor | Sequence[Sequence[float]] | None = None,
    mark_peak: bool = False,
    alpha: float = 0.5,
    cmap: str = "jet",
    ncols: int = 4,
    size: float = 2.2,
    title: str = "Heatmaps",
) -> Figure:
    """Grid of heatmap overlays (:func:`overlay_heatmap`), with optional boxes and peak markers.

    Args:
        images: ``(N, 3, H, W)`` float in [0, 1] (or a list of ``(3, H, W)``; gray works too).
        heatmaps: ``(N, H, W)`` float in [0, 1], one per image.
        titles: one short title per panel.
        boxes: ``(N, 4)`` ``(x0, y0, x1, y1)`` pixels with exclusive ends, drawn in white.
        mark_peak: mark each map's maximum with a white cross.
    """
    from matplotlib.patches import Rectangle

    n = len(images)
    if len(heatmaps) != n:
        raise ValueError(f"got {n} images but {len(heatmaps)} heatmaps: give one heatmap per image.")
    fig, axes = panel_grid(n, ncols, size)
    for k, ax in enumerate(axes):
        heat = heatmaps[k]
        heat = (
            heat.detach().float().cpu()
            if isinstance(heat, torch.Tensor)
            else torch.as_tensor(np.asarray(heat, dtype=np.float32))
        )
        ax.imshow(overlay_heatmap(images[k], heat, alpha=alpha, cmap=cmap), interpolation="bilinear")
        if boxes is not None:
            x0, y0, x1, y1 = (float(v) for v in boxes[k])
            ax.add_patch(
                Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="white", linewidth=1.5)
            )
        if mark_peak:
            flat = int(heat.flatten().argmax())
            ax.plot(
                flat % heat.shape[-1], flat // heat.shape[-1], "x", color="white", markersize=9, markeredgewidth=2.5
            )
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
