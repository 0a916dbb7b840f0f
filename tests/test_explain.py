import numpy as np
import pytest
import skimage.data
import torch
import torchvision
from matplotlib.figure import Figure
from torch import nn

from cvlib.explain import (
    energy_in_box,
    grad_cam,
    grad_cam_plus_plus,
    layer_names,
    occlusion,
    peak_location,
    pointing_game,
    randomize_weights,
    resolve_layer,
    saliency,
)
from cvlib.models.classic import SmallVGG
from cvlib.models.pretrained import load_pretrained
from cvlib.models.utils import eval_mode
from cvlib.viz import overlay_heatmap, show_heatmaps


def pearson(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel())[0, 1])


@pytest.fixture(scope="module")
def backbone():
    return load_pretrained("efficientnet_lite0")


@pytest.fixture(scope="module")
def photos(backbone):
    return torch.stack([backbone.preprocess(skimage.data.chelsea()), backbone.preprocess(skimage.data.coffee())])


def small_vgg(seed: int = 0) -> SmallVGG:
    torch.manual_seed(seed)
    return SmallVGG(in_channels=3, num_classes=5, widths=(4, 8)).eval()


# ----------------------------------------------------------- agreement with grad-cam


def test_grad_cam_agrees_with_pytorch_grad_cam_on_the_backbone(backbone, photos):
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = backbone.model.get_submodule(backbone.feature_layer)
    classes = [281, 967]  # tabby for the cat, espresso for the coffee
    for mine_fn, reference in ((grad_cam, GradCAM), (grad_cam_plus_plus, GradCAMPlusPlus)):
        mine = mine_fn(backbone.model, photos, backbone.feature_layer, classes)
        with reference(model=backbone.model, target_layers=[layer]) as cam:
            theirs = cam(input_tensor=photos, targets=[ClassifierOutputTarget(c) for c in classes])
        assert mine.shape == theirs.shape == (2, 224, 224)
        for i in range(2):
            assert pearson(mine[i], theirs[i]) >= 0.99, mine_fn.__name__


def test_grad_cam_agrees_with_pytorch_grad_cam_on_a_torchvision_resnet():
    from pytorch_grad_cam import GradCAM

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = torch.rand(3, 3, 64, 64)
    mine = grad_cam(model, x, "layer4")  # top class of each image
    with GradCAM(model=model, target_layers=[model.layer4]) as cam:
        theirs = cam(input_tensor=x, targets=None)
    for i in range(3):
        assert pearson(mine[i], theirs[i]) >= 0.99


# ----------------------------------------------------------------- known values


class GapFc(nn.Module):
    """conv -> ReLU -> global average pooling -> linear: the architecture CAM needs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))


def test_grad_cam_equals_cam_for_gap_and_fc():
    torch.manual_seed(1)
    model = GapFc().eval()
    x = torch.rand(2, 3, 12, 12)
    target = [3, 1]
    features = model.act(model.conv(x)).detach()  # (B, 6, 12, 12)
    cam = torch.einsum("bkhw,bk->bhw", features, model.fc.weight[target].detach()).clamp_min(0)
    cam = (cam - cam.amin(dim=(1, 2), keepdim=True)) / (
        cam.amax(dim=(1, 2), keepdim=True) - cam.amin(dim=(1, 2), keepdim=True)
    )
    assert torch.allclose(grad_cam(model, x, "act", target), cam, atol=1e-5)


def test_saliency_of_a_linear_model_is_its_weights():
    torch.manual_seed(0)
    weights = torch.randn(2, 3, 5, 5)
    model = nn.Sequential(nn.Flatten(), nn.Linear(75, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(weights.flatten(1))
    expected = weights[1].abs().amax(0)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    assert torch.allclose(saliency(model, torch.rand(4, 3, 5, 5), 1), expected.expand(4, 5, 5), atol=1e-6)


class TopLeftDetector(nn.Module):
    """Class 0's logit is 20 x the mean of the top-left 4x4 corner; class 1's is 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = 20 * x[:, :, :4, :4].mean(dim=(1, 2, 3))
        return torch.stack([score, torch.zeros_like(score)], dim=1)


