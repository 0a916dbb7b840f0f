"""A pretrained CLIP (OpenCLIP) behind the same interface as lesson 12's small dual encoder (``full`` profile).

:func:`load_clip` builds an OpenCLIP architecture (``open_clip.create_model``, no
weights), downloads the published checkpoint with ``torch.hub.load_state_dict_from_url``
(URL through :func:`cvlib.config.cvlib_url`; the SHA-256 prefix in the file name is
checked on download, torch.hub's convention; cached in ``$TORCH_HOME/hub/checkpoints``;
read with ``weights_only=True``) and loads it strictly. The returned :class:`CLIPEncoder`
has ``encode_image`` (``(B, 3, H, W)`` float in [0, 1], any size: resized and normalised
inside), ``encode_text`` and ``tokenize``, so :func:`cvlib.multimodal.zero_shot_predict`,
:func:`cvlib.multimodal.embed_images` and :func:`cvlib.multimodal.embed_texts` work on it
unchanged.

``open_clip_torch`` is in requirements.txt; on Colab, lesson 12's setup cell installs it.
"""

from __future__ import annotations

import logging
import urllib.error
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from cvlib.config import cvlib_url
from cvlib.models.pretrained import PretrainedUnavailableError
from cvlib.validate import check_images

#: (OpenCLIP architecture, pretrained tag) -> checkpoint URL; the 8 hex digits before ".pt" are its SHA-256 prefix.
CLIP_WEIGHTS: dict[tuple[str, str], str] = {
    ("ViT-B-32-quickgelu", "laion400m_e32"): (
        "https://github.com/mlfoundations/open_clip/releases/download/v0.2-weights/"
        "vit_b_32-quickgelu-laion400m_e32-46683a32.pt"
    ),
}
#: The image statistics CLIP was trained with (OpenAI's; OpenCLIP's LAION models reuse them).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _open_clip() -> Any:
    try:
        import open_clip
    except ImportError as err:
        raise PretrainedUnavailableError(
            "open_clip is not installed: run `pip install open_clip_torch` (on Colab, lesson 12's setup cell does)."
        ) from err
    return open_clip


class CLIPEncoder(nn.Module):
    """An OpenCLIP model seen as a dual encoder: unit-length image and text embeddings in one space.

    ``encode_image``: ``(B, 3, H, W)`` float in [0, 1] -> ``(B, D)``; images are resized
    (bicubic, whole image, no crop) to the model's input size and normalised with
    :data:`CLIP_MEAN` / :data:`CLIP_STD`. ``encode_text``: ``(B, 77)`` int64 token ids
    (from :meth:`tokenize`) -> ``(B, D)``. ``logit_scale`` is the model's learned one (a log).
    """

    def __init__(self, model: nn.Module, tokenizer: Any, image_size: int) -> None:
        super().__init__()
        self.model: Any = model  # an open_clip CLIP (encode_image, encode_text, logit_scale)
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def logit_scale(self) -> torch.Tensor:
        scale: torch.Tensor = self.model.logit_scale
        return scale

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """``(len(texts), 77)`` int64 token ids (CLIP's byte-pair tokenizer, padded)."""
        if isinstance(texts, str) or not texts:
            raise ValueError("tokenize takes a non-empty list of strings (for one text use [text]).")
        return self.tokenizer(list(texts))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, channels=3, unit_range=True)
        x = F.interpolate(images, size=(self.image_size, self.image_size), mode="bicubic", align_corners=False)
        mean, std = cast(torch.Tensor, self.mean), cast(torch.Tensor, self.std)
        x = (x.clamp(0, 1) - mean) / std
        return F.normalize(self.model.encode_image(x), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_text(tokens), dim=-1)


def clip_state_dict(name: str, pretrained: str) -> dict[str, torch.Tensor]:
    """The published checkpoint of ``(name, pretrained)`` as a state dict (downloaded once, hash-checked, cached)."""
    if (name, pretrained) not in CLIP_WEIGHTS:
        raise ValueError(f"no checkpoint known for {(name, pretrained)!r}; choose one of {sorted(CLIP_WEIGHTS)}.")
    url = cvlib_url(CLIP_WEIGHTS[name, pretrained])
    try:
        state = torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True, weights_only=True)
    except (urllib.error.URLError, OSError) as err:
        raise PretrainedUnavailableError(
            f"could not download the {name} / {pretrained} CLIP weights from {url} ({err}); "
            f"connect to the internet, or put the file in {torch.hub.get_dir()}/checkpoints."
        ) from err
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_clip(
    name: str = "ViT-B-32-quickgelu", pretrained: str = "laion400m_e32", device: torch.device | str | None = None
) -> CLIPEncoder:
    """A pretrained OpenCLIP model as a :class:`CLIPEncoder`, in eval mode, on ``device`` (default: CPU)."""
    open_clip = _open_clip()
    state = clip_state_dict(name, pretrained)
    logging.disable(logging.WARNING)  # open_clip warns "initialized randomly": the weights come next
    try:
        model = open_clip.create_model(name, pretrained=None)
    finally:
        logging.disable(logging.NOTSET)
    try:
        model.load_state_dict({k: v.float() for k, v in state.items()})  # strict: every tensor, every shape
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise ValueError(
            f"the {name} / {pretrained} checkpoint does not fit the architecture ({first}); "
            f"delete the cached file in {torch.hub.get_dir()}/checkpoints and run again."
        ) from err
    size = model.visual.image_size
    encoder = CLIPEncoder(
        model, open_clip.get_tokenizer(name), int(size[0] if isinstance(size, tuple | list) else size)
    )
    return encoder.to(torch.device(device) if device is not None else "cpu").eval()
