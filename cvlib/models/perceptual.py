"""Feature maps of a pretrained network at chosen layers: the "perceptual" features of lesson 10.

A perceptual loss (Johnson et al., 2016) and Gatys et al.'s style transfer compare images through
the activations of a network trained on ImageNet instead of pixel by pixel. :class:`FeatureTaps`
wraps any network and returns the outputs of named submodules (forward hooks), stopping the
forward pass after the deepest one so that layers never read are never computed. The losses
built on it live in the task module :mod:`cvlib.conditional`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["FeatureTaps"]


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
