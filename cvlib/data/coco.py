"""The COCO instance format in one place, and the detection target format every instance dataset returns (lesson 03).

Used by lesson 03 (detection fine-tuning) and by :mod:`cvlib.data.shapes`, :mod:`cvlib.data.pennfudan`
and :mod:`cvlib.detection`. ``cvlib.data`` holds datasets only: this module is the shared *format*
(one real dataset per file, generated datasets by family, shared formats such as COCO here).

- :func:`encode_mask` / :func:`decode_mask` -- COCO run-length encoding (``pycocotools.mask``);
- :func:`masks_to_boxes_exclusive` -- the one mask-to-box function of cvlib;
- :func:`instance_sample` -- an image + instance masks + labels as ``(image, target)`` for torchvision detectors;
- :func:`coco_instances` -- the one COCO ground-truth builder (``images``, ``annotations``, ``categories``);
- :func:`write_coco`, :func:`load_coco_api`, :class:`CocoInstances` -- write a COCO folder, read it back;
- :func:`coco_keypoints` -- an image's person-style keypoint annotations as ``(N, K, 3)`` (lesson 09).

Conventions (as in torchvision's detection models), stated once for all of cvlib:

- label ``0`` is the background; object classes are ``1..K`` and COCO category ``k`` is ``class_names[k - 1]``;
- a box is ``(x1, y1, x2, y2)`` float32 in pixels with ``x2``/``y2`` *exclusive*: a mask covering
  columns 3..7 and rows 2..4 has the box ``(3, 2, 8, 5)`` (width 5, height 3). This is
  ``torchvision.ops.masks_to_boxes`` (inclusive ends) plus 1 on ``x2`` and ``y2``, and equals
  COCO's ``bbox = [x1, y1, x2 - x1, y2 - y1]`` of the mask (``pycocotools.mask.toBbox``);
- a COCO ``area`` is the mask's pixel count when there is a mask, else the box's area.

A *sample* (the input of :func:`coco_instances` and :func:`write_coco`) is a mapping::

    {"image_id": int, "height": int, "width": int,          # image size (or given by "image")
     "boxes": (N, 4) XYXY, "labels": (N,) int in 1..K,
     "masks": (N, H, W) bool/uint8 (optional), "file_name": str (optional),
     "image": (H, W, 3) uint8 array (optional; needed by write_coco)}

i.e. a torchvision target plus the image size: ``{**target, "height": H, "width": W}``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_util
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes


def encode_mask(mask: np.ndarray | torch.Tensor) -> dict:
    """``(H, W)`` bool/0-1 mask -> COCO compressed RLE ``{"size": [H, W], "counts": str}`` (JSON-ready).

    Raises:
        ValueError: ``mask`` is not 2-D.
    """
    mask = mask.numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(
            f"encode_mask needs one (H, W) mask, got shape {mask.shape}; encode the masks of (N, H, W) one by one."
        )
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_mask(segmentation: dict | list, height: int, width: int) -> np.ndarray:
    """A COCO ``segmentation`` (RLE dict, uncompressed RLE or polygon list) -> ``(H, W)`` bool mask.

    Raises:
        ValueError: the RLE's size differs from ``(height, width)``.
    """
    if isinstance(segmentation, list):  # polygons
        rles = mask_util.frPyObjects(segmentation, height, width)
        rle = mask_util.merge(rles)
    elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        rle = mask_util.frPyObjects(segmentation, height, width)
    else:
        counts = segmentation["counts"]
        rle = {"size": segmentation["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    if tuple(rle["size"]) != (height, width):
        raise ValueError(f"mask size {tuple(rle['size'])} does not match the image size {(height, width)}.")
    return mask_util.decode(rle).astype(bool)


def masks_to_boxes_exclusive(masks: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` masks (bool or 0/1) -> ``(N, 4)`` float32 boxes ``(x1, y1, x2, y2)``, ``x2 = last column + 1``.

    ``torchvision.ops.masks_to_boxes`` plus 1 on ``x2``/``y2`` (see the module docstring); equals COCO's
    box of the mask. An empty mask gives the degenerate box ``(0, 0, 0, 0)``.

    Raises:
        ValueError: ``masks`` is not 3-D.
    """
    masks = torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {tuple(masks.shape)}; add a leading axis for one mask.")
    masks = masks.bool()
    if len(masks) == 0:
        return torch.zeros(0, 4, dtype=torch.float32)
    boxes = masks_to_boxes(masks).to(torch.float32)
    boxes[:, 2:] += 1
    boxes[~masks.flatten(1).any(dim=1)] = 0
    return boxes


