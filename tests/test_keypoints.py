"""cvlib.keypoints: Gaussian targets, argmax / soft-argmax decoding, PCK, OKS, COCO keypoint AP (lesson 09)."""

import contextlib
import copy
import io
import math

import numpy as np
import pytest
import torch

from cvlib.keypoints import (
    COCO_AREA_RANGES,
    COCO_SIGMAS,
    KEYPOINT_STAT_NAMES,
    decode_argmax,
    gaussian_heatmaps,
    heatmap_mse_loss,
    heatmap_to_image,
    image_to_heatmap,
    keypoint_ap,
    keypoint_results,
    oks,
    pck,
    soft_argmax,
)


def kps(*points):
    """(1, K, 3) keypoints from (x, y, v) triples."""
    return torch.tensor([list(points)], dtype=torch.float32)


# --- Gaussian targets -------------------------------------------------------------------------------------------


def test_gaussian_peak_is_one_at_an_integer_keypoint_and_exp_minus_half_one_sigma_away():
    hm, weight = gaussian_heatmaps(kps((5.0, 7.0, 2.0)), (16, 12), sigma=2.0)
    assert hm.shape == (1, 1, 16, 12) and hm.dtype == torch.float32
    assert weight.tolist() == [[1.0]]
    assert hm[0, 0, 7, 5] == 1.0 and hm.max() == 1.0 and hm.min() >= 0.0
    for y, x in ((7, 7), (7, 3), (9, 5), (5, 5)):  # one sigma = 2 cells left, right, up, down
        assert hm[0, 0, y, x].item() == pytest.approx(math.exp(-0.5), abs=1e-7)
    assert hm[0, 0, 9, 7].item() == pytest.approx(math.exp(-1.0), abs=1e-7)  # distance sqrt(8): d^2 / 2 sigma^2 = 1


def test_unlabelled_and_outside_keypoints_give_empty_channels_and_zero_weight():
    hm, weight = gaussian_heatmaps(kps((3, 3, 0), (3, 3, 1), (20, 3, 2), (-0.6, 3, 2), (-0.4, 3, 2)), 8, sigma=1.0)
    assert weight.tolist() == [[0.0, 1.0, 0.0, 0.0, 1.0]]  # v == 0; occluded counts; off the map; edge at -0.5
    assert hm[0, 0].abs().sum() == 0 and hm[0, 2].abs().sum() == 0 and hm[0, 3].abs().sum() == 0
    assert hm[0, 1, 3, 3] == 1.0


def test_stride_maps_cell_centres_to_the_mean_of_their_pixels():
    # stride 4: cell (row 2, col 3) covers pixels x 12..15, y 8..11, centre (13.5, 9.5)
    hm, _ = gaussian_heatmaps(kps((13.5, 9.5, 2)), (8, 8), sigma=1.5, stride=4)
    assert hm.shape == (1, 1, 8, 8)
    assert hm[0, 0, 2, 3] == 1.0
    assert hm[0, 0, 2, 5].item() == pytest.approx(math.exp(-(2**2) / (2 * 1.5**2)), abs=1e-7)  # 2 cells = 8 px away
    xy = torch.tensor([[13.5, 9.5], [0.0, -1.5]])
    assert torch.equal(image_to_heatmap(xy, 4), torch.tensor([[3.0, 2.0], [-0.375, -0.75]]))
    assert torch.allclose(heatmap_to_image(image_to_heatmap(xy, 4), 4), xy)
    assert torch.equal(image_to_heatmap(xy, 1), xy)


def test_sub_cell_keypoint_keeps_its_position_unless_quantized():
    hm, _ = gaussian_heatmaps(kps((5.3, 6.8, 2)), 12, sigma=2.0)
    assert hm.max() < 1.0
    assert hm[0, 0, 7, 5].item() == pytest.approx(math.exp(-(0.3**2 + 0.2**2) / 8), abs=1e-6)
    q, _ = gaussian_heatmaps(kps((5.3, 6.8, 2)), 12, sigma=2.0, quantize=True)
    assert q[0, 0, 7, 5] == 1.0


