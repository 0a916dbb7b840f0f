import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_util
from torchvision import tv_tensors

from cvlib.data.coco import CocoInstances
from cvlib.data.shapes import (
    CLASSES,
    ShapesDataset,
    generate_scenes,
    scene_samples,
    write_shapes_coco,
)


def test_scenes_are_deterministic_and_masks_exact():
    a, b = generate_scenes(6, seed=3), generate_scenes(6, seed=3)
    c = generate_scenes(6, seed=4)
    for s, t in zip(a, b):
        assert (
            np.array_equal(s.image, t.image) and np.array_equal(s.masks, t.masks) and np.array_equal(s.labels, t.labels)
        )
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


def test_scene_boxes_are_the_coco_boxes_of_their_masks():
    for s in generate_scenes(4, seed=0):
        assert s.boxes.dtype == np.float32 and s.boxes.shape == (len(s.labels), 4)
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
    assert torch.equal(target["boxes"].as_subclass(torch.Tensor), torch.from_numpy(ds.scenes[1].boxes))


def test_too_small_size_is_refused():
    with pytest.raises(ValueError, match="size"):
        ShapesDataset(1, size=16)


def test_scene_samples_number_images_and_name_files():
    scenes = generate_scenes(3, seed=1, size=64)
    samples = scene_samples(scenes)
    assert [s["image_id"] for s in samples] == [0, 1, 2]
    assert [s["file_name"] for s in samples] == ["00000.png", "00001.png", "00002.png"]
    assert samples[2]["height"] == samples[2]["width"] == 64 and samples[2]["image"] is scenes[2].image


def test_dataset_to_coco_lists_every_instance_with_shape_categories():
    ds = ShapesDataset(4, seed=2, size=64)
    coco = ds.to_coco()
    assert coco["categories"] == [{"id": k + 1, "name": n, "supercategory": "shape"} for k, n in enumerate(CLASSES)]
    assert len(coco["annotations"]) == sum(len(s.labels) for s in ds.scenes)
    assert [a["area"] for a in coco["annotations"] if a["image_id"] == 0] == [
        float(m.sum()) for m in ds.scenes[0].masks
    ]


def test_shapes_written_as_coco_read_back_exactly(tmp_path):
    scenes = generate_scenes(5, seed=7)
    path = write_shapes_coco(scenes, tmp_path / "shapes")
    coco = json.loads(path.read_text())
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    assert len(coco["annotations"]) == sum(len(s.labels) for s in scenes)
    ann = coco["annotations"][0]
    assert isinstance(ann["segmentation"]["counts"], str) and ann["iscrowd"] == 0 and ann["id"] == 1
    ds = CocoInstances(tmp_path / "shapes" / "images", path)
    assert len(ds) == 5 and ds.classes == list(CLASSES)
    for i, s in enumerate(scenes):
        image, masks, labels = ds.load(i)
        assert np.array_equal(image, s.image)  # PNG is lossless
        assert np.array_equal(masks, s.masks) and np.array_equal(labels, s.labels)
        _, target = ds[i]
        assert torch.equal(target["boxes"].as_subclass(torch.Tensor), torch.from_numpy(s.boxes))


def test_shape_mask_draws_each_shape_about_its_diameter_and_rejects_bad_arguments():
    import numpy as np
    import pytest

    from cvlib.data.shapes import shape_mask

    rng = np.random.default_rng(0)
    circle = shape_mask(rng, 1, 64, 20.0, 32.0, 32.0)
    assert circle.dtype == bool and circle.shape == (64, 64)
    assert abs(int(circle.sum()) - np.pi * 10**2) < 0.1 * np.pi * 10**2
    for label in (2, 3):
        assert shape_mask(rng, label, 64, 20.0, 32.0, 32.0).any()
    with pytest.raises(ValueError, match="label 1, 2 or 3"):
        shape_mask(rng, 4, 64, 20.0, 32.0, 32.0)