def test_occlusion_marks_the_region_the_class_depends_on():
    x = torch.ones(2, 3, 16, 16)
    maps = occlusion(TopLeftDetector(), x, 0, patch=4, stride=4, baseline=0.0, batch_size=5)
    assert maps.shape == (2, 16, 16)
    assert torch.allclose(maps[:, :4, :4], torch.full((2, 4, 4), 0.5), atol=1e-6)  # p(class 0): ~1 -> 0.5
    assert torch.allclose(maps[:, 4:, :], torch.zeros(2, 12, 16)) and torch.allclose(
        maps[:, :, 4:], torch.zeros(2, 16, 12)
    )
    # the last patch position is flush with the border: every pixel is covered
    maps = occlusion(TopLeftDetector(), x, 0, patch=6, stride=4, baseline="mean")
    assert torch.isfinite(maps).all()
    with pytest.raises(ValueError, match="patch"):
        occlusion(TopLeftDetector(), x, 0, patch=32)


# ---------------------------------------------------------- any CNN, batches, modes


def test_shapes_ranges_and_batch_equals_single_images():
    model = small_vgg()
    x = torch.rand(3, 3, 32, 32)
    for fn in (grad_cam, grad_cam_plus_plus):
        batch = fn(model, x, "features.3", [0, 2, 4])
        assert batch.shape == (3, 32, 32) and batch.dtype == torch.float32
        assert batch.min() >= 0 and batch.max() <= 1
        single = torch.cat([fn(model, x[i : i + 1], "features.3", c) for i, c in enumerate([0, 2, 4])])
        assert torch.allclose(batch, single, atol=1e-5)
    assert grad_cam(model, x, model.features[3], upsample=False).shape == (3, 16, 16)
    s = saliency(model, x)
    assert s.shape == (3, 32, 32) and s.min() >= 0 and s.max() == 1


def test_train_mode_is_explained_in_eval_mode_and_restored():
    model = small_vgg()
    x = torch.rand(2, 3, 32, 32)
    expected = grad_cam(model, x, "features.4", 1)
    model.train()
    model.features[1].eval()  # a mixed state must survive too
    running_mean = model.features[0][1].running_mean.clone()
    got = grad_cam(model, x, "features.4", 1)
    assert torch.allclose(got, expected)  # eval mode: no dropout, running BN statistics
    assert torch.equal(model.features[0][1].running_mean, running_mean)  # statistics not updated
    assert model.training and model.features[0].training and not model.features[1].training
    assert all(p.grad is None for p in model.parameters())  # parameters' gradients untouched
    saliency(model, x)
    assert model.training and not model.features[1].training


def test_frozen_weights_and_no_grad_context_still_work():
    model = small_vgg()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        maps = grad_cam(model, torch.rand(1, 3, 32, 32), "features.4")
    assert maps.shape == (1, 32, 32) and maps.max() == 1


def test_in_place_relu_after_the_layer_does_not_change_its_activations():
    model = small_vgg()  # conv -> batch norm -> ReLU(inplace=True)
    x = torch.rand(1, 3, 32, 32)
    from cvlib.explain import layer_gradients

    acts, grads, _, _ = layer_gradients(model, x, "features.0.1", 0)
    assert (acts < 0).any()  # batch norm output, before the in-place ReLU
    assert acts.shape == grads.shape == (1, 4, 32, 32)


# -------------------------------------------------------------------- bad input


def test_unknown_layer_lists_the_valid_names(backbone):
    with pytest.raises(ValueError, match="no layer named 'net._head'") as err:
        grad_cam(backbone.model, torch.rand(1, 3, 64, 64), "net._head")
    message = str(err.value)
    assert "Did you mean" in message and "'net._head_act'" in message
    assert "Valid layer names" in message and all(name in message for name in layer_names(backbone.model))
    with pytest.raises(ValueError, match="not a sub-module"):
        resolve_layer(backbone.model, nn.ReLU())


def test_class_index_out_of_range_is_clear_and_hooks_are_removed():
    model = small_vgg()
    layer = model.features[4]
    x = torch.rand(2, 3, 32, 32)
    for bad in (5, -1, [0, 7]):
        with pytest.raises(ValueError, match=r"out of range: the model outputs 5 classes, so use an index in 0\.\.4"):
            grad_cam(model, x, "features.4", bad)
        assert not layer._forward_hooks
    with pytest.raises(ValueError, match="one per image"):
        grad_cam(model, x, "features.4", [0, 1, 2])
    with pytest.raises(ValueError, match="out of range"):
        saliency(model, x, 9)
    with pytest.raises(TypeError, match="integers"):
        grad_cam(model, x, "features.4", 1.5)


