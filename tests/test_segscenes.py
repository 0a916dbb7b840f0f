import time

import numpy as np
import pytest
import torch

from cvlib.data.segscenes import (
    IGNORE,
    NUM_CLASSES,
    SEG_CLASSES,
    STUFF_CLASSES,
    THING_CLASSES,
    SegScenesDataset,
    make_segscene,
    make_segscenes,
    panoptic_target,
)
from cvlib.segmentation import IGNORE_INDEX, panoptic_quality


@pytest.fixture(scope="module")
def scenes():
    return make_segscenes(60, seed=5)


def _same(a, b):
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("image", "semantic", "instances", "thing_labels", "full_areas")
    )


def test_same_seed_same_scenes_different_seed_different():
    a, b, c = make_segscenes(5, seed=3), make_segscenes(5, seed=3), make_segscenes(5, seed=4)
    assert all(_same(s, t) for s, t in zip(a, b))
    assert not any(np.array_equal(s.image, t.image) for s, t in zip(a, c))
    # scene i depends only on the seed and i
    assert _same(make_segscenes(2, seed=3)[1], a[1])


def test_shapes_dtypes_and_ranges(scenes):
    assert SEG_CLASSES == ("sky", "water", "grass", "ground", "circle", "square", "triangle") and NUM_CLASSES == 7
    assert IGNORE == IGNORE_INDEX == 255
    for s in scenes:
        assert s.image.shape == (96, 96, 3) and s.image.dtype == np.uint8
        assert s.semantic.shape == (96, 96) and s.semantic.dtype == np.int64
        assert s.instances.shape == (96, 96) and s.instances.dtype == np.int64
        assert s.semantic.min() >= 0 and s.semantic.max() < NUM_CLASSES
        n = len(s.thing_labels)
        assert s.thing_labels.dtype == np.int64 and s.full_areas.shape == (n,)
        assert set(np.unique(s.instances).tolist()) <= set(range(n + 1))


def test_instance_map_agrees_with_semantic_map(scenes):
    for s in scenes:
        is_thing = np.isin(s.semantic, THING_CLASSES)
        assert np.array_equal(is_thing, s.instances > 0)
        for k, label in enumerate(s.thing_labels, start=1):
            mask = s.instances == k
            assert mask.sum() >= 12  # nonempty, at least min_visible pixels
            assert set(np.unique(s.semantic[mask]).tolist()) == {int(label)}  # one label per instance
        assert np.array_equal(s.visible_areas, np.bincount(s.instances.ravel(), minlength=len(s.thing_labels) + 1)[1:])
        assert (s.visible_areas <= s.full_areas).all()


def test_things_are_small_several_and_occlude(scenes):
    counts = [len(s.thing_labels) for s in scenes]
    assert min(counts) >= 0 and max(counts) <= 5 and np.mean(counts) > 1.5
    assert sum(bool((s.visible_areas < s.full_areas).any()) for s in scenes[:50]) >= 1
    # the biggest shape (a 28-px triangle drawn 1.25x) stays well below a quarter of the image
    assert max(int(s.full_areas.max()) for s in scenes if len(s.full_areas)) < 96 * 96 / 8
    # the three shape classes all occur
    assert set(np.concatenate([s.thing_labels for s in scenes]).tolist()) == set(THING_CLASSES)


def test_class_balance_and_variety(scenes):
    sem = np.stack([s.semantic for s in scenes])
    shares = np.bincount(sem.ravel(), minlength=NUM_CLASSES) / sem.size
    assert (shares[list(STUFF_CLASSES)] > 0.08).all() and shares.max() < 0.6
    assert (shares[list(THING_CLASSES)] > 0.003).all()
    # not every stuff class in every image
    assert any(len(set(np.unique(s.semantic).tolist()) & set(STUFF_CLASSES)) < 4 for s in scenes)


def test_stuff_borders_are_irregular(scenes):
    # a straight horizontal border would change rows at one height only: count the rows where sky ends
    ends = []
    for s in scenes:
        sky = s.semantic == 0
        cols = sky.any(axis=0)
        if cols.all():
            ends.append(len(set((sky.shape[0] - np.argmax(sky[::-1], axis=0)).tolist())))
    assert ends and np.median(ends) >= 5


def test_colour_alone_does_not_give_the_class_away(scenes):
    # per-image colour jitter: the mean colour of one stuff class varies a lot between images
    means = [s.image[s.semantic == 2].mean(axis=0) for s in scenes if (s.semantic == 2).sum() > 500]
    assert np.std(np.array(means), axis=0).max() > 10
    # textures: pixels within a class vary
    s = scenes[0]
    assert max(s.image[s.semantic == c].std() for c in STUFF_CLASSES if (s.semantic == c).sum() > 100) > 5


