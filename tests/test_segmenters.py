"""cvlib.models.segmenters: torchvision segmenters in pixel space, pretrained (fixture weights) or from scratch."""

import fullfixtures
import pytest
import torch
import torch.nn.functional as F

from cvlib.models.pretrained import PretrainedUnavailableError
from cvlib.models.segmenters import IMAGENET_MEAN, IMAGENET_STD, TorchvisionSegmenter, torchvision_segmenter

NAMES = ("lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large")


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    """A torch hub cache holding seeded random-init files under the official names of both COCO weights."""
    home = tmp_path_factory.mktemp("torch_home")
    fullfixtures.torchvision_weights(home, names=NAMES)
    return home


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No download can happen: torch.hub's downloader fails as it does without network."""

    def no_network(url, *args, **kwargs):
        raise OSError(f"no network for {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)


@pytest.fixture
def with_weights(weights_home, monkeypatch, offline):
    monkeypatch.setenv("TORCH_HOME", str(weights_home))
    return weights_home


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_loads_the_cached_file_and_gets_new_classifiers(with_weights, name):
    torch.manual_seed(1)  # the files hold a seed-0 initialisation: a fresh one here differs from them
    model = torchvision_segmenter(num_classes=3, pretrained=True, name=name)
    assert isinstance(model, TorchvisionSegmenter) and model.pretrained and model.num_classes == 3
    files = list((with_weights / "hub" / "checkpoints").glob(f"{name}-*.pth"))
    state = torch.load(files[0], map_location="cpu", weights_only=True)
    ours = model.net.state_dict()
    backbone = [k for k in state if k.startswith("backbone.")]
    assert backbone and all(torch.equal(ours[k], state[k]) for k in backbone)  # the file's weights, not a fresh init
    classifiers = [m for m in model.net.classifier.modules() if isinstance(m, torch.nn.Conv2d) and m.out_channels == 3]
    assert len(classifiers) == (2 if name.startswith("lraspp") else 1)
    assert getattr(model.net, "aux_classifier", None) is None
    model.eval()
    out = model(torch.rand(2, 3, 64, 48))
    assert type(out) is torch.Tensor and out.shape == (2, 3, 64, 48) and out.dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_scratch_builds_the_same_architecture_without_any_file(tmp_path, monkeypatch, offline, name):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # empty cache and no network: nothing may be loaded
    model = torchvision_segmenter(2, pretrained=False, name=name)
    assert not model.pretrained and not any((tmp_path / "hub").rglob("*.pth"))
    out = model(torch.rand(2, 3, 32, 40))
    assert type(out) is torch.Tensor and out.shape == (2, 2, 32, 40)
    F.cross_entropy(out, torch.randint(0, 2, (2, 32, 40))).backward()  # trainable in training mode
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_scratch_and_pretrained_have_the_same_parameter_shapes(with_weights):
    scratch = torchvision_segmenter(2, pretrained=False)
    pretrained = torchvision_segmenter(2, pretrained=True)
    shapes = {k: v.shape for k, v in scratch.state_dict().items()}
    assert shapes == {k: v.shape for k, v in pretrained.state_dict().items()}


def test_forward_normalises_with_imagenet_statistics_and_unwraps_the_dict(offline):
    model = torchvision_segmenter(2, pretrained=False).eval()
    x = torch.rand(1, 3, 32, 32)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net((x - mean) / std)["out"])


def test_missing_weights_offline_say_what_to_do(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(PretrainedUnavailableError) as err:
        torchvision_segmenter(2, pretrained=True)
    message = str(err.value)
    assert "lraspp_mobilenet_v3_large-d234d4ea.pth" in message and str(tmp_path / "hub" / "checkpoints") in message
    assert "pretrained=False" in message and "CVLIB_PROFILE=quick" in message


def test_damaged_cached_weights_are_named(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / "lraspp_mobilenet_v3_large-d234d4ea.pth"
    cached.parent.mkdir(parents=True)
    torch.save({"not": torch.zeros(1)}, cached)
    with pytest.raises(PretrainedUnavailableError, match="does not load into the model") as err:
        torchvision_segmenter(2, pretrained=True)
    assert str(cached) in str(err.value) and "delete it" in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "unet"}, "unknown segmenter 'unet': choose one of lraspp_mobilenet_v3_large, deeplabv3"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"num_classes": 2.0}, "num_classes=2.0"),
        ({"num_classes": True}, "num_classes=True"),
    ],
)
def test_bad_arguments_are_one_clear_line(kwargs, match, offline):
    with pytest.raises(ValueError, match=match) as err:
        torchvision_segmenter(**{"pretrained": False, **kwargs})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.rand(3, 32, 32), ValueError, "unsqueeze"),
        (torch.rand(1, 1, 32, 32), ValueError, "3 channel"),
        (torch.rand(1, 32, 32, 3), ValueError, "permute"),
        (torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8), ValueError, "float"),
        (torch.rand(1, 3, 16, 16), ValueError, "at least 32x32"),
        ([[0.0]], TypeError, "torch.Tensor"),
    ],
    ids=["one-image", "gray", "channels-last", "uint8", "too-small", "not-a-tensor"],
)
def test_bad_input_is_one_clear_line(x, error, match, offline):
    model = torchvision_segmenter(2, pretrained=False)
    with pytest.raises(error, match=match) as err:
        model(x)
    assert "lraspp_mobilenet_v3_large" in str(err.value) and "\n" not in str(err.value)
