"""Keypoint heatmaps (lesson 09): Gaussian targets, argmax and soft-argmax decoding, PCK and OKS.

Part of :mod:`cvlib.keypoints`. Everything here is plain torch on ``(B, K, ...)`` tensors: ``B``
instances (one person / figure each), ``K`` keypoint types.

**Coordinate convention** (used by every function here and by :mod:`cvlib.keypoints.evaluation`).
Keypoints are ``(x, y)`` in image pixels as COCO annotates them: an integer coordinate is the
*centre* of that pixel, so pixel column ``j`` spans ``[j - 0.5, j + 0.5)`` and an image of width
``W`` spans ``[-0.5, W - 0.5)``. A heatmap at ``stride`` ``s`` has one cell per ``s x s`` block of
pixels; cell column ``c`` covers pixels ``c*s .. c*s + s - 1`` and its centre is their mean, so

``x_image = c * s + (s - 1) / 2``  and  ``c = (x_image - (s - 1) / 2) / s``

(the same for ``y`` and rows; for ``s = 1`` both are the identity). This is the half-pixel
("align_corners=False") mapping: encoding with :func:`gaussian_heatmaps` and decoding with
:func:`decode_argmax` or :func:`soft_argmax` use the same formula, so a round trip returns the
keypoint. Results written for pycocotools need no ``+/- 0.5`` shift (Detectron2 subtracts 0.5 only
because its internal coordinates put pixel centres at ``j + 0.5``).

**Visibility** ``v`` follows COCO: 0 = not labelled, 1 = labelled but occluded, 2 = labelled and
visible. "Labelled" (``v > 0``) is what the losses and metrics count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "COCO_SIGMAS",
    "decode_argmax",
    "gaussian_heatmaps",
    "heatmap_mse_loss",
    "heatmap_to_image",
    "image_to_heatmap",
    "oks",
    "pck",
    "soft_argmax",
]

#: COCO's per-keypoint OKS constants for its 17 person keypoints (nose, eyes, ears, shoulders, elbows,
#: wrists, hips, knees, ankles), as in ``pycocotools.cocoeval.Params.setKpParams``: the standard deviation
#: of human annotators' clicks relative to the object scale, larger for hips than for eyes.
COCO_SIGMAS: tuple[float, ...] = tuple(
    float(s) / 10.0
    for s in (0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89)
)


def image_to_heatmap(coords: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Image pixel coordinates -> heatmap cell coordinates: ``(coords - (stride - 1) / 2) / stride``.

    Any shape (element-wise), float. See the module docstring for the convention.
    """
    _check_stride(stride)
    return (coords - (stride - 1) / 2) / stride