def test_gaussian_heatmaps_validates_its_input():
    with pytest.raises(ValueError, match=r"keypoints must have shape \(B, K, 3\)"):
        gaussian_heatmaps(torch.zeros(1, 2, 2), 8, 1.0)
    with pytest.raises(ValueError, match="keypoints must be a float tensor"):
        gaussian_heatmaps(torch.zeros(1, 2, 3, dtype=torch.long), 8, 1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        gaussian_heatmaps(torch.zeros(1, 2, 3), 8, 0.0)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        gaussian_heatmaps(torch.zeros(1, 2, 3), 8, 1.0, stride=0)
    with pytest.raises(ValueError, match="size must be a positive int"):
        gaussian_heatmaps(torch.zeros(1, 2, 3), (8, 0), 1.0)
    with pytest.raises(ValueError, match="size must be a positive int"):
        gaussian_heatmaps(torch.zeros(1, 2, 3), (8, 8, 8), 1.0)  # type: ignore[arg-type]


def test_heatmap_mse_loss_weights_each_channel():
    target, weight = gaussian_heatmaps(kps((3, 3, 2), (4, 4, 0)), 8, 1.0)
    pred = torch.full_like(target, 0.5, requires_grad=True)
    loss = heatmap_mse_loss(pred, target, weight)
    expected = ((0.5 - target[0, 0]) ** 2).sum() / target.numel()  # channel 1 (v = 0) has weight 0
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert pred.grad is not None and pred.grad[0, 1].abs().sum() == 0
    assert heatmap_mse_loss(target, target).item() == 0.0
    with pytest.raises(ValueError, match="must have the same shape"):
        heatmap_mse_loss(pred, target[:, :1])


# --- Decoding ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 4])
@pytest.mark.parametrize("refine", [False, True])
def test_argmax_is_exact_on_integer_peaks(stride, refine):
    g = torch.Generator().manual_seed(0)
    cells = torch.randint(0, 16, (3, 5, 2), generator=g).float()  # border peaks included
    keypoints = torch.cat([heatmap_to_image(cells, stride), torch.full((3, 5, 1), 2.0)], dim=-1)
    hm, _ = gaussian_heatmaps(keypoints, 16, sigma=1.5, stride=stride)
    coords, scores = decode_argmax(hm, stride=stride, refine=refine)
    assert coords.shape == (3, 5, 2) and scores.shape == (3, 5)
    assert torch.equal(coords, keypoints[..., :2])  # symmetric neighbours: no shift
    assert torch.equal(scores, torch.ones(3, 5))


def test_refinement_moves_a_quarter_cell_towards_the_higher_neighbour():
    hm, _ = gaussian_heatmaps(kps((10.3, 6.0, 2), (4.0, 5.7, 2), (0.4, 3.0, 2)), 16, sigma=2.0)
    coords, scores = decode_argmax(hm, refine=True)
    assert coords[0].tolist() == [[10.25, 6.0], [4.0, 5.75], [0.0, 3.0]]  # right; up; border column: no shift
    assert torch.equal(decode_argmax(hm, refine=False)[0][0], torch.tensor([[10.0, 6.0], [4.0, 6.0], [0.0, 3.0]]))
    assert torch.equal(scores, hm.amax(dim=(2, 3)))
    # stride 4: a quarter cell is one pixel
    hm4, _ = gaussian_heatmaps(kps((10.3 * 4 + 1.5, 6 * 4 + 1.5, 2)), 16, sigma=2.0, stride=4)
    assert decode_argmax(hm4, stride=4)[0][0, 0].tolist() == [10 * 4 + 1.5 + 1, 6 * 4 + 1.5]


def test_refinement_halves_the_mean_quantisation_error():
    g = torch.Generator().manual_seed(1)
    keypoints = torch.cat([torch.rand(200, 1, 2, generator=g) * 20 + 6, torch.full((200, 1, 1), 2.0)], dim=-1)
    hm, _ = gaussian_heatmaps(keypoints, 32, sigma=2.0)
    plain = (decode_argmax(hm, refine=False)[0] - keypoints[..., :2]).abs()
    refined = (decode_argmax(hm, refine=True)[0] - keypoints[..., :2]).abs()
    assert plain.max() <= 0.5 and refined.max() <= 0.25 + 1e-6
    assert refined.mean() < 0.6 * plain.mean()


@pytest.mark.parametrize("stride", [1, 4])
def test_soft_argmax_recovers_sub_pixel_positions(stride):
    g = torch.Generator().manual_seed(2)
    cells = torch.rand(4, 3, 2, generator=g) * 32 + 8  # sub-cell positions on a 48 x 48 map
    keypoints = torch.cat([heatmap_to_image(cells, stride), torch.full((4, 3, 1), 2.0)], dim=-1)
    hm, _ = gaussian_heatmaps(keypoints, 48, sigma=3.0, stride=stride)
    coords = soft_argmax(hm, stride=stride)
    assert coords.shape == (4, 3, 2)
    assert (coords - keypoints[..., :2]).norm(dim=-1).max() < 0.05


def test_soft_argmax_is_differentiable():
    logits = torch.zeros(1, 1, 8, 8, requires_grad=True)
    coords = soft_argmax(logits, beta=1.0)
    assert torch.allclose(coords, torch.tensor([[[3.5, 3.5]]]))  # uniform map: the centre
    coords.sum().backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all()) and logits.grad.abs().sum() > 0


