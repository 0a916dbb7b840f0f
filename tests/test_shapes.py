import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_util
from torchvision import tv_tensors

from cvlib.data.shapes import (
    CLASSES,
    CocoInstances,
    ShapesDataset,
    decode_mask,
    encode_mask,
    generate_scenes,
    masks_to_boxes_exclusive,
    scenes_to_coco,
    write_coco,
)


def test_scenes_are_deterministic_and_masks_exact():
    a, b = generate_scenes(6, seed=3), generate_scenes(6, seed=3)
    c = generate_scenes(6, seed=4)
    for s, t in zip(a, b):
        assert np.array_equal(s.image, t.image) and np.array_equal(s.masks, t.masks) and np.array_equal(s.labels, t.labels)
    assert not all(np.array_equal(s.image, t.image) for s, t in zip(a, c))
    for s in a:
        assert s.image.shape == (128, 128, 3) and s.image.dtype == np.uint8
        assert s.masks.dtype == bool and s.masks.shape == (len(s.labels), 128, 128)
        assert set(s.labels.tolist()) <= {1, 2, 3}
        # visible masks never overlap and none is empty
        assert s.masks.sum(axis=0).max() <= 1 and (s.masks.sum(axis=(1, 2)) > 0).all()
        # every pixel of an instance has (about) the shape's colour, not the background's
        for m in s.masks:
            inside = s.image[m].astype(float)
            assert inside.std(axis=0).max() < 25


def test_boxes_match_coco_boxes_of_the_masks():
    masks = np.zeros((2, 10, 12), dtype=bool)
    masks[0, 2:5, 3:8] = True  # rows 2..4, columns 3..7
    boxes = masks_to_boxes_exclusive(masks)
    assert boxes[0].tolist() == [3, 2, 8, 5] and boxes[1].tolist() == [0, 0, 0, 0]
    for s in generate_scenes(4, seed=0):
        for m, box in zip(s.masks, s.boxes):
            x, y, w, h = mask_util.toBbox(mask_util.encode(np.asfortranarray(m.astype(np.uint8))))
            assert [x, y, x + w, y + h] == box.tolist()


def test_dataset_items_in_torchvision_format():
    ds = ShapesDataset(3, seed=0, size=64, max_objects=3)
    image, target = ds[1]
    n = len(target["labels"])
    assert isinstance(image, tv_tensors.Image) and image.shape == (3, 64, 64) and image.dtype == torch.uint8
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].shape == (n, 4)
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].shape == (n, 64, 64)
    assert target["labels"].dtype == torch.int64 and target["image_id"] == 1
    with pytest.raises(ValueError, match="size"):
        ShapesDataset(1, size=16)


def test_coco_writer_reader_round_trips_masks_exactly(tmp_path):
    scenes = generate_scenes(5, seed=7)
    path = write_coco(scenes, tmp_path / "shapes")
    coco = json.loads(path.read_text())
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    assert len(coco["annotations"]) == sum(len(s.labels) for s in scenes)
    ann = coco["annotations"][0]
    assert isinstance(ann["segmentation"]["counts"], str) and ann["iscrowd"] == 0 and ann["id"] >= 1
    ds = CocoInstances(tmp_path / "shapes" / "images", path)
    assert len(ds) == 5 and ds.classes == list(CLASSES)
    for i, s in enumerate(scenes):
        image, masks, labels = ds.load(i)
        assert np.array_equal(image, s.image)  # PNG is lossless
        assert np.array_equal(masks, s.masks) and np.array_equal(labels, s.labels)
        _, target = ds[i]
        assert torch.equal(target["boxes"], torch.from_numpy(s.boxes))


def test_mask_codecs_and_errors(tmp_path):
    m = np.zeros((6, 7), dtype=bool)
    m[1:4, 2:6] = True
    assert np.array_equal(decode_mask(encode_mask(m), 6, 7), m)
    poly = [[2.0, 1.0, 6.0, 1.0, 6.0, 4.0, 2.0, 4.0]]  # x, y pairs of a rectangle
    assert decode_mask(poly, 6, 7).sum() > 0
    with pytest.raises(ValueError, match="does not match the image size"):
        decode_mask(encode_mask(m), 8, 8)
    with pytest.raises(FileNotFoundError, match="write_coco"):
        CocoInstances(tmp_path, tmp_path / "missing.json")
    # an annotation whose mask has another size than its image: a clear error naming the image
    scenes = generate_scenes(1, seed=0, size=64)
    coco = scenes_to_coco(scenes)
    coco["annotations"][0]["segmentation"] = encode_mask(np.ones((32, 32), dtype=bool))
    (tmp_path / "images").mkdir()
    from PIL import Image

    Image.fromarray(scenes[0].image).save(tmp_path / "images" / "00000.png")
    (tmp_path / "bad.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match="00000.png"):
        CocoInstances(tmp_path / "images", tmp_path / "bad.json")[0]
