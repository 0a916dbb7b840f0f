"""cvlib.models.keypointnet: regression and heatmap networks on one encoder, and the COCO Keypoint R-CNN builder."""

import fullfixtures
import pytest
import torch

from cvlib.models.keypointnet import keypoint_heatmap_net, keypoint_regressor, keypointrcnn_resnet50_coco
from cvlib.models.pretrained import load_pretrained


@pytest.mark.parametrize("pretrained", [True, False])
def test_regressor_gives_coordinates_inside_the_image(pretrained):
    torch.manual_seed(0)
    model = keypoint_regressor(5, pretrained=pretrained).eval()
    with torch.no_grad():
        y = model(torch.rand(3, 3, 64, 96))
    assert y.shape == (3, 5, 2)
    assert bool((y[..., 0] > 0).all() and (y[..., 0] < 96).all())  # x within the width
    assert bool((y[..., 1] > 0).all() and (y[..., 1] < 64).all())  # y within the height


def test_heatmap_net_gives_one_full_resolution_map_per_keypoint():
    model = keypoint_heatmap_net(7, pretrained=False).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 48, 64)).shape == (2, 7, 48, 64)


def test_both_networks_share_the_pretrained_encoder_weights():
    reference = load_pretrained("efficientnet_lite0").model.net._blocks[4].state_dict()
    for model in (keypoint_regressor(3), keypoint_heatmap_net(3)):
        block = model.encoder.blocks[4].state_dict()
        assert all(torch.equal(block[k], reference[k]) for k in reference)
        assert not any(p.requires_grad for p in model.encoder.stem.parameters())  # frozen with ImageNet weights
    scratch = keypoint_regressor(3, pretrained=False)
    assert all(p.requires_grad for p in scratch.encoder.stem.parameters())
    assert not torch.equal(
        scratch.encoder.blocks[4].state_dict()[next(iter(reference))], reference[next(iter(reference))]
    )


def test_regressor_trains_toward_a_fixed_target():
    torch.manual_seed(0)
    model = keypoint_regressor(2, pretrained=False)
    x, target = torch.rand(4, 3, 32, 32), torch.tensor([[8.0, 24.0], [20.0, 5.0]]).expand(4, 2, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = (model(x) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match="num_keypoints"):
        keypoint_regressor(0, pretrained=False)
    with pytest.raises(ValueError, match="num_keypoints"):
        keypoint_heatmap_net(0, pretrained=False)
    with pytest.raises(ValueError, match="divisible by 16"):
        keypoint_regressor(2, pretrained=False)(torch.rand(1, 3, 40, 40))


def test_keypointrcnn_loads_the_coco_file_and_swaps_predictors(tmp_path, monkeypatch):
    fullfixtures.torchvision_weights(tmp_path, names=("keypointrcnn_resnet50_fpn",))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    coco = keypointrcnn_resnet50_coco(min_size=64, max_size=64)
    assert coco.roi_heads.keypoint_predictor.kps_score_lowres.out_channels == 17
    saved = torch.load(next((tmp_path / "hub" / "checkpoints").iterdir()), weights_only=True)
    assert torch.equal(coco.backbone.body.conv1.weight, saved["backbone.body.conv1.weight"])
    model = keypointrcnn_resnet50_coco(num_keypoints=11, min_size=64, max_size=64).eval()
    assert model.roi_heads.keypoint_predictor.kps_score_lowres.out_channels == 11
    with torch.no_grad():
        out = model([torch.rand(3, 64, 64)])
    assert out[0]["keypoints"].shape[1:] == (11, 3)
    with pytest.raises(ValueError, match="num_keypoints"):
        keypointrcnn_resnet50_coco(num_keypoints=0)
