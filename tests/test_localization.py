import numpy as np
import pytest
import torch

from cvlib.data.localization import (
    CLASSES,
    DISTRACTORS,
    LocalizationDataset,
    distractor_mask,
    make_scenes,
    render_scene,
)


def test_shapes_dtypes_ranges_and_balanced_labels():
    images, labels, boxes, masks = make_scenes(12, size=64, seed=3)
    assert images.shape == (12, 3, 64, 64) and images.dtype == torch.float32
    assert labels.shape == (12,) and labels.dtype == torch.int64
    assert boxes.shape == (12, 4) and boxes.dtype == torch.float32
    assert masks.shape == (12, 64, 64) and masks.dtype == torch.bool
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.tolist() == [i % len(CLASSES) for i in range(12)]


def test_boxes_are_tight_around_the_object_and_inside_the_image():
    _, _, boxes, masks = make_scenes(40, size=64, seed=0)
    for box, mask in zip(boxes, masks):
        x0, y0, x1, y1 = (int(v) for v in box)
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
        inside = torch.zeros_like(mask)
        inside[y0:y1, x0:x1] = True
        assert not (mask & ~inside).any(), "object pixels outside the box"
        # tight: every border row and column of the box holds object pixels
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()
        side = max(x1 - x0, y1 - y0)
        assert round(0.19 * 64) - 1 <= side <= round(0.28 * 64)  # the default object_size


def test_deterministic_from_seed_and_independent_of_n():
    a, la, ba, _ = make_scenes(6, seed=7)
    b, lb, bb, _ = make_scenes(10, seed=7)
    assert torch.equal(a, b[:6]) and torch.equal(la, lb[:6]) and torch.equal(ba, bb[:6])
    c, _, bc, _ = make_scenes(6, seed=8)
    assert not torch.equal(a, c) and not torch.equal(ba, bc)


def test_object_kinds_have_their_shape():
    rng = np.random.default_rng(0)
    for kind in CLASSES:
        image, box, mask = render_scene(kind, rng, size=64)
        x0, y0, x1, y1 = (int(v) for v in box)
        obj = mask[y0:y1, x0:x1]
        centre = obj[obj.shape[0] // 2, obj.shape[1] // 2]
        fill = obj.mean()
        if kind == "ring":
            assert not centre and 0.2 < fill < 0.75
        elif kind in ("plus", "cross"):
            assert centre and 0.2 < fill < 0.75
        else:  # checker: the whole box, in two tones
            assert fill == 1.0
            assert len(np.unique(image[mask].round(4), axis=0)) == 2
    # plus vs cross: the plus covers the middle of the top edge, the cross the corners
    _, box, mask = render_scene("plus", np.random.default_rng(1))
    x0, y0, x1, y1 = (int(v) for v in box)
    assert mask[y0, (x0 + x1) // 2] and not mask[y0, x0]
    _, box, mask = render_scene("cross", np.random.default_rng(1))
    x0, y0, x1, y1 = (int(v) for v in box)
    assert mask[y0, x0] and mask[y1 - 1, x1 - 1]


def test_dataset_items_transform_and_errors():
    ds = LocalizationDataset(8, size=48, seed=1, transform=lambda t: t.flip(-1))
    image, label = ds[5]
    assert image.shape == (3, 48, 48) and isinstance(label, int) and label == 1
    assert torch.equal(image, ds.images[5].flip(-1))
    assert len(ds) == 8 and ds.classes == CLASSES and ds.boxes.shape == (8, 4)
    with pytest.raises(ValueError, match="at least 32"):
        make_scenes(2, size=16)
    with pytest.raises(ValueError, match="at least 1"):
        make_scenes(0)
    with pytest.raises(ValueError, match="unknown object kind"):
        render_scene("star", np.random.default_rng(0))


def test_distractors_keep_away_from_the_object_and_are_class_free_shapes():
    # same generator state up to the distractors: the background and the object's place are the same,
    # so (outside the object's own pixels, whose colour is drawn later) every change is a distractor
    for i in range(20):
        rng = np.random.default_rng([5, i])
        plain, box, mask = render_scene(CLASSES[i % 4], np.random.default_rng([5, i]), clutter=0, distractors=0)
        busy, box2, mask2 = render_scene(CLASSES[i % 4], rng, clutter=0, distractors=3)
        assert np.array_equal(box, box2) and np.array_equal(mask, mask2), "distractors moved the object"
        x0, y0, x1, y1 = (int(v) for v in box)
        changed = np.abs(busy - plain).max(-1) > 0.05
        assert changed.any(), "no distractor was drawn"
        near = np.zeros_like(changed)
        near[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
        assert not (changed & near & ~mask).any(), "a distractor touches the object"
    for kind in DISTRACTORS:
        m = distractor_mask(kind, 15, np.random.default_rng(0))
        assert m.shape == (15, 15) and m.dtype == bool and 0.1 < m.mean() <= 1.0
    with pytest.raises(ValueError, match="unknown distractor"):
        distractor_mask("star", 15, np.random.default_rng(0))


def test_object_size_and_counts_are_checked():
    _, _, boxes, _ = make_scenes(40, size=64, seed=2, object_size=(0.4, 0.5))
    sides = (boxes[:, 2:] - boxes[:, :2]).amax(1)
    assert sides.min() >= round(0.4 * 64) - 1 and sides.max() <= round(0.5 * 64)
    with pytest.raises(ValueError, match="object_size"):
        make_scenes(2, object_size=(0.3, 0.2))
    with pytest.raises(ValueError, match="distractors must be >= 0"):
        make_scenes(2, distractors=-1)
