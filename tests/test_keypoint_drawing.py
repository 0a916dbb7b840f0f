"""cvlib.keypoints.drawing: keypoints land on the right pixels of the enlarged image; v = 0 is not drawn."""

import pytest
import torch

from cvlib.keypoints import COCO_KEYPOINTS, COCO_SIGMAS, COCO_SKELETON, draw_pose


def test_coco_person_constants_agree():
    assert len(COCO_KEYPOINTS) == len(COCO_SIGMAS) == 17
    assert len(COCO_SKELETON) == 19
    assert all(1 <= a <= 17 and 1 <= b <= 17 for a, b in COCO_SKELETON)
    assert (COCO_KEYPOINTS[5], COCO_KEYPOINTS[6]) == ("left_shoulder", "right_shoulder")


def test_joint_is_drawn_at_the_enlarged_pixel_centre():
    image = torch.zeros(3, 8, 8, dtype=torch.uint8)
    kp = torch.tensor([[[2.0, 5.0, 2.0]]])  # the centre of pixel (column 2, row 5)
    out = draw_pose(image, kp, scale=4, color=(255, 0, 0), radius=1)
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8
    ys, xs = (out[0] == 255).nonzero(as_tuple=True)
    # pixel 2 covers enlarged columns 8..11, pixel 5 rows 20..23: the joint is centred at 9.5 / 21.5
    assert 9 <= xs.float().mean() <= 10 and 21 <= ys.float().mean() <= 22
    assert out[1].max() == 0  # pure red


def test_unlabelled_joints_and_their_limbs_are_not_drawn_and_hidden_ones_recoloured():
    image = torch.zeros(3, 16, 16)
    kp = torch.tensor([[[2.0, 2.0, 2.0], [12.0, 2.0, 0.0], [2.0, 12.0, 1.0]]])
    out = draw_pose(image, kp, [(1, 2), (1, 3)], color=(0, 255, 0), hidden_color=(0, 0, 255), radius=1, width=1)
    assert out[:, 7, 2].tolist() == [0, 255, 0]  # (row 7, column 2) is on the limb 1-3 (x = 2), in its colour
    assert out[1, 2, 7] == 0 and out[1, 2, 12] == 0  # no limb towards the unlabelled joint 2, no joint there
    assert out[2, 12, 2] == 255  # the hidden joint 3 drawn in blue


def test_image_is_unchanged_and_bad_input_has_one_clear_error():
    image = torch.rand(3, 8, 8)
    before = image.clone()
    draw_pose(image, torch.tensor([[[1.0, 1.0]]]))
    assert torch.equal(image, before)
    with pytest.raises(ValueError, match="1-based"):
        draw_pose(image, torch.zeros(1, 2, 3), [(0, 1)])
    with pytest.raises(ValueError, match="scale"):
        draw_pose(image, torch.zeros(1, 2, 3), scale=0)
    with pytest.raises(ValueError, match=r"\(N, K, 3\)"):
        draw_pose(image, torch.zeros(2, 3))
