"""Seeing what a CNN sees: Grad-CAM, Grad-CAM++, saliency, occlusion and the pointing game.

Lesson 07 writes each method out in the notebook first; these are the reusable versions.
They work on any classifier that maps ``(B, C, H, W)`` float images to ``(B, K)``
logits: torchvision models, the offline ImageNet backbone (whose ``model`` takes images
in [0, 1] and normalises them inside), the lessons' small CNNs. Every map is computed
for a whole batch at once, one map per image.

- :func:`grad_cam` / :func:`grad_cam_plus_plus` (Selvaraju et al. 2017; Chattopadhay et
  al. 2018): a forward hook records the chosen layer's feature map ``A`` ``(B, C, h, w)``,
  autograd gives the gradient of the chosen class score (the logit) with respect to it,
  channel weights are the gradients averaged over positions (Grad-CAM++: a weighted
  average of their positive part), the map is ``ReLU(sum_c w_c A_c)``, upsampled
  bilinearly to the input size and scaled to [0, 1] per image.
- :func:`saliency` (Simonyan et al. 2014): ``|d score / d x|``, maximum over channels.
- :func:`occlusion` (Zeiler & Fergus 2014): how much the class probability drops when a
  patch of the image is replaced by a baseline, slid over the image.
- :func:`pointing_game` (Zhang et al. 2016): does a map's peak fall inside the object's box?

The model is always explained in eval mode (batch norm uses its running statistics,
dropout is off) and put back in the mode it was in, module by module; hooks are
removed before any error reaches the caller. No parameter's ``.grad`` is touched.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cvlib.models.utils import eval_mode
from cvlib.validate import check_images

Target = int | Sequence[int] | torch.Tensor | None
"""Which class to explain: ``None`` (each image's top class), one index for all images,
or one index per image (a sequence or a ``(B,)`` integer tensor)."""


# ---------------------------------------------------------------------------- helpers


def layer_names(model: nn.Module) -> list[str]:
    """Dotted names of all sub-modules of ``model`` (the names :func:`grad_cam` accepts)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """Find a layer by dotted name (``"net._head_act"``, ``"layer4"``) or check a module is in ``model``.

    Returns:
        ``(name, module)``.

    Raises:
        ValueError: the name does not exist (the message suggests close names and lists
            the valid ones), or the module is not part of ``model``.
    """
    modules = dict(model.named_modules())
    if isinstance(layer, nn.Module):
        for name, module in modules.items():
            if module is layer:
                return name or "<the model itself>", module
        raise ValueError(
            f"the given {type(layer).__name__} is not a sub-module of the model: pass a layer of this model "
            "(e.g. model.layer4) or its dotted name."
        )
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a dotted name (str) or an nn.Module, got {type(layer).__name__}.")
    if layer in modules and layer:
        return layer, modules[layer]
    valid = layer_names(model)
    close = difflib.get_close_matches(layer, valid, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"the model has no layer named {layer!r}.{hint} Valid layer names ({len(valid)}): {', '.join(valid)}."
    )


def _check_images(x: torch.Tensor) -> None:
    check_images(x, what="the images to explain")


def resolve_targets(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """The class index to explain for each image, ``(B,)`` int64 on the logits' device.

    Args:
        target: ``None`` (top class of each image), an int (the same class for all images),
            or ``B`` ints (a sequence or tensor).
        logits: ``(B, K)`` model output.

    Raises:
        ValueError: a class index outside ``0..K-1`` or the wrong number of indices.
    """
    if logits.ndim != 2:
        raise ValueError(f"the model must output class scores (B, K); it returned shape {tuple(logits.shape)}.")
    batch, num_classes = logits.shape
    if target is None:
        return logits.detach().argmax(1)
    classes = torch.as_tensor(target, device=logits.device)
    if classes.is_floating_point() or classes.dtype == torch.bool:
        raise TypeError(f"class indices must be integers, got {classes.dtype}.")
    classes = classes.long().flatten()
    if classes.numel() == 1:
        classes = classes.expand(batch)
    if classes.numel() != batch:
        raise ValueError(f"got {classes.numel()} class indices for {batch} images: give one per image, or one for all.")
    bad = classes[(classes < 0) | (classes >= num_classes)]
    if bad.numel():
        raise ValueError(
            f"class index {int(bad[0])} is out of range: the model outputs {num_classes} classes, "
            f"so use an index in 0..{num_classes - 1}."
        )
    return classes.clone()


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """Scale each ``(..., H, W)`` map to [0, 1] (min -> 0, max -> 1); a flat map becomes all zeros."""
    flat = maps.flatten(-2)
    low = flat.min(-1, keepdim=True).values
    span = flat.max(-1, keepdim=True).values - low
    scaled = torch.where(span > 0, (flat - low) / span.clamp_min(1e-12), torch.zeros_like(flat))
    return scaled.view_as(maps)


def _upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, h, w)`` -> ``(B, H, W)`` bilinear (half-pixel centres, like OpenCV's resize)."""
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def layer_gradients(
    model: nn.Module, x: torch.Tensor, layer: str | nn.Module, target: Target = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A layer's feature map and the gradient of the class score with respect to it.

    One forward and one backward pass, in eval mode. A forward hook on ``layer`` keeps
    its output (the hook is removed right after the forward pass, also on error); if
    the layer runs several times in one pass, its last call is used.

    Args:
        model: ``(B, C, H, W)`` -> ``(B, K)`` logits.
        x: ``(B, C, H, W)`` float images (whatever range the model expects).
        layer: dotted name or module whose output is a feature map ``(B, C', h, w)``.
        target: see :data:`Target`.

    Returns:
        activations ``(B, C', h, w)``, gradients ``(B, C', h, w)`` (both detached),
        classes ``(B,)`` int64, logits ``(B, K)`` (detached).
    """
    _check_images(x)
    name, module = resolve_layer(model, layer)
    store: dict[str, object] = {}

    def keep_output(_module: nn.Module, _inputs: tuple, output: object) -> object:
        store["output"] = output
        if isinstance(output, torch.Tensor):
            # Hand the rest of the network a copy, so an in-place op after this layer
            # (ReLU(inplace=True) after batch norm) cannot overwrite what we explain.
            return output.clone()
        return None

    with torch.enable_grad(), eval_mode(model):
        # The input requires grad, so every feature map does, even with frozen weights.
        x = x.detach().clone().requires_grad_(True)
        handle = module.register_forward_hook(keep_output)
        try:
            logits = model(x)
        finally:
            handle.remove()
        if "output" not in store:
            raise RuntimeError(
                f"layer {name!r} did not run in the model's forward pass: choose a layer the model uses."
            )
        acts = store["output"]
        if not isinstance(acts, torch.Tensor) or acts.ndim != 4:
            shape = tuple(acts.shape) if isinstance(acts, torch.Tensor) else type(acts).__name__
            raise ValueError(
                f"layer {name!r} outputs {shape}, not a convolutional feature map (B, C, h, w): "
                "choose a convolutional layer or block (usually the last one, e.g. the backbone's feature_layer)."
            )
        classes = resolve_targets(target, logits)
        score = logits.gather(1, classes[:, None]).sum()  # images are independent in eval mode
        (grads,) = torch.autograd.grad(score, acts)
    return acts.detach(), grads.detach(), classes, logits.detach()


# ------------------------------------------------------------------------ the methods


def grad_cam(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | nn.Module,
    target: Target = None,
    *,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM maps: where in the image the evidence for a class is, as seen by ``layer``.

    Channel weights ``w_c = mean over (i, j) of d score / d A_c[i, j]``; map
    ``ReLU(sum_c w_c A_c)``.

    Args:
        model, x, layer, target: see :func:`layer_gradients` (``x`` is ``(B, C, H, W)``).
        upsample: bilinear upsampling to ``(H, W)`` (default) or the layer's own ``(h, w)``.

    Returns:
        ``(B, H, W)`` (or ``(B, h, w)``) float32 in [0, 1], one map per image; a map with
        no positive evidence is all zeros.
    """
    acts, grads, _, _ = layer_gradients(model, x, layer, target)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts).sum(1))
    if upsample:
        cam = _upsample(cam, (x.shape[-2], x.shape[-1]))
    return normalize_maps(cam).float()


def grad_cam_plus_plus(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | nn.Module,
    target: Target = None,
    *,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM++ maps: like :func:`grad_cam` with position-weighted channel weights.

    ``w_c = sum_ij a_c[i,j] ReLU(g_c[i,j])`` with
    ``a = g^2 / (2 g^2 + sum_ij(A_c) g^3)`` (the closed form of Chattopadhay et al., eq. 19),
    which gives small, separate objects of one class a fairer share of the map.

    Returns:
        ``(B, H, W)`` (or ``(B, h, w)``) float32 in [0, 1].
    """
    acts, grads, _, _ = layer_gradients(model, x, layer, target)
    g2 = grads.pow(2)
    denominator = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g2 * grads
    alpha = torch.where(grads != 0, g2 / (denominator + 1e-6), torch.zeros_like(grads))
    weights = (alpha * F.relu(grads)).sum(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts).sum(1))
    if upsample:
        cam = _upsample(cam, (x.shape[-2], x.shape[-1]))
    return normalize_maps(cam).float()


def saliency(model: nn.Module, x: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Vanilla gradient saliency: ``max over channels of |d score / d x|``, per pixel.

    Args:
        model: ``(B, C, H, W)`` -> ``(B, K)`` logits.
        x: ``(B, C, H, W)`` float images.
        target: see :data:`Target`.

    Returns:
        ``(B, H, W)`` float32 in [0, 1] (each map scaled by its own maximum).
    """
    _check_images(x)
    with torch.enable_grad(), eval_mode(model):
        x = x.detach().clone().requires_grad_(True)
        logits = model(x)
        classes = resolve_targets(target, logits)
        (grad,) = torch.autograd.grad(logits.gather(1, classes[:, None]).sum(), x)
    return normalize_maps(grad.abs().amax(1)).float()


def _positions(size: int, patch: int, stride: int) -> list[int]:
    """Patch start positions along one axis, the last one flush with the border."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


@torch.no_grad()
def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: Target = None,
    *,
    patch: int = 8,
    stride: int = 4,
    baseline: float | str | torch.Tensor = 0.5,
    batch_size: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """Occlusion maps: the drop in the class probability when a patch is hidden.

    A ``patch`` x ``patch`` square is slid over the image with ``stride`` (the last
    position flush with the border, so every pixel is covered); each position gives one
    forward pass with that square replaced by ``baseline``. A pixel's value is the mean
    drop ``p(class | x) - p(class | x occluded)`` over the positions that covered it.

    Args:
        model: ``(B, C, H, W)`` -> ``(B, K)`` logits.
        x: ``(B, C, H, W)`` float images.
        target: see :data:`Target` (chosen on the unoccluded images).
        patch, stride: square side and step in pixels.
        baseline: what hides a patch: a constant value (0.5 = grey for images in [0, 1]),
            ``"mean"`` (each image's mean colour) or a tensor ``(C, H, W)`` / ``(B, C, H, W)``
            (e.g. a blurred copy of ``x``).
        batch_size: occluded images per forward pass.
        progress: show a progress bar over the forward passes.

    Returns:
        ``(B, H, W)`` float32, signed (not rescaled): positive where hiding the region
        lowers the class probability, negative where it raises it; values in [-1, 1].
    """
    _check_images(x)
    b, _, h, w = x.shape
    if not 1 <= patch <= min(h, w) or stride < 1:
        raise ValueError(
            f"need 1 <= patch <= {min(h, w)} (the image side) and stride >= 1, got patch={patch}, stride={stride}."
        )
    if isinstance(baseline, str):
        if baseline != "mean":
            raise ValueError(f"baseline must be a number, 'mean' or an image tensor, got {baseline!r}.")
        fill = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    elif isinstance(baseline, torch.Tensor):
        if baseline.ndim not in (3, 4):
            raise ValueError(f"a baseline tensor must be (C, H, W) or (B, C, H, W), got shape {tuple(baseline.shape)}.")
        fill = baseline.to(x).expand_as(x)
    else:
        fill = torch.full_like(x, float(baseline))
    windows = [(i, j) for i in _positions(h, patch, stride) for j in _positions(w, patch, stride)]
    with eval_mode(model):
        logits = model(x)
        classes = resolve_targets(target, logits)
        base = logits.softmax(1).gather(1, classes[:, None])[:, 0]  # (B,)
        total = torch.zeros(b, h, w, device=x.device)
        count = torch.zeros(h, w, device=x.device)
        for i, j in windows:
            count[i : i + patch, j : j + patch] += 1
        jobs = [(k, i, j) for k in range(b) for i, j in windows]
        bar = tqdm(total=len(jobs), desc="occlusion", disable=not progress, leave=False)
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            batch = x[[k for k, _, _ in chunk]].clone()
            for n, (k, i, j) in enumerate(chunk):
                batch[n, :, i : i + patch, j : j + patch] = fill[k, :, i : i + patch, j : j + patch]
            idx = torch.tensor([k for k, _, _ in chunk], device=x.device)
            probs = model(batch).softmax(1).gather(1, classes[idx][:, None])[:, 0]
            for n, (k, i, j) in enumerate(chunk):
                total[k, i : i + patch, j : j + patch] += base[k] - probs[n]
            bar.update(len(chunk))
        bar.close()
    return (total / count).float()


# ----------------------------------------------------------------------- measurement


def peak_location(maps: torch.Tensor) -> torch.Tensor:
    """Where each ``(H, W)`` map is largest: ``(B, 2)`` int64 ``(x, y)`` pixel indices.

    On ties the first maximum in row-major order wins.
    """
    if maps.ndim != 3:
        raise ValueError(f"expected maps (B, H, W), got shape {tuple(maps.shape)}.")
    flat = maps.flatten(1).argmax(1)
    width = maps.shape[-1]
    return torch.stack([flat % width, flat // width], dim=1)


def pointing_game(maps: torch.Tensor, boxes: torch.Tensor, tolerance: float = 0.0) -> torch.Tensor:
    """Does each map's peak fall inside its object's box? ``(B,)`` bool (mean = the score).

    A flat map (no single peak: maximum equal to minimum) points nowhere and counts as
    a miss, so an explainer cannot score by returning nothing.

    Args:
        maps: ``(B, H, W)`` heatmaps (any range; only the peak matters).
        boxes: ``(B, 4)`` ``(x0, y0, x1, y1)`` in pixels with exclusive ends (pixel
            ``(x, y)`` is inside when ``x0 <= x < x1`` and ``y0 <= y < y1``).
        tolerance: extra margin in pixels around each box (Zhang et al. use 15 px on
            ImageNet-sized images; 0 is strict).
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) != len(maps):
        raise ValueError(f"expected boxes (B, 4) for {len(maps)} maps, got shape {tuple(boxes.shape)}.")
    peaks = peak_location(maps).to(boxes.device, boxes.dtype)
    px, py = peaks[:, 0], peaks[:, 1]
    x0, y0, x1, y1 = boxes.unbind(1)
    inside = (px >= x0 - tolerance) & (px < x1 + tolerance) & (py >= y0 - tolerance) & (py < y1 + tolerance)
    flat = maps.flatten(1)
    has_peak = (flat.max(1).values > flat.min(1).values).to(inside.device)
    return inside & has_peak


def energy_in_box(maps: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Share of each non-negative map's total mass that lies inside its box, ``(B,)`` in [0, 1].

    A softer companion to the pointing game (it looks at the whole map, not only the
    peak). ``boxes`` as in :func:`pointing_game`; an all-zero map scores 0.
    """
    if maps.ndim != 3 or boxes.shape != (len(maps), 4):
        raise ValueError(f"expected maps (B, H, W) and boxes (B, 4), got {tuple(maps.shape)} and {tuple(boxes.shape)}.")
    maps = maps.clamp_min(0)
    h, w = maps.shape[-2:]
    ys = torch.arange(h, device=maps.device)[None, :, None]
    xs = torch.arange(w, device=maps.device)[None, None, :]
    b = boxes.to(maps.device)
    inside = (
        (xs >= b[:, 0, None, None])
        & (xs < b[:, 2, None, None])
        & (ys >= b[:, 1, None, None])
        & (ys < b[:, 3, None, None])
    )
    total = maps.sum(dim=(1, 2))
    return torch.where(total > 0, (maps * inside).sum(dim=(1, 2)) / total.clamp_min(1e-12), torch.zeros_like(total))


def randomize_weights(model: nn.Module, seed: int = 0, from_layer: str | None = None) -> nn.Module:
    """A copy of ``model`` with re-initialised weights: the *model randomisation* sanity check.

    Every sub-module with a ``reset_parameters`` method (convolutions, linear layers,
    batch norm, whose running statistics are reset too) gets fresh random weights,
    seeded. With ``from_layer`` only that layer and the layers registered after it are
    reset (the cascading randomisation of Adebayo et al. 2018, from the top down when
    given a late layer). The original model is not changed.

    An explanation method that gives the same maps for the trained and the randomised
    network explains the image (edges, contrast), not the model.
    """
    new = copy.deepcopy(model)
    names = [name for name, _ in new.named_modules()]
    start = 0
    if from_layer is not None:
        resolve_layer(new, from_layer)
        start = names.index(from_layer)
    with torch.random.fork_rng(devices=[]):  # leaves the caller's random state untouched
        torch.manual_seed(seed)
        for _, module in list(new.named_modules())[start:]:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
            if hasattr(module, "reset_running_stats"):
                module.reset_running_stats()
    return new
