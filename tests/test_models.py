import pytest
import torch

from cvlib.models.classic import LeNet5, SmallResNet, SmallVGG, conv_output_size
from cvlib.models.utils import count_parameters


@pytest.mark.parametrize("cls", [LeNet5, SmallVGG, SmallResNet])
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)])
def test_output_shapes(cls, channels, size):
    kwargs = {"input_size": size} if cls is LeNet5 else {}
    model = cls(in_channels=channels, num_classes=7, **kwargs)
    assert model(torch.rand(4, channels, size, size)).shape == (4, 7)


def test_lenet_parameter_count_by_hand():
    conv1 = 6 * (1 * 5 * 5) + 6
    conv2 = 16 * (6 * 5 * 5) + 16
    fc = (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert count_parameters(LeNet5()) == conv1 + conv2 + fc == 61706


def test_vgg_parameter_count_by_hand():
    # two 3x3 convs per stage (no bias with batch norm) + BN (2 per channel) + linear head
    total, cin = 0, 1
    for w in (16, 32, 64):
        total += (cin * 9 * w + 2 * w) + (w * 9 * w + 2 * w)
        cin = w
    total += 64 * 10 + 10
    assert count_parameters(SmallVGG()) == total


def test_trainable_only_counts_unfrozen():
    model = LeNet5()
    for p in model.features.parameters():
        p.requires_grad = False
    assert count_parameters(model, trainable_only=True) == count_parameters(model.classifier)


def test_output_size_formula_matches_conv2d():
    for n, k, s, p in [(28, 5, 1, 0), (28, 3, 2, 1), (32, 7, 2, 3), (9, 2, 2, 0)]:
        out = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n))
        assert out.shape[-1] == conv_output_size(n, k, s, p)


def test_wrong_input_shapes_give_one_clear_line():
    model = LeNet5()
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)") as err:
        model(torch.rand(1, 28, 28))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"must have 1 channel.*in_channels=3"):
        model(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="float"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="at least"):
        SmallVGG()(torch.rand(2, 1, 4, 4))