def test_hooks_removed_when_the_forward_pass_fails():
    model = small_vgg()

    class Broken(nn.Module):
        def forward(self, x):
            model.features(x)
            raise RuntimeError("boom")

    wrapper = Broken()
    wrapper.model = model
    with pytest.raises(RuntimeError, match="boom"):
        grad_cam(wrapper, torch.rand(1, 3, 32, 32), "model.features.4")
    assert all(not m._forward_hooks for m in model.modules())


def test_bad_layers_and_images():
    model = small_vgg()
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="not a convolutional feature map"):
        grad_cam(model, x, "classifier.3")
    model.unused = nn.Conv2d(3, 3, 1)
    with pytest.raises(RuntimeError, match="did not run"):
        grad_cam(model, x, "unused")
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        grad_cam(model, x[0], "features.4")
    assert all(not m._forward_hooks for m in model.modules())


# ------------------------------------------------------------------ measurement


def test_peak_location_and_pointing_game():
    maps = torch.zeros(4, 10, 20)
    maps[0, 2, 15] = 1.0  # inside box 0
    maps[1, 9, 0] = 1.0  # outside box 1
    maps[2, 5, 5] = 1.0  # just outside box 2 (exclusive end), inside with tolerance 1
    # maps[3] is flat: points nowhere
    boxes = torch.tensor([[10.0, 0, 20, 5], [5, 5, 10, 10], [0, 0, 5, 5], [0, 0, 20, 10]])
    assert peak_location(maps)[:3].tolist() == [[15, 2], [0, 9], [5, 5]]
    assert pointing_game(maps, boxes).tolist() == [True, False, False, False]
    assert pointing_game(maps, boxes, tolerance=1).tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="boxes"):
        pointing_game(maps, boxes[:2])


def test_energy_in_box():
    maps = torch.zeros(2, 4, 4)
    maps[0, :2, :2] = 1.0
    maps[0, 3, 3] = 2.0
    boxes = torch.tensor([[0.0, 0, 2, 2], [0, 0, 4, 4]])
    assert torch.allclose(energy_in_box(maps, boxes), torch.tensor([4 / 6, 0.0]))


def test_randomize_weights_copies_is_seeded_and_cascades():
    model = small_vgg()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.random.get_rng_state()
    a, b = randomize_weights(model, seed=1), randomize_weights(model, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random stream is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # original unchanged
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in before)
    assert not torch.equal(a.features[0][0].weight, model.features[0][0].weight)
    top = randomize_weights(model, seed=1, from_layer="classifier")
    assert torch.equal(top.features[4][0].weight, model.features[4][0].weight)
    assert not torch.equal(top.classifier[3].weight, model.classifier[3].weight)


def test_eval_mode_context_restores_on_error():
    model = small_vgg().train()
    with pytest.raises(KeyError), eval_mode(model):
        assert not model.training
        raise KeyError("x")
    assert model.training


# ------------------------------------------------------------------------- viz


def test_overlay_heatmap_and_show_heatmaps():
    image = torch.rand(3, 8, 10)
    heat = torch.rand(8, 10)
    out = overlay_heatmap(image, heat, alpha=0.0)
    assert out.shape == (8, 10, 3) and np.allclose(out, image.permute(1, 2, 0).numpy())
    full = overlay_heatmap(image, heat, alpha=1.0, cmap="gray")
    assert np.allclose(full[..., 0], heat.numpy(), atol=1e-2)
    assert overlay_heatmap(torch.rand(8, 10), heat).shape == (8, 10, 3)
    with pytest.raises(ValueError, match="differ in size"):
        overlay_heatmap(image, torch.rand(4, 5))
    with pytest.raises(ValueError, match="alpha"):
        overlay_heatmap(image, heat, alpha=2.0)
    fig = show_heatmaps(
        torch.rand(3, 3, 8, 10),
        torch.rand(3, 8, 10),
        ["a", "b", "c"],
        boxes=torch.tensor([[1.0, 1, 4, 4]] * 3),
        mark_peak=True,
        ncols=2,
        title="t",
    )
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="one heatmap per image"):
        show_heatmaps(torch.rand(2, 3, 8, 8), torch.rand(1, 8, 8))
