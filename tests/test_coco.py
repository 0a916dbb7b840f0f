import json

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_util
from torchvision import tv_tensors

from cvlib.data.coco import (
    CocoInstances,
    coco_instances,
    decode_mask,
    encode_mask,
    instance_sample,
    load_coco_api,
    masks_to_boxes_exclusive,
    write_coco,
)


def rect_masks():
    masks = np.zeros((2, 10, 12), dtype=bool)
    masks[0, 2:5, 3:8] = True  # rows 2..4, columns 3..7
    masks[1, 6:10, 0:2] = True  # rows 6..9, columns 0..1
    return masks


def sample(image_id=0, **extra):
    masks = rect_masks()
    return {
        "image_id": image_id,
        "height": 10,
        "width": 12,
        "boxes": masks_to_boxes_exclusive(masks),
        "labels": [1, 2],
        "masks": masks,
        **extra,
    }


def test_mask_boxes_have_exclusive_ends():
    boxes = masks_to_boxes_exclusive(rect_masks())
    assert boxes.dtype == torch.float32 and boxes.tolist() == [[3, 2, 8, 5], [0, 6, 2, 10]]


def test_mask_boxes_equal_pycocotools_boxes():
    masks = np.random.default_rng(0).random((6, 20, 17)) > 0.8
    for m, box in zip(masks, masks_to_boxes_exclusive(torch.from_numpy(masks))):
        x, y, w, h = mask_util.toBbox(mask_util.encode(np.asfortranarray(m.astype(np.uint8))))
        assert box.tolist() == [x, y, x + w, y + h]


def test_empty_mask_gives_zero_box_and_no_masks_give_no_boxes():
    masks = np.zeros((2, 5, 5), dtype=bool)
    masks[1, 1, 1] = True
    assert masks_to_boxes_exclusive(masks).tolist() == [[0, 0, 0, 0], [1, 1, 2, 2]]
    assert masks_to_boxes_exclusive(np.zeros((0, 5, 5), bool)).shape == (0, 4)


def test_mask_boxes_refuse_a_single_2d_mask():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        masks_to_boxes_exclusive(np.ones((4, 4), bool))


def test_rle_round_trip_and_polygons():
    m = np.zeros((6, 7), dtype=bool)
    m[1:4, 2:6] = True
    rle = encode_mask(m)
    assert rle["size"] == [6, 7] and isinstance(rle["counts"], str)
    assert np.array_equal(decode_mask(rle, 6, 7), m)
    assert np.array_equal(decode_mask(json.loads(json.dumps(rle)), 6, 7), m)
    poly = [[2.0, 1.0, 6.0, 1.0, 6.0, 4.0, 2.0, 4.0]]  # x, y pairs of a rectangle
    assert decode_mask(poly, 6, 7)[2, 3] and not decode_mask(poly, 6, 7)[5, 0]


def test_decode_refuses_a_mask_of_another_size():
    with pytest.raises(ValueError, match="does not match the image size"):
        decode_mask(encode_mask(np.ones((6, 7), bool)), 8, 8)


def test_encode_refuses_stacked_masks():
    with pytest.raises(ValueError, match="one \\(H, W\\) mask"):
        encode_mask(np.ones((2, 6, 7), bool))


def test_instance_sample_in_torchvision_format():
    image = np.zeros((10, 12, 3), np.uint8)
    img, target = instance_sample(image, rect_masks(), np.array([1, 2]), 7)
    assert isinstance(img, tv_tensors.Image) and img.shape == (3, 10, 12) and img.dtype == torch.uint8
    assert isinstance(target["boxes"], tv_tensors.BoundingBoxes) and target["boxes"].canvas_size == (10, 12)
    assert target["boxes"].tolist() == [[3, 2, 8, 5], [0, 6, 2, 10]]
    assert isinstance(target["masks"], tv_tensors.Mask) and target["masks"].dtype == torch.uint8
    assert target["labels"].tolist() == [1, 2] and target["image_id"] == 7
    _, empty = instance_sample(image, np.zeros((0, 10, 12), bool), np.zeros(0), 8)
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 10, 12)


def test_instance_sample_refuses_masks_of_another_size():
    with pytest.raises(ValueError, match="the image is 8x8"):
        instance_sample(np.zeros((8, 8, 3), np.uint8), rect_masks(), np.array([1, 2]), 0)


