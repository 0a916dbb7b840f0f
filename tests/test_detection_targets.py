"""cvlib.detection.targets: transforms, target checks, collate, aspect-ratio batches."""

import pytest
import torch
from torch.utils.data import Subset
from torchvision import tv_tensors

from cvlib.data.shapes import ShapesDataset
from cvlib.detection import (
    AspectRatioBatchSampler,
    TargetError,
    aspect_ratios,
    collate_detection,
    detection_transforms,
    validate_target,
)


def two_boxes(**extra):
    return {
        "boxes": torch.tensor([[5.0, 5, 20, 20], [8, 8, 8, 30]]),
        "labels": torch.tensor([1, 2]),
        "masks": torch.zeros(2, 64, 64, dtype=torch.uint8),
        "image_id": 7,
        **extra,
    }


def test_horizontal_flip_moves_image_boxes_and_masks():
    image, target = ShapesDataset(2, seed=1, size=64)[0]
    fimage, ftarget = detection_transforms(train=True, flip_p=1.0)(image, target)
    assert fimage.dtype == torch.float32 and 0.0 <= fimage.min() and fimage.max() <= 1.0
    assert torch.allclose(fimage, image.flip(-1).float() / 255)
    b = target["boxes"]
    assert torch.equal(ftarget["boxes"], torch.stack([64 - b[:, 2], b[:, 1], 64 - b[:, 0], b[:, 3]], dim=1))
    assert torch.equal(ftarget["masks"], target["masks"].flip(-1))
    assert torch.equal(ftarget["labels"], target["labels"])


def test_eval_transform_only_converts_to_float():
    image, target = ShapesDataset(2, seed=1, size=64)[0]
    eimage, etarget = detection_transforms(train=False)(image, target)
    assert torch.equal(etarget["boxes"], target["boxes"]) and torch.allclose(eimage, image.float() / 255)


def test_transforms_drop_degenerate_boxes_with_their_labels_and_masks():
    image = tv_tensors.Image(torch.zeros(3, 32, 32, dtype=torch.uint8))
    target = {
        "boxes": tv_tensors.BoundingBoxes([[2.0, 2, 10, 10], [4, 4, 4, 9]], format="XYXY", canvas_size=(32, 32)),
        "masks": tv_tensors.Mask(torch.zeros(2, 32, 32, dtype=torch.uint8)),
        "labels": torch.tensor([1, 3]),
    }
    _, out = detection_transforms(train=False)(image, target)
    assert (
        out["boxes"].tolist() == [[2, 2, 10, 10]]
        and out["labels"].tolist() == [1]
        and out["masks"].shape == (1, 32, 32)
    )


def test_flip_probability_must_be_a_probability():
    with pytest.raises(ValueError, match="flip_p is a probability"):
        detection_transforms(train=True, flip_p=1.5)


def test_image_without_objects_gets_the_empty_shapes_torchvision_expects():
    empty = validate_target(
        torch.rand(3, 64, 64),
        {"boxes": torch.tensor([]), "labels": torch.tensor([]), "masks": torch.tensor([]), "image_id": 1},
    )
    assert empty["boxes"].shape == (0, 4) and empty["boxes"].dtype == torch.float32
    assert empty["masks"].shape == (0, 64, 64) and empty["labels"].dtype == torch.int64


def test_zero_area_box_is_dropped_with_a_warning_naming_the_image():
    with pytest.warns(UserWarning, match="image_id 7: dropped 1 degenerate"):
        clean = validate_target(torch.rand(3, 64, 64), two_boxes())
    assert (
        clean["boxes"].tolist() == [[5, 5, 20, 20]]
        and clean["labels"].tolist() == [1]
        and clean["masks"].shape == (1, 64, 64)
    )


def test_box_outside_the_image_is_dropped():
    target = {
        "boxes": torch.tensor([[5.0, 5, 20, 20], [50, 50, 70, 60]]),
        "labels": torch.tensor([1, 1]),
        "image_id": 4,
    }
    with pytest.warns(UserWarning, match="image_id 4: dropped 1 .*outside the 64x64 image"):
        clean = validate_target(torch.rand(3, 64, 64), target)
    assert clean["boxes"].tolist() == [[5, 5, 20, 20]]


def test_min_size_sets_the_smallest_kept_box():
    target = {"boxes": torch.tensor([[0.0, 0, 3, 3], [0, 0, 5, 5]]), "labels": torch.tensor([1, 1])}
    with pytest.warns(UserWarning, match="< 4"):
        assert validate_target(torch.rand(3, 8, 8), target, min_size=4)["boxes"].tolist() == [[0, 0, 5, 5]]


def test_valid_target_passes_unchanged_and_input_is_not_modified():
    target = two_boxes(boxes=torch.tensor([[5.0, 5, 20, 20], [8, 8, 12, 30]]))
    before = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in target.items()}
    clean = validate_target(torch.rand(3, 64, 64), target)
    assert torch.equal(clean["boxes"], target["boxes"]) and clean["image_id"] == 7
    assert all(torch.equal(target[k], before[k]) for k in ("boxes", "labels", "masks"))