def test_dataset_items_and_attributes():
    ds = SegScenesDataset(4, size=64, seed=2, max_things=3)
    assert len(ds) == 4 and ds.classes == SEG_CLASSES
    image, semantic = ds[1]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert semantic.shape == (64, 64) and semantic.dtype == torch.int64
    assert torch.equal(semantic, torch.from_numpy(ds.scenes[1].semantic))
    assert torch.equal(image, torch.from_numpy(ds.scenes[1].image).permute(2, 0, 1).float() / 255)
    assert ds.images.shape == (4, 3, 64, 64) and ds.images.dtype == torch.uint8
    assert ds.semantic.shape == ds.instances.shape == (4, 64, 64) and ds.instances.dtype == torch.int64
    assert [len(t) for t in ds.thing_labels] == [len(s.thing_labels) for s in ds.scenes]
    assert abs(float(ds.class_shares().sum()) - 1) < 1e-9
    items = SegScenesDataset(2, size=64, seed=2, with_instances=True)[0]
    assert len(items) == 3 and items[2].dtype == torch.int64


def test_panoptic_target_gives_perfect_pq_on_itself(scenes):
    s = next(s for s in scenes if len(s.thing_labels) >= 2)
    ids, cats = panoptic_target(s.semantic, s.instances)
    assert ids.dtype == torch.int64 and ids.shape == (96, 96) and (ids > 0).all()
    n = len(s.thing_labels)
    assert {k: cats[k] for k in range(1, n + 1)} == {k + 1: int(c) for k, c in enumerate(s.thing_labels)}
    assert {c for k, c in cats.items() if k > n} == set(np.unique(s.semantic).tolist()) & set(STUFF_CLASSES)
    result = panoptic_quality(ids, cats, ids, cats)
    assert result.pq == result.sq == result.rq == 1.0
    # IGNORE pixels become void (id 0)
    sem = s.semantic.copy()
    stuff_pixel = np.argwhere(s.instances == 0)[0]
    sem[tuple(stuff_pixel)] = IGNORE
    assert panoptic_target(sem, s.instances)[0][tuple(stuff_pixel)] == 0


def test_panoptic_target_refuses_inconsistent_maps():
    sem = np.zeros((8, 8), dtype=np.int64)
    ins = np.zeros((8, 8), dtype=np.int64)
    sem[2:4, 2:4] = 4  # a thing without an instance
    with pytest.raises(ValueError, match="disagree"):
        panoptic_target(sem, ins)
    ins[2:4, 2:4] = 1
    ins[3, 3] = 1
    sem[3, 3] = 5  # one instance, two classes
    with pytest.raises(ValueError, match="one thing class"):
        panoptic_target(sem, ins)
    with pytest.raises(ValueError, match="allowed are 0..6"):
        panoptic_target(np.full((8, 8), 7), ins * 0)
    with pytest.raises(ValueError, match="same shape"):
        panoptic_target(sem, ins[:4])
    with pytest.raises(ValueError, match="integer"):
        panoptic_target(sem.astype(float), ins)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n": 0}, "n=0"),
        ({"n": 2.5}, "n=2.5"),
        ({"n": True}, "n=True"),
        ({"n": 2, "seed": -1}, "seed=-1"),
        ({"n": 2, "size": 16}, "size=16"),
        ({"n": 2, "max_things": 21}, "max_things=21"),
        ({"n": 2, "min_things": 4, "max_things": 3}, "min_things=4"),
        ({"n": 2, "thing_size": (30, 8)}, "thing_size"),
        ({"n": 2, "size": 32, "thing_size": (8, 28)}, "thing_size"),
        ({"n": 2, "min_visible": 0}, "min_visible=0"),
    ],
)
def test_bad_inputs_raise_one_clear_error(kwargs, name):
    with pytest.raises(ValueError, match=name) as err:
        make_segscenes(**kwargs)
    assert "\n" not in str(err.value) and "use" in str(err.value)


def test_bad_inputs_of_the_dataset_and_single_scene():
    with pytest.raises(ValueError, match="n=0"):
        SegScenesDataset(0)
    with pytest.raises(ValueError, match="max_things=-1"):
        SegScenesDataset(2, max_things=-1)
    with pytest.raises(ValueError, match="rng=0"):
        make_segscene(0)  # type: ignore[arg-type]


def test_no_things_gives_pure_stuff():
    for s in make_segscenes(3, seed=1, min_things=0, max_things=0):
        assert len(s.thing_labels) == 0 and (s.instances == 0).all() and s.semantic.max() <= 3


def test_generation_is_fast():
    start = time.perf_counter()
    make_segscenes(200, seed=0)
    assert time.perf_counter() - start < 5.0


def test_label_scene_pairs_source_is_the_colour_coded_semantic_map():
    from cvlib.data.segscenes import LabelScenePairs, SegScenesDataset
    from cvlib.segmentation import colorize

    pairs = LabelScenePairs(3, size=32, seed=4)
    scenes = SegScenesDataset(3, size=32, seed=4)
    assert len(pairs) == 3 and pairs.sources.shape == pairs.targets.shape == (3, 3, 32, 32)
    source, target = pairs[1]
    assert source.dtype == target.dtype == torch.float32
    assert torch.allclose(source.permute(1, 2, 0), torch.from_numpy(colorize(scenes.semantic[1], 7)).float())
    assert torch.equal(target, scenes[1][0])
    assert 0 <= float(pairs.targets.min()) and float(pairs.targets.max()) <= 1
