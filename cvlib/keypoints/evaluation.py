"""COCO keypoint evaluation (lesson 09): result entries and keypoint AP / AR with ``pycocotools``.

Part of :mod:`cvlib.keypoints`. COCO scores keypoints like boxes, with the Object Keypoint Similarity
(:func:`cvlib.keypoints.heatmaps.oks`) in place of IoU: detections are matched to ground truth at OKS
thresholds 0.50:0.05:0.95 and AP / AR are averaged over them.

What COCOeval's ``"keypoints"`` mode does that the box mode does not (pycocotools 2.0.x, read from
``cocoeval.py`` / ``coco.py``):

- at most **20** detections per image count (``params.maxDets = [20]``, the highest scores);
- ground truth with ``num_keypoints == 0`` (or ``iscrowd``) is ignored: matching it costs nothing;
- there is **no AP_small**: the area ranges are ``all`` = [0, 1e10], ``medium`` = [32², 96²) and
  ``large`` = [96², 1e10] pixels². ``AP`` / ``AR`` (range ``all``) count every object, however small;
  ``AP_medium`` and ``AP_large`` ignore ground truth outside their range, and also unmatched detections
  whose area is outside it. A detection's area is that of the box around *all* its keypoints
  (``loadRes``), so it is smaller than the figure's, and 0 for a detection whose keypoints all coincide: such
  a false positive lowers ``AP`` but is ignored by every range whose lower bound is above 0 (the default
  ``medium`` and ``large``);
- the OKS scale ``s² = area`` is the ground truth's ``"area"`` field, so OKS is stricter on small objects.

**Small images.** On 64 x 64 images every figure has an area below 64² = 4096 < 96², so ``AP_large`` and
``AR_large`` are -1 (no ground truth in range), and figures under 32 x 32 = 1024 px² are left out of
``AP_medium`` too (-1 when all are): only ``AP``, ``AP50``, ``AP75`` and the ``AR`` counterparts mean
something. :func:`keypoint_ap`'s ``area_ranges`` sets the medium / large ranges to sizes that fit the data.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from cvlib.data.coco import load_coco_api

__all__ = ["COCO_AREA_RANGES", "KEYPOINT_STAT_NAMES", "keypoint_ap", "keypoint_results"]

#: Names of the 10 ``COCOeval.stats`` of the ``"keypoints"`` mode, in order.
KEYPOINT_STAT_NAMES = ("AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large")

#: pycocotools' keypoint area ranges (pixels²), ``params.areaRng`` of ``setKpParams``; "all" is always [0, 1e10].
COCO_AREA_RANGES: dict[str, tuple[float, float]] = {"medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}


def keypoint_results(
    coords: torch.Tensor,
    scores: torch.Tensor,
    image_ids: Sequence[int] | torch.Tensor,
    category_id: int = 1,
    box_scores: torch.Tensor | Sequence[float] | None = None,
) -> list[dict]:
    """Keypoint predictions -> COCO keypoint result entries, one per instance.

    Args:
        coords: ``(B, K, 2)`` float ``(x, y)`` in image pixels (integer = pixel centre, the COCO annotation
            convention, so no shift is applied), e.g. from :func:`cvlib.keypoints.heatmaps.decode_argmax`.
        scores: ``(B, K)`` float, per-keypoint confidences (the heatmap peaks).
        image_ids: ``B`` ints, the COCO image id of each instance (several instances may share an image).
        category_id: the COCO category of every instance (1 = the one keypoint category, e.g. person).
        box_scores: ``(B,)`` instance confidences (e.g. the detector's box score); default: the mean of each
            instance's keypoint scores.

    Returns:
        ``[{"image_id", "category_id", "keypoints": [x1, y1, 1, ..., xK, yK, 1], "score"}, ...]``: the flat list
        COCO expects, with ``v = 1`` for every keypoint (COCOeval does not read ``v`` of results; the
        per-keypoint scores only enter through the instance ``score``, which ranks detections for AP).

    Raises:
        ValueError / TypeError: shapes that do not match, or non-finite coordinates or scores.
    """
    if not isinstance(coords, torch.Tensor) or coords.ndim != 3 or coords.shape[-1] != 2:
        got = tuple(coords.shape) if isinstance(coords, torch.Tensor) else type(coords).__name__
        raise ValueError(f"coords must be a (B, K, 2) tensor of (x, y) in image pixels, got {got}.")
    n, k = coords.shape[:2]
    if not isinstance(scores, torch.Tensor) or scores.shape != (n, k):
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a (B, K) = {(n, k)} tensor of keypoint confidences, got {got}.")
    ids = torch.as_tensor(image_ids).reshape(-1).tolist()
    if len(ids) != n:
        raise ValueError(f"{len(ids)} image ids for {n} instances: give one image id per instance (row of coords).")
    inst = scores.detach().float().mean(dim=1) if box_scores is None else torch.as_tensor(box_scores).float()
    if inst.shape != (n,):
        raise ValueError(f"box_scores must have one score per instance, shape ({n},), got {tuple(inst.shape)}.")
    xy = coords.detach().cpu().double()
    if not bool(torch.isfinite(xy).all()) or not bool(torch.isfinite(inst).all()):
        raise ValueError("coords and scores must be finite (no NaN or inf): COCO results cannot hold them.")
    flat = torch.cat([xy, torch.ones(n, k, 1, dtype=xy.dtype)], dim=-1).reshape(n, 3 * k).tolist()
    return [
        {"image_id": int(i), "category_id": int(category_id), "keypoints": kps, "score": float(s)}
        for i, kps, s in zip(ids, flat, inst.tolist())
    ]


def _check_ground_truth(dataset: Mapping[str, Any], k: int) -> None:
    """One clear error unless every annotation is a COCO keypoint annotation with ``k`` keypoints."""
    if not isinstance(dataset, Mapping) or not {"images", "annotations", "categories"} <= set(dataset):
        raise ValueError(
            "coco_gt must be a COCO dict with 'images', 'annotations' and 'categories' (or a COCO object)."
        )
    need = ("id", "image_id", "category_id", "keypoints", "num_keypoints", "area", "bbox", "iscrowd")
    for ann in dataset["annotations"]:
        missing = [key for key in need if key not in ann]
        if missing:
            raise ValueError(
                f"ground-truth annotation {ann.get('id', '?')} lacks {', '.join(missing)}: keypoint evaluation "
                f"needs {', '.join(need)} in every annotation."
            )
        if len(ann["keypoints"]) != 3 * k:
            raise ValueError(
                f"ground-truth annotation {ann['id']} has {len(ann['keypoints'])} keypoint values but sigmas has "
                f"{k} entries: give one sigma per keypoint (3 values x, y, v each)."
            )


def keypoint_ap(
    coco_gt: dict | Any,
    results: Sequence[Mapping[str, Any]],
    sigmas: Sequence[float] | np.ndarray | torch.Tensor,
    *,
    area_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, float]:
    """COCO keypoint AP and AR of ``results`` against ``coco_gt`` (``COCOeval`` with ``iouType="keypoints"``).

    Args:
        coco_gt: a COCO dict (or ``pycocotools.coco.COCO``; neither is modified) whose annotations have
            ``keypoints`` (flat ``[x, y, v] * K``), ``num_keypoints``, ``area``, ``bbox`` and ``iscrowd``, and whose
            categories list the ``keypoints`` names.
        results: COCO keypoint result entries (:func:`keypoint_results`): ``image_id``, ``category_id``,
            ``keypoints``, ``score``.
        sigmas: ``K`` per-keypoint OKS constants (``params.kpt_oks_sigmas``),
            :data:`cvlib.keypoints.heatmaps.COCO_SIGMAS` for COCO people.
        area_ranges: ``{"medium": (lo, hi), "large": (lo, hi)}`` in pixels² replacing pycocotools' defaults
            (:data:`COCO_AREA_RANGES`, 32² / 96²), e.g. for small images (see the module docstring); a missing
            key keeps its default. The names stay ``AP_medium`` / ``AP_large``. Range ``all`` is unaffected.

    Returns:
        ``{"AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large"}``
        (:data:`KEYPOINT_STAT_NAMES`): COCOeval's 10 keypoint ``stats``, in [0, 1], -1 where the ground truth has
        no (non-ignored) object in that area range. No results at all: 0 where there are objects.
        pycocotools' printing is captured.

    Raises:
        ValueError: ground truth that is not keypoint annotations with ``len(sigmas)`` keypoints, a sigma <= 0,
            results without ``keypoints`` or with another number of them, results naming an image id that is
            not in the ground truth, or a bad area range.
    """
    from pycocotools.cocoeval import COCOeval

    s = np.asarray(sigmas.detach().cpu() if isinstance(sigmas, torch.Tensor) else sigmas, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0 or not (s > 0).all():
        raise ValueError(f"sigmas must be K > 0 values, one per keypoint, got {s.tolist()!r}.")
    k = len(s)
    ranges = dict(COCO_AREA_RANGES)
    for name, rng in (area_ranges or {}).items():
        if name not in ranges or len(rng) != 2 or not 0 <= rng[0] < rng[1]:
            raise ValueError(
                f"area_ranges must map 'medium' / 'large' to (lo, hi) pixels² with 0 <= lo < hi, got {name!r}: {rng!r}."
            )
        ranges[name] = (float(rng[0]), float(rng[1]))
    dataset = coco_gt if isinstance(coco_gt, Mapping) else coco_gt.dataset
    _check_ground_truth(dataset, k)
    for r in results:
        if "keypoints" not in r or len(r["keypoints"]) != 3 * k:
            got = len(r["keypoints"]) if "keypoints" in r else "no"
            raise ValueError(
                f"a result for image {r.get('image_id', '?')} has {got} keypoint values, expected 3 x {k} "
                "(flat [x, y, v, ...]; build results with keypoint_results)."
            )
    gt = load_coco_api(copy.deepcopy(dict(dataset)))  # COCOeval adds keys to the ground truth's annotations
    unknown = sorted({int(r["image_id"]) for r in results} - set(gt.getImgIds()))
    if unknown:
        raise ValueError(
            f"results name image_id {unknown[0]}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + " that is not in the ground truth: use the dataset's image ids."
        )
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            dt = gt.loadRes(copy.deepcopy(list(results)))  # loadRes adds area, bbox and id to its entries
        else:  # loadRes cannot take an empty list: an empty result set over the same images
            dt = load_coco_api(
                {
                    "images": copy.deepcopy(gt.dataset["images"]),
                    "categories": copy.deepcopy(gt.dataset["categories"]),
                    "annotations": [],
                }
            )
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.kpt_oks_sigmas = s  # an array: computeOks does (sigmas * 2) ** 2, which a list cannot
        ev.params.areaRng = [[0.0, 1e5**2], list(ranges["medium"]), list(ranges["large"])]
        ev.params.areaRngLbl = ["all", "medium", "large"]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(KEYPOINT_STAT_NAMES, ev.stats)}
