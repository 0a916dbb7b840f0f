"""The offline natural-image task: sources, shapes, and train/test crops that provably never overlap."""

import numpy as np
import pytest
import torch

from cvlib.data.natural import (
    DEFAULT_CLASSES,
    SOURCES,
    NaturalPatches,
    box_inside,
    box_overlap,
    check_disjoint,
    load_source,
    sample_boxes,
    split_cells,
)


@pytest.fixture(scope="module")
def splits():
    classes = ("brick", "cat", "temple")
    return (
        NaturalPatches("train", per_class=12, size=32, classes=classes, seed=3),
        NaturalPatches("test", per_class=9, size=32, classes=classes, seed=3),
    )


def test_every_source_loads_offline_as_rgb_uint8():
    for name in SOURCES:
        image = load_source(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert min(image.shape[:2]) >= 128, name
    assert set(DEFAULT_CLASSES) <= set(SOURCES)
    with pytest.raises(ValueError, match="unknown source"):
        load_source("unicorn")


def test_box_overlap_known_values():
    assert box_overlap((0, 0, 10, 10), (5, 5, 15, 15)) == 25
    assert box_overlap((0, 0, 10, 10), (10, 0, 20, 10)) == 0  # half-open: touching edges share no pixel
    assert box_overlap((0, 0, 10, 10), (20, 20, 30, 30)) == 0
    assert box_inside((2, 2, 5, 5), (0, 0, 10, 10)) and not box_inside((2, 2, 11, 5), (0, 0, 10, 10))


@pytest.mark.parametrize("height,width,grid", [(300, 451, (2, 2)), (512, 512, (3, 3)), (100, 37, (2, 3))])
def test_cells_tile_the_image_like_a_chessboard(height, width, grid):
    cells = split_cells(height, width, grid)
    assert len(cells["train"]) + len(cells["test"]) == grid[0] * grid[1]
    assert cells["train"] and cells["test"]
    # Every pixel belongs to exactly one cell: the areas add up and no two cells overlap.
    everything = cells["train"] + cells["test"]
    assert sum((b[2] - b[0]) * (b[3] - b[1]) for b in everything) == height * width
    for i, a in enumerate(everything):
        for b in everything[i + 1 :]:
            assert box_overlap(a, b) == 0
    with pytest.raises(ValueError, match="at least 2 cells"):
        split_cells(10, 10, (1, 1))


def test_sampled_boxes_stay_inside_their_cells():
    rng = np.random.default_rng(0)
    cells = split_cells(300, 451)["test"]
    boxes = sample_boxes(cells, 50, (0.5, 1.0), rng)
    assert len(boxes) == 50
    for b in boxes:
        assert b[2] - b[0] == b[3] - b[1] > 0  # square
        assert any(box_inside(b, c) for c in cells)
    with pytest.raises(ValueError, match="scale"):
        sample_boxes(cells, 1, (0.0, 1.0), rng)


def test_dataset_shapes_labels_and_ranges(splits):
    train, test = splits
    assert train.images.shape == (36, 3, 32, 32) and train.images.dtype == torch.float32
    assert float(train.images.min()) >= 0.0 and float(train.images.max()) <= 1.0
    assert train.labels.tolist() == [0] * 12 + [1] * 12 + [2] * 12
    assert len(test) == 27 and train.classes == test.classes == ["brick", "cat", "temple"]
    image, label = train[13]
    assert image.shape == (3, 32, 32) and label == 1
    # Gray textures are repeated to three equal channels; photographs are in colour.
    assert torch.equal(train.images[0, 0], train.images[0, 1])
    assert not torch.equal(train.images[12, 0], train.images[12, 2])


def test_train_and_test_crops_never_overlap(splits):
    train, test = splits
    assert check_disjoint(train, test) == 3 * 12 * 9
    # Direct check on the raw boxes, independent of check_disjoint:
    for label in range(3):
        for a in train.boxes[train.labels == label].tolist():
            for b in test.boxes[test.labels == label].tolist():
                assert box_overlap(tuple(a), tuple(b)) == 0


def test_check_disjoint_catches_a_leak(splits):
    train, _ = splits
    leaky = NaturalPatches("test", per_class=9, size=32, classes=train.classes, seed=3)
    leaky.boxes = leaky.boxes.clone()
    leaky.boxes[0] = train.boxes[0]  # a test crop that is a training crop
    with pytest.raises(AssertionError, match="not inside a test cell"):
        check_disjoint(train, leaky)
    # Even with cells that allowed it, the pairwise comparison would still catch the leak.
    leaky.cells = {name: train.cells[name] + leaky.cells[name] for name in train.classes}
    with pytest.raises(AssertionError, match="overlap"):
        check_disjoint(train, leaky)


def test_crops_match_their_boxes(splits):
    train, _ = splits
    photo = torch.from_numpy(load_source("cat")).permute(2, 0, 1).float() / 255
    k = 15  # a cat crop
    top, left, bottom, right = train.boxes[k].tolist()
    crop = torch.nn.functional.interpolate(photo[None, :, top:bottom, left:right], size=(32, 32), mode="area")[0]
    assert (crop - train.images[k]).abs().mean() < 0.03


def test_deterministic_and_seed_dependent():
    a = NaturalPatches("train", 4, size=24, classes=("grass", "gravel"), seed=1)
    b = NaturalPatches("train", 4, size=24, classes=("grass", "gravel"), seed=1)
    c = NaturalPatches("train", 4, size=24, classes=("grass", "gravel"), seed=2)
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.boxes, c.boxes)


def test_bad_arguments_have_clear_errors():
    with pytest.raises(ValueError, match="split"):
        NaturalPatches("val", 2)
    with pytest.raises(ValueError, match="per_class"):
        NaturalPatches("train", 0)
    with pytest.raises(ValueError, match="distinct"):
        NaturalPatches("train", 2, classes=("cat", "cat"))


def test_transform_is_applied():
    ds = NaturalPatches("train", 2, size=24, classes=("grass", "gravel"), transform=lambda x: x.flip(-1))
    image, _ = ds[0]
    assert torch.equal(image, ds.images[0].flip(-1))