def test_decoders_validate_their_input():
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(B, K, H, W\)"):
        decode_argmax(torch.zeros(2, 8, 8))
    with pytest.raises(TypeError, match="heatmaps must be a torch.Tensor"):
        soft_argmax(np.zeros((1, 1, 8, 8)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beta must be > 0"):
        soft_argmax(torch.zeros(1, 1, 8, 8), beta=0.0)


# --- PCK and OKS ------------------------------------------------------------------------------------------------


def test_pck_known_values():
    true = torch.zeros(2, 3, 2)
    pred = torch.tensor([[[0.0, 0.0], [4.9, 0.0], [3.0, 4.0]], [[0.0, 9.9], [12.0, 0.0], [3.0, 0.0]]])
    visible = torch.tensor([[2, 2, 1], [2, 1, 0]])
    per_keypoint, mean = pck(pred, true, visible, threshold=0.5, normaliser=torch.tensor([10.0, 20.0]))
    # radii 5 and 10: keypoint 0 right twice; keypoint 1 right (4.9 < 5), wrong (12 > 10);
    # keypoint 2 at exactly 5 is wrong (strict), and unlabelled in instance 1
    assert per_keypoint.tolist() == [1.0, 0.5, 0.0]
    assert mean == pytest.approx(3 / 5)
    per_keypoint, mean = pck(pred, true, visible.bool() & torch.tensor([True, True, False]), 0.5, 10.0)
    # one radius of 5 px: instance 1's keypoint 0 (9.9 px off) is now wrong
    assert per_keypoint[:2].tolist() == [0.5, 0.5] and math.isnan(per_keypoint[2])
    assert mean == pytest.approx(2 / 4)


def test_pck_validates_its_input():
    with pytest.raises(ValueError, match="same"):
        pck(torch.zeros(2, 3, 2), torch.zeros(2, 4, 2), torch.ones(2, 3), 0.5, 1.0)
    with pytest.raises(ValueError, match="normaliser must be > 0"):
        pck(torch.zeros(2, 3, 2), torch.zeros(2, 3, 2), torch.ones(2, 3), 0.5, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"visible must be a \(B, K\)"):
        pck(torch.zeros(2, 3, 2), torch.zeros(2, 3, 2), torch.ones(3), 0.5, 1.0)


def test_oks_equals_a_hand_computation():
    true = torch.tensor([[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]]])
    pred = torch.tensor([[[12.0, 10.0], [20.0, 17.0], [90.0, 0.0]]])  # 2 px and 3 px off; the third is unlabelled
    value = oks(pred, true, torch.tensor([[2, 1, 0]]), area=400.0, sigmas=[0.1, 0.2, 0.3])
    # e = d^2 / (2 s^2 k^2), k = 2 sigma: 4 / (2 * 400 * 0.04) and 9 / (2 * 400 * 0.16)
    expected = (math.exp(-4 / 32) + math.exp(-9 / 128)) / 2
    assert value.shape == (1,) and value.item() == pytest.approx(expected, rel=1e-12)
    assert oks(true, true, torch.ones(1, 3), 400.0, [0.1, 0.2, 0.3]).item() == pytest.approx(1.0)
    assert math.isnan(oks(pred, true, torch.zeros(1, 3), 400.0, [0.1, 0.2, 0.3]).item())


def test_oks_validates_its_input():
    with pytest.raises(ValueError, match="sigmas must have one value per keypoint"):
        oks(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.ones(1, 3), 100.0, [0.1, 0.1])
    with pytest.raises(ValueError, match="area must be >= 0"):
        oks(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.ones(1, 3), -1.0, [0.1] * 3)


def test_oks_equals_pycocotools_compute_oks():
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(3)
    n, k = 6, len(COCO_SIGMAS)
    true = rng.uniform(0, 200, (n, k, 2))
    pred = true + rng.normal(0, 6, (n, k, 2))
    v = rng.integers(0, 3, (n, k))
    v[0] = 2  # at least one instance fully labelled
    area = rng.uniform(500, 20000, n)
    gt = {
        "images": [{"id": i + 1, "width": 256, "height": 256} for i in range(n)],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(k)]}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1,
                "keypoints": np.concatenate([true[i], v[i][:, None]], axis=1).ravel().tolist(),
                "num_keypoints": int((v[i] > 0).sum()),
                "area": float(area[i]),
                "bbox": [0.0, 0.0, 200.0, 200.0],
                "iscrowd": 0,
            }
            for i in range(n)
        ],
    }
    res = [
        {
            "image_id": i + 1,
            "category_id": 1,
            "keypoints": np.concatenate([pred[i], np.ones((k, 1))], axis=1).ravel().tolist(),
            "score": 0.9,
        }
        for i in range(n)
    ]
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(res), "keypoints")
        ev.params.kpt_oks_sigmas = np.array(COCO_SIGMAS)
        ev.evaluate()
    reference = [ev.ious[(i + 1, 1)][0, 0] for i in range(n)]
    ours = oks(torch.from_numpy(pred), torch.from_numpy(true), torch.from_numpy(v), torch.from_numpy(area), COCO_SIGMAS)
    assert ours.tolist() == pytest.approx(reference, rel=1e-12, abs=0)