def test_coco_instances_from_masks_uses_mask_area_and_box():
    coco = coco_instances([sample(4)], ["a", "b"])
    assert coco["images"] == [{"id": 4, "height": 10, "width": 12}]
    assert coco["categories"] == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    first, second = coco["annotations"]
    assert first["id"] == 1 and second["id"] == 2 and first["image_id"] == 4 and second["category_id"] == 2
    assert first["bbox"] == [3, 2, 5, 3] and first["area"] == 15.0 and second["area"] == 8.0
    assert np.array_equal(decode_mask(first["segmentation"], 10, 12), rect_masks()[0])
    assert first["iscrowd"] == 0


def test_coco_instances_without_masks_uses_box_area():
    coco = coco_instances([{"image_id": 1, "height": 10, "width": 12, "boxes": [[1.0, 2, 5, 4]], "labels": [1]}], ["a"])
    ann = coco["annotations"][0]
    assert ann["area"] == 8.0 and ann["bbox"] == [1.0, 2.0, 4.0, 2.0] and "segmentation" not in ann


def test_coco_instances_takes_the_size_from_the_image_and_keeps_file_names():
    s = sample(0, file_name="x.png")
    del s["height"], s["width"]
    coco = coco_instances([{**s, "image": np.zeros((10, 12, 3), np.uint8)}], ["a", "b"], supercategory="thing")
    assert coco["images"] == [{"id": 0, "file_name": "x.png", "height": 10, "width": 12}]
    assert coco["categories"][0]["supercategory"] == "thing"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": [1, 3]}, "label 3 is not a class 1..2"),
        ({"labels": [0, 1]}, "label 0 is not a class"),
        ({"labels": [1]}, "2 boxes but 1 labels"),
        ({"boxes": torch.zeros(2, 3)}, r"boxes must be \(N, 4\)"),
        ({"masks": np.zeros((2, 5, 5), bool)}, r"give \(2, 10, 12\) masks"),
    ],
)
def test_coco_instances_refuses_bad_samples(change, message):
    with pytest.raises(ValueError, match=message):
        coco_instances([{**sample(), **change}], ["a", "b"])


def test_coco_instances_needs_the_image_size():
    s = sample(2)
    del s["height"], s["width"]
    with pytest.raises(ValueError, match="image_id 2 has no 'height'/'width'"):
        coco_instances([s], ["a", "b"])


def test_coco_instances_refuses_a_repeated_image_id():
    with pytest.raises(ValueError, match="image_id 3 occurs twice"):
        coco_instances([sample(3), sample(3)], ["a", "b"])


def test_write_coco_and_read_back(tmp_path):
    rng = np.random.default_rng(0)
    samples = [{**sample(i), "image": rng.integers(0, 255, (10, 12, 3), dtype=np.uint8)} for i in (5, 9)]
    path = write_coco(samples, tmp_path / "set", ["a", "b"])
    coco = json.loads(path.read_text())
    assert [im["file_name"] for im in coco["images"]] == ["00005.png", "00009.png"]
    ds = CocoInstances(tmp_path / "set" / "images", path)
    assert len(ds) == 2 and ds.classes == ["a", "b"] and ds.aspect_ratios() == [1.2, 1.2]
    image, masks, labels = ds.load(1)
    assert (
        np.array_equal(image, samples[1]["image"]) and np.array_equal(masks, rect_masks()) and labels.tolist() == [1, 2]
    )
    _, target = ds[1]
    assert target["image_id"] == 9 and target["boxes"].tolist() == [[3, 2, 8, 5], [0, 6, 2, 10]]
    assert load_coco_api(path).getImgIds() == [5, 9] and load_coco_api(coco).getAnnIds() == [1, 2, 3, 4]


def test_write_coco_needs_the_pixels(tmp_path):
    with pytest.raises(ValueError, match="has no 'image'"):
        write_coco([sample(0)], tmp_path, ["a", "b"])


def test_missing_annotation_file_says_to_write_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="write_coco"):
        CocoInstances(tmp_path, tmp_path / "missing.json")


def test_annotation_mask_of_another_size_names_the_image(tmp_path):
    coco = coco_instances([sample(0, file_name="00000.png")], ["a", "b"])
    coco["annotations"][0]["segmentation"] = encode_mask(np.ones((4, 4), dtype=bool))
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "images" / "00000.png")
    (tmp_path / "bad.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match="00000.png"):
        CocoInstances(tmp_path / "images", tmp_path / "bad.json")[0]


def test_missing_image_file_is_named(tmp_path):
    coco = coco_instances([sample(0, file_name="gone.png")], ["a", "b"])
    (tmp_path / "a.json").write_text(json.dumps(coco))
    with pytest.raises(FileNotFoundError, match="gone.png"):
        CocoInstances(tmp_path, tmp_path / "a.json").load(0)
