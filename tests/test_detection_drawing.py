"""cvlib.detection.drawing: class colours, drawn detections, the prediction grid."""

import warnings

import pytest
import torch

from cvlib.data.shapes import CLASSES
from cvlib.detection import PALETTE, class_color, draw_detections, show_detections


def square(side=32):
    masks = torch.zeros(1, side, side, dtype=torch.bool)
    masks[0, 4:10, 4:10] = True
    return masks


def one_prediction(score=0.9):
    return {
        "boxes": torch.tensor([[4.0, 4, 10, 10]]),
        "labels": torch.tensor([2]),
        "scores": torch.tensor([score]),
        "masks": square(),
    }


def test_class_colours_are_fixed_and_cycle_through_the_palette():
    assert class_color(1) == PALETTE[0] and class_color(2) == PALETTE[1]
    assert class_color(len(PALETTE) + 1) == class_color(1)


def test_drawing_scales_the_picture_and_returns_uint8():
    pic = draw_detections(
        torch.rand(3, 32, 32),
        torch.tensor([[4.0, 4, 10, 10]]),
        torch.tensor([2]),
        square(),
        torch.tensor([0.9]),
        CLASSES,
        scale=2,
    )
    assert pic.shape == (3, 64, 64) and pic.dtype == torch.uint8


def test_drawing_nothing_returns_the_image():
    image = torch.rand(3, 32, 32)
    empty = draw_detections(image, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))
    assert torch.equal(empty, (image * 255).round().to(torch.uint8))


def test_mask_is_painted_in_the_class_colour():
    pic = draw_detections(
        torch.zeros(3, 32, 32), torch.tensor([[4.0, 4, 10, 10]]), [1], square(), alpha=1.0, captions=False
    )
    red = int(PALETTE[0][1:3], 16)
    assert pic[0, 6, 6] == red and pic[:, 20, 20].tolist() == [0, 0, 0]


def test_captions_are_drawn():
    image = torch.rand(3, 32, 32)
    plain = draw_detections(image, torch.tensor([[4.0, 4, 10, 10]]), [2], scale=2, captions=False)
    captioned = draw_detections(image, torch.tensor([[4.0, 4, 10, 10]]), [2], scale=2, class_names=CLASSES)
    assert not torch.equal(plain, captioned)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": torch.rand(32, 32, 3)}, r"image must be \(3, H, W\)"),
        ({"labels": [1, 2]}, "one box, label, mask and score per object"),
        ({"masks": torch.zeros(1, 16, 16, dtype=torch.bool)}, "masks are"),
        ({"scale": 0}, "scale"),
    ],
)
def test_drawing_refuses_inconsistent_inputs(kwargs, message):
    args = {"image": torch.rand(3, 32, 32), "boxes": torch.tensor([[4.0, 4, 10, 10]]), "labels": [1], **kwargs}
    with pytest.raises(ValueError, match=message):
        draw_detections(**args)


def test_grid_counts_detections_above_the_threshold_without_warnings():
    image = torch.rand(3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = show_detections([image, image], [one_prediction(), one_prediction()], CLASSES, score_threshold=0.5)
    assert fig.axes[0].get_title() == "1 found" and fig.get_suptitle() == "Predictions (score >= 0.50)"
    assert (
        show_detections([image], [one_prediction(0.2)], CLASSES, score_threshold=0.5).axes[0].get_title() == "0 found"
    )


def test_grid_of_ground_truth_compares_with_the_targets():
    image = torch.rand(3, 32, 32)
    truth = show_detections(
        [image], [one_prediction(0.2)], CLASSES, [one_prediction()], score_threshold=None, title="Ground truth"
    )
    assert truth.axes[0].get_title() == "1 object / 1 true" and truth.get_suptitle() == "Ground truth"


def test_grid_needs_one_prediction_per_image():
    with pytest.raises(ValueError, match="one prediction .*per image, got 2 images, 1 predictions"):
        show_detections([torch.rand(3, 8, 8)] * 2, [one_prediction()])