# --- COCO keypoint evaluation -----------------------------------------------------------------------------------

K = 5
SIGMAS = [0.05, 0.06, 0.07, 0.08, 0.09]


def figure(rng, x0, y0, w, h, v=None):
    """Flat [x, y, v] * K of a figure in the box (x0, y0, w, h)."""
    v = [2] * K if v is None else v
    out = []
    for j in range(K):
        x, y = (x0 + rng.uniform(0, w), y0 + rng.uniform(0, h)) if v[j] else (0.0, 0.0)
        out += [float(x), float(y), int(v[j])]
    return out


def small_ground_truth(image_size=128):
    """Six images; figures from 12 x 12 to 110 x 110 px (small, medium, large), one unlabelled, one crowd."""
    rng = np.random.default_rng(4)
    boxes = [  # image_id, x, y, w, h
        (1, 10, 10, 40, 60),
        (1, 60, 20, 50, 90),
        (2, 5, 5, 110, 110),
        (3, 20, 30, 12, 12),
        (3, 50, 50, 25, 30),
        (4, 10, 10, 30, 40),
        (5, 40, 40, 60, 70),
        (5, 0, 0, 20, 20),
        (6, 30, 30, 35, 45),
    ]
    anns = []
    for aid, (img, x, y, w, h) in enumerate(boxes, start=1):
        v = [2, 1, 2, 0, 2] if aid % 3 == 0 else None
        anns.append(
            {
                "id": aid,
                "image_id": img,
                "category_id": 1,
                "keypoints": figure(rng, x, y, w, h, v),
                "bbox": [float(x), float(y), float(w), float(h)],
                "area": float(w * h),
                "iscrowd": 0,
            }
        )
    anns.append({**anns[0], "id": 20, "image_id": 6, "keypoints": [0.0] * (3 * K)})  # labelled nothing: ignored
    anns.append({**anns[1], "id": 21, "image_id": 4, "iscrowd": 1})  # a crowd: ignored
    for a in anns:
        a["num_keypoints"] = sum(1 for v in a["keypoints"][2::3] if v > 0)
    images = [{"id": i, "width": image_size, "height": image_size, "file_name": f"{i}.png"} for i in range(1, 7)]
    categories = [{"id": 1, "name": "figure", "keypoints": [f"k{j}" for j in range(K)], "skeleton": [[1, 2]]}]
    return {"images": images, "annotations": anns, "categories": categories}


