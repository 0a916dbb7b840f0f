"""Feature maps of a pretrained network at chosen layers: the "perceptual" features of lesson 10.

A perceptual loss (Johnson et al., 2016) and Gatys et al.'s style transfer compare images through
the activations of a network trained on ImageNet instead of pixel by pixel. :class:`FeatureTaps`
wraps any network and returns the outputs of named submodules (forward hooks), stopping the
forward pass after the deepest one so that layers never read are never computed. The losses
built on it live in the task module :mod:`cvlib.conditional`.

:func:`perceptual_taps` builds the taps of lesson 10 by name: the offline ImageNet EfficientNet-Lite0
(``quick``) or torchvision's ImageNet VGG-16 convolutional part (``full``; Gatys et al. and Johnson et al.
used VGG), at the layers of :data:`LAYERS` -- ``"content"`` (one deep layer: what is where), ``"style"``
(shallow to deep: the Gram matrices of these are the style) and ``"sr"`` (the feature loss of
super-resolution, Johnson et al.'s relu2_2 for VGG).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torchvision.models import VGG16_Weights, vgg16

from cvlib.models.pretrained import Normalize, load_pretrained, with_torchvision_weights

__all__ = ["LAYERS", "FeatureTaps", "perceptual_taps", "vgg16_features"]

#: Tapped layers per network and role. VGG-16 ``features`` indices: 3 relu1_2, 8 relu2_2, 15 relu3_3, 22 relu4_3.
LAYERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "efficientnet_lite0": {
        "content": ("net._blocks.5",),  # stride 16, 80 channels
        "style": ("net._conv_stem", "net._blocks.1", "net._blocks.3", "net._blocks.5"),  # strides 2, 4, 8, 16
        "sr": ("net._blocks.1", "net._blocks.3"),  # stride 4 (24 channels), stride 8 (40): edges, textures
    },
    "vgg16": {
        "content": ("15",),  # relu3_3
        "style": ("3", "8", "15", "22"),  # relu1_2, relu2_2, relu3_3, relu4_3 (Johnson et al.)
        "sr": ("8",),  # relu2_2, Johnson et al.'s super-resolution feature loss
    },
}


class _Stop(Exception):
    """Raised by the hook of the deepest tapped layer: the rest of the network is not run."""


class FeatureTaps(nn.Module):
    """``(B, 3, H, W)`` images -> ``{layer name: (B, C, H', W') feature map}`` of a frozen network.

    Args:
        net: the network (left unchanged apart from ``eval()`` and frozen parameters), e.g.
            ``load_pretrained("efficientnet_lite0").model`` or torchvision's ``vgg16(weights=...).features``.
        layers: dotted submodule names (``dict(net.named_modules())`` keys) whose outputs are returned, in
            the order the forward pass reaches them.
        normalize: a module applied to the input first (e.g. the ImageNet mean/std), or None.

    Raises:
        ValueError: no layers, or a name that is not a submodule of ``net`` (the error lists a few valid ones).
    """

    def __init__(self, net: nn.Module, layers: Sequence[str], normalize: nn.Module | None = None) -> None:
        super().__init__()
        if not layers:
            raise ValueError("FeatureTaps needs at least one layer name.")
        modules = dict(net.named_modules())
        unknown = [name for name in layers if name not in modules or name == ""]
        if unknown:
            valid = [n for n in modules if n][:8]
            raise ValueError(f"{unknown[0]!r} is not a submodule of the network; e.g. {', '.join(valid)}.")
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.normalize = normalize
        self.layers = list(layers)
        self._modules_by_name = {name: modules[name] for name in self.layers}

    def train(self, mode: bool = True) -> FeatureTaps:  # the tapped network stays in eval mode (batch norm)
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"FeatureTaps expects an image batch (B, C, H, W), got {got}.")
        found: dict[str, torch.Tensor] = {}

        def hook_for(name: str):
            def hook(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
                found[name] = output
                if len(found) == len(self.layers):
                    raise _Stop

            return hook

        # hooks live only during this call, so several FeatureTaps can share one network
        handles = [m.register_forward_hook(hook_for(name)) for name, m in self._modules_by_name.items()]
        try:
            self.net(self.normalize(x) if self.normalize is not None else x)
        except _Stop:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [name for name in self.layers if name not in found]
        if missing:
            raise RuntimeError(f"the forward pass never reached layer {missing[0]!r}: is it used by forward()?")
        return {name: found[name] for name in self.layers}


def vgg16_features() -> nn.Sequential:
    """torchvision's ImageNet VGG-16 (``IMAGENET1K_V1``), its convolutional part only (``features``, 14.7 M
    parameters): input normalised with the ImageNet mean / std, ``(B, 3, H, W)`` -> ``(B, 512, H/32, W/32)``.

    Downloads the weights file once (528 MB, into the torch hub cache; its hash is checked on download) and
    reads only its ``features.*`` tensors (the classifier is never built).

    Raises:
        cvlib.models.pretrained.PretrainedUnavailableError: the file is neither cached nor downloadable,
            or the cached file is damaged.
    """

    def build(weights: VGG16_Weights) -> nn.Sequential:
        state = weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
        features = vgg16(weights=None).features
        features.load_state_dict(
            {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        )
        return features

    return with_torchvision_weights(
        build, VGG16_Weights.IMAGENET1K_V1, "torchvision's VGG-16", "use perceptual_taps('efficientnet_lite0')"
    )


def perceptual_taps(
    name: str = "efficientnet_lite0", role: str = "style", layers: Sequence[str] | None = None
) -> FeatureTaps:
    """Frozen feature taps of lesson 10's perceptual network ``name`` at ``LAYERS[name][role]`` (or ``layers``).

    Args:
        name: ``"efficientnet_lite0"`` (offline, normalises its input itself) or ``"vgg16"`` (downloads once;
            ImageNet normalisation added in front).
        role: ``"content"``, ``"style"``, ``"sr"`` or ``"all"`` (content and style layers together, in network order).
        layers: explicit layer names instead of a role.

    Input images ``(B, 3, H, W)`` in [0, 1].

    Raises:
        ValueError: an unknown name or role.
    """
    if name not in LAYERS:
        raise ValueError(f"unknown perceptual network {name!r}: choose one of {', '.join(LAYERS)}.")
    roles = LAYERS[name]
    if layers is None:
        if role == "all":
            names = {*roles["content"], *roles["style"]}
            net, normalize = _network(name)
            order = [n for n, _ in net.named_modules()]
            return FeatureTaps(net, sorted(names, key=order.index), normalize)
        if role not in roles:
            raise ValueError(f"unknown role {role!r}: choose one of {', '.join(roles)} or 'all'.")
        layers = roles[role]
    net, normalize = _network(name)
    return FeatureTaps(net, layers, normalize)


def _network(name: str) -> tuple[nn.Module, nn.Module | None]:
    if name == "vgg16":
        preset = VGG16_Weights.IMAGENET1K_V1.transforms()
        return vgg16_features(), Normalize(preset.mean, preset.std)
    return load_pretrained("efficientnet_lite0").model, None
