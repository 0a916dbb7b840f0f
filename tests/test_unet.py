"""cvlib.models.unet: shapes, skip connections, upsampling modes, ASPP, pretrained vs scratch encoder, errors."""

import pytest
import torch
from torch import nn

from cvlib.models.pretrained import load_pretrained
from cvlib.models.unet import ASPP, UNet, Up, unet_efficientnet_lite0


@pytest.mark.parametrize("upsample", ["bilinear", "transposed"])
def test_unet_gives_per_pixel_logits_at_the_input_size(upsample):
    torch.manual_seed(0)
    net = UNet(5, widths=(8, 16, 32), upsample=upsample, aspp_rates=(1, 2)).eval()
    out = net(torch.rand(2, 3, 32, 48))
    assert out.shape == (2, 5, 32, 48) and out.dtype == torch.float32
    assert any(isinstance(m, nn.ConvTranspose2d) for m in net.modules()) == (upsample == "transposed")


def test_unet_output_pixel_depends_on_the_whole_image_through_the_bottleneck_and_aspp():
    torch.manual_seed(0)
    net = UNet(2, widths=(8, 16, 32), aspp_rates=(1, 2)).eval()
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(x)[0, :, :4, :4].sum().backward()  # the logits of the top-left corner
    # image-level pooling in ASPP: the top-left logit feels the bottom-right corner (through max
    # pooling only each window's maximum gets gradient, so look at a corner patch, not one pixel)
    assert x.grad[0, :, -8:, -8:].abs().sum() > 0


def test_skip_connection_carries_full_resolution_detail():
    torch.manual_seed(0)
    up = Up(cin=4, cskip=2, cout=8).eval()
    low, skip = torch.rand(1, 4, 8, 8), torch.rand(1, 2, 16, 16, requires_grad=True)
    up(low, skip)[0, :, 5, 5].sum().backward()
    grad = skip.grad[0].abs().sum(0)
    assert grad[3:8, 3:8].sum() > 0  # two 3x3 convolutions: the skip pixels within 2 of (5, 5)
    assert grad[8:, :].sum() == 0 and grad[:, 8:].sum() == 0  # and nothing farther away


def test_aspp_keeps_the_size_and_rejects_bad_rates():
    assert ASPP(8, 6, rates=(1, 3, 6)).eval()(torch.rand(2, 8, 10, 10)).shape == (2, 6, 10, 10)
    with pytest.raises(ValueError, match="rates"):
        ASPP(8, 6, rates=(0, 2))


def test_pretrained_encoder_holds_the_imagenet_weights_and_scratch_does_not():
    pretrained = unet_efficientnet_lite0(4, pretrained=True)
    scratch = unet_efficientnet_lite0(4, pretrained=False)
    reference = load_pretrained("efficientnet_lite0").model.net._blocks[4]._depthwise_conv.weight
    assert torch.equal(pretrained.encoder.blocks[4]._depthwise_conv.weight, reference)
    assert not torch.equal(scratch.encoder.blocks[4]._depthwise_conv.weight, reference)
    # the same architecture: same parameter names and shapes
    assert [(n, p.shape) for n, p in pretrained.named_parameters()] == [
        (n, p.shape) for n, p in scratch.named_parameters()
    ]
    assert all(p.requires_grad for p in scratch.parameters())
    assert not any(p.requires_grad for p in pretrained.encoder.stem.parameters())
    out = pretrained.eval()(torch.rand(1, 3, 64, 48))
    assert out.shape == (1, 4, 64, 48)


@pytest.mark.parametrize(
    ("make", "x", "message"),
    [
        (lambda: UNet(3, widths=(4, 8, 16)), torch.rand(1, 3, 30, 32), "divisible by 4"),
        (lambda: UNet(3, widths=(4, 8)), torch.rand(1, 1, 32, 32), r"\(B, 3, H, W\)"),
        (lambda: unet_efficientnet_lite0(3), torch.rand(1, 3, 40, 40), "divisible by 16"),
    ],
)
def test_bad_input_size_is_one_clear_error(make, x, message):
    with pytest.raises(ValueError, match=message):
        make().eval()(x)


def test_bad_construction_arguments_are_errors():
    with pytest.raises(ValueError, match="upsample mode"):
        UNet(3, upsample="nearest")
    with pytest.raises(ValueError, match="num_classes"):
        UNet(0)