def perturbed_results(gt):
    """Noisy copies of most figures (two missed, one duplicated), plus false positives (one collapsed to a point)."""
    rng = np.random.default_rng(5)
    results = []
    for a in gt["annotations"]:
        if a["id"] in (2, 7, 20, 21):  # missed detections
            continue
        xy = np.array(a["keypoints"], dtype=float).reshape(K, 3)[:, :2]
        scale = math.sqrt(a["area"])
        copies = 2 if a["id"] == 5 else 1
        for _ in range(copies):
            noisy = xy + rng.normal(0, 0.04 * scale, xy.shape)
            results.append(
                {
                    "image_id": a["image_id"],
                    "category_id": 1,
                    "keypoints": np.concatenate([noisy, np.ones((K, 1))], axis=1).ravel().tolist(),
                    "score": float(rng.uniform(0.3, 1.0)),
                }
            )
    for img, score in ((1, 0.95), (3, 0.5), (6, 0.7)):  # false positives
        fp = np.concatenate([rng.uniform(0, 128, (K, 2)), np.ones((K, 1))], axis=1)
        results.append({"image_id": img, "category_id": 1, "keypoints": fp.ravel().tolist(), "score": score})
    results.append({"image_id": 2, "category_id": 1, "keypoints": [64.0, 64.0, 1.0] * K, "score": 0.99})
    return results


