"""cvlib.data.figures (lesson 09): generated stick figures with COCO keypoint labels, and the COCO keypoint format."""

import numpy as np
import pytest
import torch
from pycocotools.cocoeval import COCOeval

from cvlib.data.coco import coco_instances, coco_keypoints, load_coco_api, masks_to_boxes_exclusive
from cvlib.data.figures import (
    FLIP_PAIRS,
    KEYPOINTS,
    SIGMAS,
    SKELETON,
    FiguresDataset,
    make_figure_scene,
    make_figure_scenes,
    write_figures_coco,
)


@pytest.fixture(scope="module")
def figures():
    return FiguresDataset(60, size=64, seed=3)


def test_constants_are_consistent():
    k = len(KEYPOINTS)
    assert len(SIGMAS) == k and all(0 < s < 0.2 for s in SIGMAS)
    assert all(1 <= a <= k and 1 <= b <= k for a, b in SKELETON)
    for left, right in FLIP_PAIRS:
        assert KEYPOINTS[left].replace("left", "right") == KEYPOINTS[right]
    assert {KEYPOINTS[i] for pair in FLIP_PAIRS for i in pair} == {n for n in KEYPOINTS if "left" in n or "right" in n}
    assert FiguresDataset.flip_pairs == ()  # colour, not position, says which side is left: flips swap nothing


def test_scenes_are_deterministic_and_independent_of_n():
    a, b = make_figure_scenes(3, seed=5), make_figure_scenes(5, seed=5)
    for x, y in zip(a, b[:3]):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.keypoints, y.keypoints)
    assert not np.array_equal(a[0].image, make_figure_scenes(1, seed=6)[0].image)


def test_shapes_and_dtypes(figures):
    n, k = len(figures), len(KEYPOINTS)
    assert figures.images.shape == (n, 3, 64, 64) and figures.images.dtype == torch.uint8
    assert figures.keypoints.shape == (n, k, 3) and figures.keypoints.dtype == torch.float32
    assert figures.boxes.shape == (n, 4) and figures.areas.shape == (n,)
    image, target = figures[0]
    assert image.shape == (3, 64, 64) and 0 <= float(image.min()) and float(image.max()) <= 1
    assert target["keypoints"].shape == (1, k, 3) and target["labels"].tolist() == [1] and target["image_id"] == 1


def test_visibility_flags_mean_what_coco_says(figures):
    for scene in figures.scenes:
        kp, mask = scene.keypoints[0], scene.masks[0]
        outside = kp[:, 2] == 0
        assert np.all(kp[outside, :2] == 0)
        for x, y, v in kp[kp[:, 2] > 0]:
            assert -0.5 <= x < 63.5 and -0.5 <= y < 63.5
            if v == 2:  # a visible joint lies on the figure's visible pixels
                assert mask[int(np.rint(y)), int(np.rint(x))]
    v = figures.keypoints[..., 2]
    assert 0.02 < float((v == 1).float().mean()) < 0.2  # the occluder hides some joints
    assert float((v == 2).float().mean()) > 0.8


def test_boxes_contain_the_figure_and_areas_are_their_areas(figures):
    for scene in figures.scenes:
        box = scene.boxes[0]
        assert np.allclose(scene.areas[0], (box[2] - box[0]) * (box[3] - box[1]))
        visible_box = masks_to_boxes_exclusive(scene.masks).numpy()[0]
        assert np.all(visible_box[:2] >= box[:2]) and np.all(visible_box[2:] <= box[2:])
        labelled = scene.keypoints[0][scene.keypoints[0][:, 2] > 0, :2]
        assert np.all(labelled >= box[:2] - 1) and np.all(labelled <= box[2:])


def test_left_limbs_are_red_and_right_limbs_blue():
    scene = make_figure_scene(np.random.default_rng([0, 0]), occluder_p=0.0)
    kp = scene.keypoints[0]
    for name, channel in (("left_hand", 0), ("right_hand", 2)):
        x, y, v = kp[KEYPOINTS.index(name)]
        if v == 2:
            pixel = scene.image[int(np.rint(y)), int(np.rint(x))].astype(int)
            assert pixel[channel] > 180 and pixel[channel] - pixel[1] > 100


def test_coco_round_trip_through_files_and_pycocotools(tmp_path, figures):
    path = write_figures_coco(figures, tmp_path)
    assert len(list((tmp_path / "images").glob("*.png"))) == len(figures)
    coco = load_coco_api(path)
    assert coco.loadCats(1)[0]["keypoints"] == list(KEYPOINTS)
    assert coco.loadCats(1)[0]["skeleton"] == [list(p) for p in SKELETON]
    for i in (1, 17, 60):
        kp = coco_keypoints(coco, i)
        assert kp.shape == (1, len(KEYPOINTS), 3)
        assert np.abs(kp - figures.keypoints[i - 1 : i].numpy()).max() <= 0.005  # stored with 2 decimals
        ann = coco.imgToAnns[i][0]
        assert ann["num_keypoints"] == int((figures.keypoints[i - 1, :, 2] > 0).sum())
        assert ann["area"] == pytest.approx(float(figures.areas[i - 1]))
    # the ground truth scores itself perfectly in pycocotools' keypoint evaluation
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in coco.dataset["annotations"]
    ]
    ev = COCOeval(coco, coco.loadRes(results), "keypoints")
    ev.params.kpt_oks_sigmas = np.array(SIGMAS)
    ev.evaluate()
    ev.accumulate()
    assert ev.eval["precision"][0, :, 0, 0, 0].min() == pytest.approx(1.0)  # AP at OKS 0.5, every recall level


def test_coco_keypoint_errors():
    sample = {
        "image_id": 1,
        "height": 8,
        "width": 8,
        "boxes": [[0, 0, 4, 4]],
        "labels": [1],
        "keypoints": np.zeros((1, 2, 3)),
    }
    with pytest.raises(ValueError, match=r"give \(1, 3, 3\)"):
        coco_instances([sample], ["figure"], keypoint_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="areas"):
        coco_instances([{**sample, "areas": [1.0, 2.0]}], ["figure"])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"size": 16}, "size"), ({"height": (4.0, 10.0)}, "height"), ({"occluder_p": 1.5}, "occluder_p")],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_figure_scene(np.random.default_rng(0), **kwargs)


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="n=0"):
        make_figure_scenes(0)
    with pytest.raises(ValueError, match="seed"):
        make_figure_scenes(2, seed=-1)