def instance_sample(
    image: np.ndarray, masks: np.ndarray, labels: np.ndarray, image_id: int
) -> tuple[tv_tensors.Image, dict]:
    """An ``(H, W, 3)`` uint8 image, its ``(N, H, W)`` bool instance masks and ``(N,)`` labels -> ``(image, target)``.

    Returns:
        image: ``tv_tensors.Image`` ``(3, H, W)`` uint8 (use ``v2.ToDtype(torch.float32, scale=True)`` for [0, 1]);
        target: ``{"boxes": BoundingBoxes (N, 4) float32 XYXY (boxes of the masks, x2/y2 exclusive),
        "masks": Mask (N, H, W) uint8 0/1, "labels": (N,) int64, "image_id": int}``.

    Raises:
        ValueError: the masks are not ``(N, H, W)`` of the image's size, or labels and masks differ in number.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got shape {image.shape}.")
    h, w = image.shape[:2]
    masks = np.asarray(masks)
    if masks.size == 0:
        masks = masks.reshape(0, h, w)
    if masks.ndim != 3 or masks.shape[1:] != (h, w):
        raise ValueError(f"masks are {masks.shape} but the image is {h}x{w}: give (N, {h}, {w}) masks.")
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(masks):
        raise ValueError(f"{len(masks)} masks but {len(labels)} labels: give one label per mask.")
    target = {
        "boxes": tv_tensors.BoundingBoxes(masks_to_boxes_exclusive(masks), format="XYXY", canvas_size=(h, w)),
        "masks": tv_tensors.Mask(torch.from_numpy(masks.astype(np.uint8))),
        "labels": torch.as_tensor(labels, dtype=torch.int64),
        "image_id": int(image_id),
    }
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))), target


def _sample_size(sample: Mapping[str, Any]) -> tuple[int, int]:
    if "height" in sample and "width" in sample:
        return int(sample["height"]), int(sample["width"])
    if "image" in sample:
        h, w = np.asarray(sample["image"]).shape[:2]
        return int(h), int(w)
    raise ValueError(
        f"sample of image_id {sample.get('image_id', '?')} has no 'height'/'width' (nor 'image'): add the image size."
    )


def coco_instances(
    samples: Iterable[Mapping[str, Any]],
    class_names: Sequence[str],
    supercategory: str | None = None,
    *,
    keypoint_names: Sequence[str] | None = None,
    skeleton: Sequence[tuple[int, int]] | None = None,
) -> dict:
    """Samples (see the module docstring) -> a COCO ``instances`` dictionary: the one ground-truth builder.

    Each annotation gets an id from 1 (pycocotools treats id 0 as "no match"), the sample's
    ``image_id``, ``category_id`` = label, ``bbox`` = ``[x1, y1, x2 - x1, y2 - y1]`` of the sample's box,
    and, with masks, a compressed RLE ``segmentation`` (JSON-ready) and ``area`` = mask pixel count
    (else the box area; a sample's optional ``"areas"`` ``(N,)`` overrides both). Category ``k`` is
    ``class_names[k - 1]`` (with ``supercategory`` if given).

    Keypoints (COCO's person-keypoint format, lesson 09): a sample's optional ``"keypoints"`` ``(N, K, 3)``
    float ``(x, y, v)`` becomes each annotation's flat ``keypoints`` list and ``num_keypoints`` (the
    count with ``v > 0``); ``keypoint_names`` (K names) and ``skeleton`` (1-based index pairs) go into
    every category, as in ``person_keypoints_*.json``.

    Raises:
        ValueError: an image id occurs twice, a label is outside ``1..len(class_names)``, boxes are not
            ``(N, 4)``, or masks/labels/boxes differ in number or masks differ from the image size.
    """
    images: list[dict] = []
    annotations: list[dict] = []
    seen: set[int] = set()
    for sample in samples:
        image_id = int(sample["image_id"])
        where = f"image_id {image_id}"
        if image_id in seen:
            raise ValueError(f"{where} occurs twice: every sample needs its own image_id.")
        seen.add(image_id)
        h, w = _sample_size(sample)
        info: dict[str, Any] = {"id": image_id}
        if sample.get("file_name") is not None:
            info["file_name"] = str(sample["file_name"])
        info.update(height=h, width=w)
        images.append(info)
        boxes = torch.as_tensor(sample["boxes"], dtype=torch.float32).as_subclass(torch.Tensor)
        if boxes.numel() == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"{where}: boxes must be (N, 4) as (x1, y1, x2, y2), got {tuple(boxes.shape)}.")
        labels = torch.as_tensor(sample["labels"]).reshape(-1).tolist()
        if len(labels) != len(boxes):
            raise ValueError(f"{where}: {len(boxes)} boxes but {len(labels)} labels; give one label per box.")
        bad = [lab for lab in labels if not 1 <= int(lab) <= len(class_names)]
        if bad:
            raise ValueError(
                f"{where}: label {bad[0]} is not a class 1..{len(class_names)} of {list(class_names)} (0 is the background)."
            )
        keypoints = sample.get("keypoints")
        if keypoints is not None:
            keypoints = torch.as_tensor(keypoints, dtype=torch.float32)
            k = len(keypoint_names) if keypoint_names is not None else keypoints.shape[-2]
            if keypoints.shape != (len(labels), k, 3):
                raise ValueError(
                    f"{where}: keypoints are {tuple(keypoints.shape)}; give ({len(labels)}, {k}, 3) as (x, y, v)."
                )
        areas = sample.get("areas")
        if areas is not None and len(areas) != len(labels):
            raise ValueError(f"{where}: {len(areas)} areas for {len(labels)} objects.")
        masks = sample.get("masks")
        if masks is not None:
            masks = torch.as_tensor(masks).as_subclass(torch.Tensor)
            if len(masks) != len(labels) or (len(masks) and tuple(masks.shape[-2:]) != (h, w)):
                raise ValueError(
                    f"{where}: masks are {tuple(masks.shape)} for {len(labels)} objects in a {h}x{w} image; "
                    f"give ({len(labels)}, {h}, {w}) masks."
                )
        for k, (box, label) in enumerate(zip(boxes.tolist(), labels)):
            x1, y1, x2, y2 = box
            ann: dict[str, Any] = {"id": len(annotations) + 1, "image_id": image_id, "category_id": int(label)}
            if masks is not None:
                ann["segmentation"] = encode_mask(masks[k])
                ann["area"] = float(masks[k].bool().sum())
            else:
                ann["area"] = (x2 - x1) * (y2 - y1)
            if areas is not None:
                ann["area"] = float(areas[k])
            if keypoints is not None:
                ann["keypoints"] = [round(float(v), 2) for v in keypoints[k].reshape(-1).tolist()]
                ann["num_keypoints"] = int((keypoints[k, :, 2] > 0).sum())
            ann["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            ann["iscrowd"] = 0
            annotations.append(ann)
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(class_names)]
    for c in categories:
        if supercategory is not None:
            c["supercategory"] = supercategory
        if keypoint_names is not None:
            c["keypoints"] = list(keypoint_names)
            c["skeleton"] = [[int(a), int(b)] for a, b in (skeleton or [])]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(
    samples: Sequence[Mapping[str, Any]],
    folder: str | Path,
    class_names: Sequence[str],
    supercategory: str | None = None,
    *,
    keypoint_names: Sequence[str] | None = None,
    skeleton: Sequence[tuple[int, int]] | None = None,
) -> Path:
    """Write ``folder/images/*.png`` and ``folder/annotations.json`` (COCO instances); return the JSON path.

    Every sample needs an ``"image"`` ``(H, W, 3)`` uint8 array; its PNG is named by ``"file_name"``
    (default ``f"{image_id:05d}.png"``). The annotations are :func:`coco_instances` of the samples
    (with ``keypoint_names`` and ``skeleton`` for keypoint annotations).

    Raises:
        ValueError: a sample has no image (and what :func:`coco_instances` raises).
    """
    folder = Path(folder)
    named = []
    for s in samples:
        if "image" not in s:
            raise ValueError(
                f"sample of image_id {s.get('image_id', '?')} has no 'image': write_coco needs the (H, W, 3) uint8 pixels."
            )
        named.append({**s, "file_name": s.get("file_name") or f"{int(s['image_id']):05d}.png"})
    coco = coco_instances(named, class_names, supercategory, keypoint_names=keypoint_names, skeleton=skeleton)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for s in named:
        Image.fromarray(np.asarray(s["image"], dtype=np.uint8)).save(folder / "images" / s["file_name"])
    path = folder / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def load_coco_api(annotations: str | Path | dict):
    """A ``pycocotools.coco.COCO`` object from a JSON path or an in-memory dictionary (its prints silenced)."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(annotations, dict):
            coco = COCO()
            coco.dataset = annotations
            coco.createIndex()
        else:
            coco = COCO(str(annotations))
    return coco


def coco_keypoints(coco: Any, image_id: int) -> np.ndarray:
    """The keypoints of one image's non-crowd annotations as ``(N, K, 3)`` float32 ``(x, y, v)``.

    ``coco``: a ``pycocotools.coco.COCO`` object (:func:`load_coco_api`) whose annotations carry
    ``keypoints``; ``K`` is read from the category's ``keypoints`` names.

    Raises:
        ValueError: an annotation has no ``keypoints``, or their length is not a multiple of 3.
    """
    anns = [a for a in coco.imgToAnns[int(image_id)] if not a.get("iscrowd", 0)]
    out = []
    for a in anns:
        flat = a.get("keypoints")
        if flat is None or len(flat) % 3:
            raise ValueError(f"annotation {a.get('id')} of image {image_id} has no (x, y, v) keypoint list.")
        out.append(np.asarray(flat, dtype=np.float32).reshape(-1, 3))
    if not out:
        categories: list[dict] = coco.dataset.get("categories", [])
        names = categories[0].get("keypoints", []) if categories else []
        return np.zeros((0, len(names), 3), np.float32)
    return np.stack(out)


class CocoInstances(Dataset):
    """Any COCO-format instance-segmentation folder as ``(image, target)`` pairs, cached in memory.

    Args:
        image_dir: folder of the images named in the JSON's ``file_name``.
        ann_file: the COCO ``instances`` JSON.
        transforms: a ``torchvision.transforms.v2`` transform called as ``transforms(image, target)``.

    Items: see :func:`instance_sample` (image ``(3, H, W)`` uint8; labels = COCO category ids,
    so a dataset whose category ids are ``1..K`` gives labels ready for a ``K + 1``-class detector;
    ``image_id`` = the COCO image id). Crowd annotations are skipped. ``self.coco`` is the
    ``pycocotools`` COCO object (the evaluation ground truth); ``self.classes`` the category names in id order.

    Raises:
        FileNotFoundError: the JSON or an image is missing.
        ValueError: an annotation's mask size differs from its image size.
    """

    def __init__(self, image_dir: str | Path, ann_file: str | Path, transforms: Callable | None = None) -> None:
        self.image_dir, self.ann_file = Path(image_dir), Path(ann_file)
        if not self.ann_file.is_file():
            raise FileNotFoundError(
                f"COCO annotation file {self.ann_file} does not exist: write it first (write_coco)."
            )
        self.coco = load_coco_api(self.ann_file)
        self.ids = sorted(self.coco.imgs)
        self.classes = [c["name"] for c in sorted(self.coco.dataset["categories"], key=lambda c: c["id"])]
        self.transforms = transforms
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def aspect_ratios(self) -> list[float]:
        """``width / height`` of every image, from the JSON (no image is read)."""
        return [self.coco.imgs[i]["width"] / self.coco.imgs[i]["height"] for i in self.ids]

    def load(self, idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image ``(H, W, 3)`` uint8, masks ``(N, H, W)`` bool, labels ``(N,)`` int64 of item ``idx`` (cached)."""
        if idx not in self._cache:
            info = self.coco.imgs[self.ids[idx]]
            path = self.image_dir / info["file_name"]
            if not path.is_file():
                raise FileNotFoundError(f"image {path} named in {self.ann_file} does not exist.")
            image = np.asarray(Image.open(path).convert("RGB"))
            h, w = image.shape[:2]
            if (h, w) != (info["height"], info["width"]):
                raise ValueError(f"{path} is {h}x{w} but {self.ann_file} says {info['height']}x{info['width']}.")
            anns = [a for a in self.coco.imgToAnns[info["id"]] if not a.get("iscrowd", 0)]
            try:
                masks = (
                    np.stack([decode_mask(a["segmentation"], h, w) for a in anns])
                    if anns
                    else np.zeros((0, h, w), bool)
                )
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from err
            labels = np.array([a["category_id"] for a in anns], dtype=np.int64)
            self._cache[idx] = (image, masks, labels)
        return self._cache[idx]

    def __getitem__(self, idx: int) -> tuple[Any, dict]:
        image, masks, labels = self.load(idx)
        image, target = instance_sample(image, masks, labels, self.ids[idx])
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target