def pycocotools_stats(gt, results, sigmas, area_rng=None):
    """COCOeval 'keypoints' written out directly, without cvlib."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "keypoints")
        ev.params.kpt_oks_sigmas = np.array(sigmas)
        if area_rng is not None:
            ev.params.areaRng = area_rng
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats.tolist()


def test_keypoint_ap_equals_a_direct_cocoeval_run(capsys):
    gt = small_ground_truth()
    before = copy.deepcopy(gt)
    results = perturbed_results(gt)
    results_before = copy.deepcopy(results)
    ours = keypoint_ap(gt, results, SIGMAS)
    assert capsys.readouterr().out == ""  # pycocotools' prints are captured
    assert gt == before and results == results_before  # inputs untouched
    assert tuple(ours) == KEYPOINT_STAT_NAMES
    reference = pycocotools_stats(gt, results, SIGMAS)
    assert list(ours.values()) == reference
    assert 0.2 < ours["AP"] < 0.95 and all(v >= 0 for v in ours.values())  # every size range is populated


def test_keypoint_ap_area_ranges_equal_cocoeval_with_those_ranges():
    gt, results = small_ground_truth(), perturbed_results(small_ground_truth())
    ranges = {"medium": (0.0, 40.0**2), "large": (40.0**2, 128.0**2)}
    ours = keypoint_ap(gt, results, SIGMAS, area_ranges=ranges)
    reference = pycocotools_stats(gt, results, SIGMAS, [[0, 1e10], [0, 1600], [1600, 128**2]])
    assert list(ours.values()) == reference
    default = keypoint_ap(gt, results, SIGMAS)
    assert ours["AP"] == default["AP"] and ours["AR"] == default["AR"]  # "all" does not change
    assert ours["AP_medium"] != default["AP_medium"]


def test_small_figures_count_in_ap_but_not_in_ap_medium_or_large():
    """64 x 64 images: no figure reaches 96^2, and figures under 32^2 px^2 leave AP_medium as well."""
    rng = np.random.default_rng(6)
    boxes = [(1, 5, 5, 20, 40), (2, 10, 10, 14, 14), (3, 30, 20, 25, 30)]  # areas 800, 196, 750: all < 32^2
    gt = {
        "images": [{"id": i, "width": 64, "height": 64} for i in (1, 2, 3)],
        "categories": [{"id": 1, "name": "figure", "keypoints": [f"k{j}" for j in range(K)]}],
        "annotations": [
            {
                "id": i,
                "image_id": img,
                "category_id": 1,
                "keypoints": figure(rng, x, y, w, h),
                "num_keypoints": K,
                "bbox": [x, y, w, h],
                "area": float(w * h),
                "iscrowd": 0,
            }
            for i, (img, x, y, w, h) in enumerate(boxes, start=1)
        ],
    }
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 0.9}
        for a in gt["annotations"]
    ]
    stats = keypoint_ap(gt, results, SIGMAS)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    for name in ("AP_medium", "AP_large", "AR_medium", "AR_large"):
        assert stats[name] == -1.0
    fitted = keypoint_ap(gt, results, SIGMAS, area_ranges={"medium": (0, 24**2), "large": (24**2, 64**2)})
    assert fitted["AP_medium"] == pytest.approx(1.0) and fitted["AP_large"] == pytest.approx(1.0)
    # a false positive collapsed to one point has area 0: it lowers AP, yet a range starting above 0 ignores it
    collapsed = [{"image_id": 2, "category_id": 1, "keypoints": [40.0, 40.0, 1.0] * K, "score": 0.99}]
    with_fp = keypoint_ap(gt, results + collapsed, SIGMAS, area_ranges={"medium": (10**2, 24**2)})
    assert with_fp["AP"] < 1.0 and with_fp["AP_medium"] == pytest.approx(1.0)  # medium: figure 2 (196 px^2)
    from_zero = keypoint_ap(gt, results + collapsed, SIGMAS, area_ranges={"medium": (0, 24**2)})
    assert from_zero["AP_medium"] < 1.0
    assert COCO_AREA_RANGES == {"medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}


def test_keypoint_ap_without_results_and_with_a_coco_object():
    from cvlib.data.coco import load_coco_api

    gt = small_ground_truth()
    empty = keypoint_ap(gt, [], SIGMAS)
    assert empty["AP"] == 0.0 and empty["AR"] == 0.0
    results = perturbed_results(gt)
    assert keypoint_ap(load_coco_api(copy.deepcopy(gt)), results, SIGMAS) == keypoint_ap(gt, results, SIGMAS)


def test_keypoint_ap_validates_its_input():
    gt, results = small_ground_truth(), perturbed_results(small_ground_truth())
    with pytest.raises(ValueError, match="has 15 keypoint values but sigmas has 4"):
        keypoint_ap(gt, results, SIGMAS[:4])
    with pytest.raises(ValueError, match="image_id 99 .*not in the ground truth"):
        keypoint_ap(gt, [{**results[0], "image_id": 99}], SIGMAS)
    with pytest.raises(ValueError, match="has 6 keypoint values, expected 3 x 5"):
        keypoint_ap(gt, [{**results[0], "keypoints": [1.0] * 6}], SIGMAS)
    broken = copy.deepcopy(gt)
    del broken["annotations"][0]["num_keypoints"]
    with pytest.raises(ValueError, match="annotation 1 lacks num_keypoints"):
        keypoint_ap(broken, results, SIGMAS)
    with pytest.raises(ValueError, match="area_ranges must map 'medium' / 'large'"):
        keypoint_ap(gt, results, SIGMAS, area_ranges={"small": (0, 10)})
    with pytest.raises(ValueError, match="sigmas must be K > 0 values"):
        keypoint_ap(gt, results, [0.1, 0.0, 0.1, 0.1, 0.1])


def test_keypoint_results_format():
    coords = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.5, 6.5], [7.0, 8.0]]])
    scores = torch.tensor([[0.2, 0.4], [1.0, 0.5]])
    entries = keypoint_results(coords, scores, torch.tensor([7, 7]), category_id=3)
    assert entries[0] == {
        "image_id": 7,
        "category_id": 3,
        "keypoints": [1.0, 2.0, 1.0, 3.0, 4.0, 1.0],
        "score": pytest.approx(0.3),
    }
    assert entries[1]["keypoints"] == [5.5, 6.5, 1.0, 7.0, 8.0, 1.0]
    assert entries[1]["score"] == pytest.approx(0.75)
    boxed = keypoint_results(coords, scores, [1, 2], box_scores=[0.9, 0.1])
    assert [e["score"] for e in boxed] == pytest.approx([0.9, 0.1]) and [e["image_id"] for e in boxed] == [1, 2]
    with pytest.raises(ValueError, match="3 image ids for 2 instances"):
        keypoint_results(coords, scores, [1, 2, 3])
    with pytest.raises(ValueError, match=r"scores must be a \(B, K\)"):
        keypoint_results(coords, scores[:, :1], [1, 2])


def test_decoded_heatmaps_score_perfectly():
    """Gaussian targets of the ground truth, decoded and written as results, give AP 1 (the whole chain)."""
    gt = small_ground_truth()
    anns = [a for a in gt["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    keypoints = torch.tensor([a["keypoints"] for a in anns], dtype=torch.float32).reshape(len(anns), K, 3)
    hm, weight = gaussian_heatmaps(keypoints, 32, sigma=2.0, stride=4)
    coords, scores = decode_argmax(hm, stride=4)
    assert (coords - keypoints[..., :2]).abs()[weight > 0].max() <= 1.0 + 1e-5  # a quarter cell = 1 px
    stats = keypoint_ap(gt, keypoint_results(coords, scores, [a["image_id"] for a in anns]), SIGMAS)
    assert stats["AP50"] == pytest.approx(1.0)