@pytest.mark.parametrize(
    ("image", "target", "message"),
    [
        (
            torch.rand(3, 64, 64),
            {"boxes": torch.tensor([[1.0, 1, 5, 5]]), "labels": torch.tensor([1]), "masks": torch.zeros(1, 32, 32)},
            r"masks are \(1, 32, 32\) but the image is 64x64",
        ),
        (
            torch.rand(3, 64, 64),
            {"boxes": torch.tensor([[1.0, 1, 5, 5]]), "labels": torch.tensor([0])},
            "label 0 is the background",
        ),
        (
            torch.rand(3, 64, 64),
            {"boxes": torch.tensor([[1.0, 1, 5, 5], [2, 2, 9, 9]]), "labels": torch.tensor([1])},
            "2 boxes but 1 labels",
        ),
        (
            torch.rand(3, 64, 64),
            {"boxes": torch.tensor([[1.0, 1, 5, 5]]), "labels": torch.tensor([1]), "masks": torch.zeros(2, 64, 64)},
            "1 boxes but 2 masks",
        ),
        (
            torch.rand(3, 64, 64),
            {"boxes": torch.zeros(2, 5), "labels": torch.tensor([1, 1])},
            r"boxes must be \(N, 4\)",
        ),
        (torch.rand(3, 64, 64), {"labels": torch.tensor([1])}, "needs 'boxes' and 'labels'"),
        (torch.rand(64, 64), {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}, r"\(3, H, W\)"),
    ],
)
def test_bad_targets_raise_one_clear_target_error(image, target, message):
    with pytest.raises(TargetError, match=message):
        validate_target(image, target)


def test_collate_keeps_images_apart_and_validates_targets():
    with pytest.warns(UserWarning, match="image_id 7"):
        images, targets = collate_detection(
            [
                (torch.rand(3, 64, 64), two_boxes()),
                (torch.rand(3, 48, 40), {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0), "image_id": 3}),
            ]
        )
    assert [tuple(i.shape) for i in images] == [(3, 64, 64), (3, 48, 40)]
    assert [len(t["boxes"]) for t in targets] == [1, 0] and targets[1]["boxes"].shape == (0, 4)


def test_model_trains_on_an_empty_image_and_a_cleaned_degenerate_box(small_model):
    with pytest.warns(UserWarning, match="image_id 7"):
        images, targets = collate_detection(
            [
                (torch.rand(3, 64, 64), two_boxes(masks=tv_tensors.Mask(torch.ones(2, 64, 64, dtype=torch.uint8)))),
                (
                    torch.rand(3, 64, 64),
                    {
                        "boxes": torch.zeros(0, 4),
                        "labels": torch.zeros(0),
                        "masks": torch.zeros(0, 64, 64),
                        "image_id": 3,
                    },
                ),
            ]
        )
    small_model.train()
    losses = small_model(images, targets)
    assert all(torch.isfinite(v) for v in losses.values())


def test_batches_keep_portrait_and_landscape_apart():
    ratios = [1.5, 0.7, 1.2, 0.5, 1.0, 0.8, 2.0]
    sampler = AspectRatioBatchSampler(ratios, batch_size=2, generator=torch.Generator().manual_seed(0))
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(7)) and len(batches) == len(sampler) == 4
    for b in batches:
        assert len({ratios[i] >= 1 for i in b}) == 1


def test_drop_last_drops_the_incomplete_batches():
    sampler = AspectRatioBatchSampler([1.5, 0.7, 1.2, 0.5, 1.0, 0.8, 2.0], 2, drop_last=True)
    assert len(list(sampler)) == len(sampler) == 3 and all(len(b) == 2 for b in sampler)


def test_same_generator_seed_gives_the_same_batches():
    ratios = [1.0, 0.5] * 5
    run = [list(AspectRatioBatchSampler(ratios, 3, generator=torch.Generator().manual_seed(4))) for _ in range(2)]
    assert run[0] == run[1]


@pytest.mark.parametrize(
    ("ratios", "batch_size", "message"), [([1.0], 0, "batch_size must be >= 1"), ([1.0, 0.0], 2, "width / height > 0")]
)
def test_sampler_refuses_bad_arguments(ratios, batch_size, message):
    with pytest.raises(ValueError, match=message):
        AspectRatioBatchSampler(ratios, batch_size)


def test_aspect_ratios_from_the_dataset_through_a_subset_or_the_images():
    ds = ShapesDataset(3, seed=0, size=64)
    assert aspect_ratios(Subset(ds, [2, 0])) == [1.0, 1.0]

    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.zeros(3, 20, 30 + 10 * i), {}

    assert aspect_ratios(Plain()) == [1.5, 2.0]