def heatmap_to_image(coords: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Heatmap cell coordinates -> image pixel coordinates: ``coords * stride + (stride - 1) / 2``.

    Any shape (element-wise), float. The inverse of :func:`image_to_heatmap`.
    """
    _check_stride(stride)
    return coords * stride + (stride - 1) / 2


def _check_stride(stride: int) -> None:
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int (image pixels per heatmap cell), got {stride!r}.")


def _check_float(x: object, what: str, shape: str, ndim: int, last: Sequence[int] | None = None) -> torch.Tensor:
    """``x`` as a tensor of ``ndim`` dimensions (last dimension in ``last``), floating; else one clear error."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of shape {shape}, got {type(x).__name__}.")
    if x.ndim != ndim or (last is not None and x.shape[-1] not in last):
        raise ValueError(f"{what} must have shape {shape}, got {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise ValueError(f"{what} must be a float tensor, got {x.dtype}: convert it with .float().")
    return x


def _check_heatmaps(heatmaps: object) -> torch.Tensor:
    hm = _check_float(heatmaps, "heatmaps", "(B, K, H, W)", 4)
    if hm.numel() == 0:
        raise ValueError(f"heatmaps is empty, shape {tuple(hm.shape)}: B, K, H and W must all be >= 1.")
    return hm


def gaussian_heatmaps(
    keypoints: torch.Tensor,
    size: int | tuple[int, int],
    sigma: float,
    stride: int = 1,
    *,
    quantize: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian target heatmaps, one channel per keypoint, and the per-keypoint loss weight.

    Channel ``k`` of instance ``b`` is the unnormalised Gaussian ``exp(-d^2 / (2 sigma^2))`` of the distance
    ``d`` (in heatmap cells) from each cell centre to the keypoint: 1 at the keypoint, ``exp(-1/2)`` one
    ``sigma`` away, not truncated. A keypoint between cell centres keeps its sub-cell position (the grid's
    maximum is then below 1; the unbiased target of Zhang et al., "DARK", 2020); ``quantize=True`` rounds it
    to the nearest cell first, as the Hourglass and CenterNet code do, so the grid holds an exact 1.

    Args:
        keypoints: ``(B, K, 3)`` float ``(x, y, v)``, ``x, y`` in image pixels (integer = pixel centre,
            see the module docstring), ``v`` the COCO visibility (0 = not labelled).
        size: heatmap size ``(H, W)`` in cells (an int: square); it covers an image of ``H*stride x W*stride``.
        sigma: Gaussian standard deviation in heatmap cells, > 0.
        stride: image pixels per heatmap cell (positive int).
        quantize: round each keypoint to the nearest cell centre before drawing.

    Returns:
        ``(heatmaps, weight)``: heatmaps ``(B, K, H, W)`` float in [0, 1]; weight ``(B, K)`` float, 1 where the
        keypoint is labelled (``v > 0``) and inside the heatmap's image extent ``[-0.5, W*stride - 0.5)`` x
        ``[-0.5, H*stride - 0.5)``, else 0, and those channels are all zeros. Pass the weight to
        :func:`heatmap_mse_loss` so that unlabelled keypoints are not trained towards an empty map.

    Raises:
        ValueError / TypeError: keypoints not a ``(B, K, 3)`` float tensor, a bad size, ``sigma <= 0``, a bad stride.
    """
    kp = _check_float(keypoints, "keypoints", "(B, K, 3) (x, y, v)", 3, (3,))
    _check_stride(stride)
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in hw):
        raise ValueError(f"size must be a positive int or (H, W) of positive ints (heatmap cells), got {size!r}.")
    h, w = hw
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 (heatmap cells), got {sigma!r}.")
    u = image_to_heatmap(kp[..., 0], stride)
    v = image_to_heatmap(kp[..., 1], stride)
    if quantize:
        u, v = torch.round(u), torch.round(v)
    weight = ((kp[..., 2] > 0) & (u >= -0.5) & (u < w - 0.5) & (v >= -0.5) & (v < h - 0.5)).to(kp.dtype)
    cols = torch.arange(w, dtype=kp.dtype, device=kp.device)
    rows = torch.arange(h, dtype=kp.dtype, device=kp.device)
    gx = torch.exp(-((cols - u[..., None]) ** 2) / (2 * sigma**2))  # (B, K, W)
    gy = torch.exp(-((rows - v[..., None]) ** 2) / (2 * sigma**2))  # (B, K, H)
    heatmaps = gy[..., :, None] * gx[..., None, :] * weight[..., None, None]
    return heatmaps, weight


def heatmap_mse_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between heatmaps, each keypoint channel weighted (SimpleBaseline's ``JointsMSELoss``).

    Args:
        pred: ``(B, K, H, W)`` float, the network's heatmaps.
        target: ``(B, K, H, W)`` float in [0, 1], e.g. from :func:`gaussian_heatmaps`.
        weight: ``(B, K)`` float (the weight :func:`gaussian_heatmaps` returns), or None for all ones.

    Returns:
        a scalar tensor: ``mean over b, k, y, x of weight[b, k] * (pred - target)^2`` (differentiable).

    Raises:
        ValueError / TypeError: shapes that differ or a non-float input.
    """
    pred = _check_heatmaps(pred)
    target = _check_float(target, "target", "(B, K, H, W)", 4)
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must have the same shape.")
    err = (pred - target) ** 2
    if weight is not None:
        weight = _check_float(weight, "weight", f"(B, K) = {tuple(pred.shape[:2])}", 2)
        if weight.shape != pred.shape[:2]:
            raise ValueError(f"weight must have shape (B, K) = {tuple(pred.shape[:2])}, got {tuple(weight.shape)}.")
        err = err * weight[..., None, None]
    return err.mean()


def decode_argmax(heatmaps: torch.Tensor, stride: int = 1, refine: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints at each heatmap's maximum, in image pixels, with the peak values as scores.

    ``refine`` applies the quarter-cell correction of Newell et al. (Stacked Hourglass, ECCV 2016), also used
    by SimpleBaseline and CenterNet's pose decoder: the argmax can only land on a cell centre, so it is moved
    0.25 cell towards the higher of its two horizontal neighbours (and likewise vertically), nothing if they are
    equal or the peak is on the border. This halves the expected quantisation error of a peak lying between
    cells, from up to 0.5 cell to about 0.25, without fitting anything.

    Args:
        heatmaps: ``(B, K, H, W)`` float (any range; the peak of each channel is taken).
        stride: image pixels per heatmap cell.
        refine: apply the quarter-cell shift.

    Returns:
        ``(coords, scores)``: coords ``(B, K, 2)`` float ``(x, y)`` in image pixels (see the module docstring);
        scores ``(B, K)`` the peak values (ties: the first cell in row-major order).

    Raises:
        ValueError / TypeError: heatmaps not a non-empty ``(B, K, H, W)`` float tensor, a bad stride.
    """
    hm = _check_heatmaps(heatmaps)
    _check_stride(stride)
    b, k, h, w = hm.shape
    scores, idx = hm.reshape(b, k, h * w).max(dim=-1)
    ys, xs = idx // w, idx % w
    coords = torch.stack([xs, ys], dim=-1).to(hm.dtype)
    if refine:
        flat = hm.reshape(b * k, h, w)
        n = torch.arange(b * k, device=hm.device)
        x, y = xs.reshape(-1), ys.reshape(-1)
        shift = torch.zeros(b * k, 2, dtype=hm.dtype, device=hm.device)
        inner_x = (x > 0) & (x < w - 1)
        inner_y = (y > 0) & (y < h - 1)
        xr, xl = (x + 1).clamp(max=w - 1), (x - 1).clamp(min=0)
        yd, yu = (y + 1).clamp(max=h - 1), (y - 1).clamp(min=0)
        shift[:, 0] = torch.sign(flat[n, y, xr] - flat[n, y, xl]) * inner_x
        shift[:, 1] = torch.sign(flat[n, yd, x] - flat[n, yu, x]) * inner_y
        coords = coords + 0.25 * shift.reshape(b, k, 2)
    return heatmap_to_image(coords, stride), scores


def soft_argmax(heatmaps: torch.Tensor, beta: float = 20.0, stride: int = 1) -> torch.Tensor:
    """Differentiable keypoints: the expected cell position under ``softmax(beta * heatmap)``.

    Integral regression (Sun et al., "Integral Human Pose Regression", ECCV 2018): the heatmap becomes a
    probability map ``p = softmax(beta * heatmap)`` over its ``H * W`` cells and the keypoint is
    ``(sum p * x, sum p * y)``, so a loss on coordinates trains the heatmap end to end and the estimate is
    sub-pixel. ``beta`` is an inverse temperature. Sun et al. apply the softmax to the network's raw
    outputs (``beta = 1``). For targets in [0, 1] such as :func:`gaussian_heatmaps`' ``beta`` must be large
    enough that the ``H * W`` background cells (weight ``exp(-beta)`` each relative to the peak) do not pull
    the estimate towards the map's centre, yet small enough that the peak of width about ``sigma / sqrt(beta)``
    cells still spans several cells (a narrower peak snaps towards the nearest cell centre). With the default
    20, on Gaussian targets the error measured on maps up to 256 x 256 is below 0.01 cell for ``sigma >= 3``
    cells and below 0.07 cell for ``sigma = 2``; ``sigma = 1`` snaps by up to 0.4 cell (use :func:`decode_argmax`).

    Args:
        heatmaps: ``(B, K, H, W)`` float.
        beta: inverse temperature, > 0.
        stride: image pixels per heatmap cell.

    Returns:
        ``(B, K, 2)`` float ``(x, y)`` in image pixels (see the module docstring), differentiable.

    Raises:
        ValueError / TypeError: heatmaps not a non-empty ``(B, K, H, W)`` float tensor, ``beta <= 0``, a bad stride.
    """
    hm = _check_heatmaps(heatmaps)
    _check_stride(stride)
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (the softmax's inverse temperature), got {beta!r}.")
    b, k, h, w = hm.shape
    p = torch.softmax(beta * hm.reshape(b, k, h * w), dim=-1).reshape(b, k, h, w)
    cols = torch.arange(w, dtype=hm.dtype, device=hm.device)
    rows = torch.arange(h, dtype=hm.dtype, device=hm.device)
    x = (p.sum(dim=2) * cols).sum(dim=-1)
    y = (p.sum(dim=3) * rows).sum(dim=-1)
    return heatmap_to_image(torch.stack([x, y], dim=-1), stride)


def _check_pair(pred: object, true: object, visible: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pred, true as (B, K, 2|3) float (only x, y kept), visible as a (B, K) bool of v > 0."""
    p = _check_float(pred, "pred", "(B, K, 2) (x, y)", 3, (2, 3))
    t = _check_float(true, "true", "(B, K, 2) (x, y)", 3, (2, 3))
    if p.shape[:2] != t.shape[:2]:
        raise ValueError(f"pred {tuple(p.shape)} and true {tuple(t.shape)} must have the same (B, K).")
    if not isinstance(visible, torch.Tensor) or visible.shape != p.shape[:2]:
        got = tuple(visible.shape) if isinstance(visible, torch.Tensor) else type(visible).__name__
        raise ValueError(f"visible must be a (B, K) = {tuple(p.shape[:2])} tensor of COCO v or bools, got {got}.")
    return p[..., :2], t[..., :2], visible > 0


def _per_instance(x: object, n: int, what: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A scalar or a (B,) tensor/sequence -> a (B,) tensor."""
    t = torch.as_tensor(x, dtype=dtype, device=device)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"{what} must be a number or one value per instance, shape ({n},), got {tuple(t.shape)}.")
    return t


def pck(
    pred: torch.Tensor,
    true: torch.Tensor,
    visible: torch.Tensor,
    threshold: float,
    normaliser: float | torch.Tensor | Sequence[float],
) -> tuple[torch.Tensor, float]:
    """Percentage of Correct Keypoints: a labelled keypoint is correct when it lies within ``threshold * normaliser``.

    Common choices: PCK@0.2 with the box diagonal or the box's longer side as ``normaliser`` (per instance);
    PCKh@0.5 (MPII) with the head segment's length; PCK@0.05 with the image size.

    Args:
        pred, true: ``(B, K, 2)`` float ``(x, y)`` in image pixels (``(B, K, 3)`` also accepted; ``v`` ignored).
        visible: ``(B, K)`` COCO ``v`` or bools; only keypoints with ``v > 0`` are counted.
        threshold: fraction of the normaliser, > 0.
        normaliser: a length in pixels, a number or one per instance ``(B,)``, > 0.

    Returns:
        ``(per_keypoint, mean)``: per_keypoint ``(K,)`` float, the fraction in [0, 1] of instances whose keypoint
        ``k`` is correct among those where it is labelled (NaN where it never is); mean, the fraction over all
        labelled keypoints pooled (each keypoint type weighted by its count, as MPII's mean PCKh), NaN if none.
        The distance test is strict: ``||pred - true|| < threshold * normaliser``.

    Raises:
        ValueError / TypeError: shapes that do not match, ``threshold <= 0`` or a normaliser that is not > 0.
    """
    p, t, vis = _check_pair(pred, true, visible)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0 (a fraction of the normaliser), got {threshold!r}.")
    norm = _per_instance(normaliser, p.shape[0], "normaliser", p.dtype, p.device)
    if not bool((norm > 0).all()):
        raise ValueError("normaliser must be > 0 for every instance (a length in pixels, e.g. the box diagonal).")
    dist = torch.linalg.vector_norm(p - t, dim=-1)
    correct = (dist < threshold * norm[:, None]) & vis
    counts = vis.sum(dim=0)
    per_keypoint = correct.sum(dim=0).to(p.dtype) / counts.to(p.dtype)  # 0/0 = NaN where never labelled
    total = int(counts.sum())
    mean = float(correct.sum()) / total if total else float("nan")
    return per_keypoint, mean


def oks(
    pred: torch.Tensor,
    true: torch.Tensor,
    visible: torch.Tensor,
    area: float | torch.Tensor | Sequence[float],
    sigmas: Sequence[float] | torch.Tensor | np.ndarray,
) -> torch.Tensor:
    """Object Keypoint Similarity of each instance, as COCO defines it (``pycocotools`` ``COCOeval.computeOks``).

    ``OKS = mean over labelled keypoints (v > 0) of exp(-d_i^2 / (2 s^2 k_i^2))`` with ``d_i`` the distance in
    pixels, ``s^2`` the object's ``area`` and ``k_i = 2 sigma_i``. pycocotools writes it as
    ``vars = (sigmas * 2) ** 2``, ``e = (dx^2 + dy^2) / vars / (area + eps) / 2``, ``mean(exp(-e[vg > 0]))``
    (``eps`` = ``np.spacing(1)``). OKS plays the role of IoU for keypoints: 1 for a perfect prediction,
    ``exp(-1/2) = 0.61`` when every keypoint is ``k_i * s`` pixels off.

    Args:
        pred, true: ``(B, K, 2)`` float ``(x, y)`` in image pixels (``(B, K, 3)`` also accepted; ``v`` ignored).
        visible: ``(B, K)`` COCO ``v`` of the ground truth, or bools; keypoints with ``v > 0`` are averaged.
        area: the ground-truth object's area in pixels² (COCO: the segmentation area; without masks usually
            the box area ``w * h``), a number or ``(B,)``, >= 0.
        sigmas: ``(K,)`` per-keypoint constants, > 0 (:data:`COCO_SIGMAS` for COCO people).

    Returns:
        ``(B,)`` float64 OKS in [0, 1]; NaN for an instance without labelled keypoints (pycocotools measures
        such a detection's distance to the box grown by its size on each side instead, but COCOeval ignores
        ground truth with ``num_keypoints == 0`` anyway).

    Raises:
        ValueError / TypeError: shapes that do not match, ``len(sigmas) != K``, a sigma <= 0 or a negative area.
    """
    p, t, vis = _check_pair(pred, true, visible)
    n, k = vis.shape
    s = torch.as_tensor(np.asarray(sigmas, dtype=np.float64) if not isinstance(sigmas, torch.Tensor) else sigmas)
    s = s.to(torch.float64)
    if s.shape != (k,):
        raise ValueError(f"sigmas must have one value per keypoint, shape ({k},), got {tuple(s.shape)}.")
    if not bool((s > 0).all()):
        raise ValueError("sigmas must all be > 0 (COCO's person sigmas are 0.025 to 0.107).")
    a = _per_instance(area, n, "area", torch.float64, torch.device("cpu"))
    if not bool((a >= 0).all()):
        raise ValueError("area must be >= 0 for every instance (the object's area in pixels²).")
    d2 = ((p.detach().cpu().double() - t.detach().cpu().double()) ** 2).sum(dim=-1)
    e = d2 / (2 * s) ** 2 / (a[:, None] + np.spacing(1)) / 2
    vis = vis.cpu()
    terms = torch.where(vis, torch.exp(-e), torch.zeros_like(e))
    return terms.sum(dim=-1) / vis.sum(dim=-1)  # 0/0 = NaN without labelled keypoints
