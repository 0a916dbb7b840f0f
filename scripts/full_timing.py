"""Time each lesson's real ``full`` configuration over its first training steps and extrapolate.

For every lesson this reads ``SIZES`` from the notebook's own ``parameters`` cell (with
``CVLIB_PROFILE=full``), builds the networks the lesson trains at those sizes (random
initialisation: the cost of a step does not depend on the weights), and times ``--steps``
optimiser steps on batches of the lesson's full shape, after ``--warmup`` untimed steps.
Multiplying by the number of steps the full lesson takes gives its training time. Data
loading, evaluation and plotting are not included (on a GPU they add roughly 10-30 %).
No lesson uses mixed precision (AMP), so neither does this script.

It also counts the floating-point operations of one step (``torch.utils.flop_counter``), so a
GPU the script has never run on can be estimated: ``--estimate-tflops 4`` prints the time at
4 TFLOP/s sustained (about half of a Colab T4's 8.1 TFLOP/s FP32 peak), and no step faster
than ``--estimate-floor-ms`` (small networks are bound by kernel launches, Python and data
loading, not arithmetic).

Usage:
    python scripts/full_timing.py                       # CUDA if available, else CPU
    python scripts/full_timing.py --device cpu --steps 1 --warmup 1 --estimate-tflops 4
    python scripts/full_timing.py --lessons 03 06
Prints one Markdown table (scripts/gpu_check.sh puts it under its own).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Sizes of the full datasets (images), as the lessons load them.
MNIST_TRAIN = 60_000
HYMENOPTERA_TRAIN = 244
CELEBA_ALL = 202_599
HORSE2ZEBRA_TRAIN = (1_067, 1_334)


@dataclass
class Workload:
    """One training loop of a lesson: ``step()`` runs one optimiser step; the full run takes ``steps``."""

    lesson: str
    name: str
    steps: int
    make_step: Callable[[torch.device], Callable[[], None]]


def full_sizes(stem: str) -> dict:
    """``SIZES`` of ``notebooks/<stem>.ipynb`` under the full profile (its parameters cell, executed)."""
    nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    old = os.environ.get("CVLIB_PROFILE")
    os.environ["CVLIB_PROFILE"] = "full"
    try:
        scope: dict = {}
        exec(cell.source, scope)  # noqa: S102  (the repository's own notebook)
    finally:
        if old is None:
            os.environ.pop("CVLIB_PROFILE")
        else:
            os.environ["CVLIB_PROFILE"] = old
    return scope["SIZES"]


def classifier_step(model: torch.nn.Module, shape: tuple[int, ...], classes: int, device, lr: float = 1e-3):
    """A cross-entropy step of ``model`` on random images of ``shape`` (B, C, H, W)."""
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = torch.rand(shape, device=device), torch.randint(0, classes, (shape[0],), device=device)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def dcgan_step(channels: int, img: int, nz: int, width: int, batch: int, device):
    from cvlib.gan import train_step
    from cvlib.models.gan import Discriminator, Generator
    from cvlib.models.utils import init_weights

    G = init_weights(Generator(nz=nz, ngf=width, channels=channels, img_size=img)).to(device)
    D = init_weights(Discriminator(ndf=width, channels=channels, img_size=img)).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, channels, img, img, device=device) * 2 - 1
    return lambda: train_step(G, D, opt_g, opt_d, real, torch.randn(batch, nz, device=device))


def cyclegan_step(s: dict, device):
    from cvlib.gan import lsgan_discriminator_loss, lsgan_loss
    from cvlib.models.cyclegan import PatchDiscriminator, ResnetGenerator
    from cvlib.models.utils import init_weights, set_requires_grad

    gens = [
        init_weights(ResnetGenerator(ngf=s["ngf"], n_blocks=s["n_blocks"], n_down=s["n_down"])).to(device)
        for _ in range(2)
    ]
    discs = [init_weights(PatchDiscriminator(ndf=s["ndf"], n_layers=s["d_layers"])).to(device) for _ in range(2)]
    g_ab, g_ba = gens
    d_a, d_b = discs
    opt_g = torch.optim.Adam(itertools.chain(*(g.parameters() for g in gens)), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(itertools.chain(*(d.parameters() for d in discs)), lr=2e-4, betas=(0.5, 0.999))
    shape = (s["batch_size"], 3, s["image_size"], s["image_size"])
    a, b = torch.rand(shape, device=device) * 2 - 1, torch.rand(shape, device=device) * 2 - 1
    lam, lam_id = s["lambda_cycle"], s["lambda_identity"]

    def step() -> None:  # the lesson's train_step (section 6), without the image pool's bookkeeping
        fake_b, fake_a = g_ab(a), g_ba(b)
        set_requires_grad(discs, False)
        loss = (
            lsgan_loss(d_b(fake_b), real=True)
            + lsgan_loss(d_a(fake_a), real=True)
            + lam * (F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b))
            + lam * lam_id * (F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a))
        )
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        set_requires_grad(discs, True)
        loss_d = lsgan_discriminator_loss(d_a, a, fake_a) + lsgan_discriminator_loss(d_b, b, fake_b)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

    return step


def detector_step(model: torch.nn.Module, opt: torch.optim.Optimizer, images: list, targets: list):
    """One training step of a torchvision detector in train mode: the sum of its losses, backward, step."""

    def step() -> None:
        loss = sum(model(images, targets).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def maskrcnn_step(s: dict, device):
    """Lesson 03's detector (torchvision's COCO Mask R-CNN, ResNet-50-FPN, 2 classes) on Penn-Fudan-sized photos."""
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    model = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2, min_size=s["min_size"]).to(device)
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=s["lr"], momentum=0.9)
    # Penn-Fudan photos are about 400 x 300 px (landscape or portrait) with 1-4 pedestrians.
    images = [torch.rand(3, 360, 480, device=device) for _ in range(s["batch_size"])]
    boxes = torch.tensor([[40.0, 60.0, 140.0, 330.0], [220.0, 50.0, 320.0, 340.0]], device=device)
    masks = torch.zeros(2, 360, 480, dtype=torch.uint8, device=device)
    for m, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist()):
        m[y0:y1, x0:x1] = 1
    targets = [
        {"boxes": boxes, "labels": torch.ones(2, dtype=torch.int64, device=device), "masks": masks} for _ in images
    ]

    return detector_step(model, opt, images, targets)


def pgd_step(batch: int, device):
    """One PGD iteration of lesson 04 (gradient w.r.t. the input of a LeNet-5 on 28 px digits)."""
    from cvlib.models.classic import LeNet5

    model = LeNet5(in_channels=1, num_classes=10).to(device).eval()
    x, y = torch.rand(batch, 1, 28, 28, device=device), torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        xr = x.clone().requires_grad_(True)
        F.cross_entropy(model(xr), y).backward()
        x.add_(0.01 * xr.grad.sign()).clamp_(0, 1)

    return step


def segmenter_step(s: dict, batch: int, device):
    """One step of lesson 08's train_segmenter: the torchvision segmenter on random crops (2 classes)."""
    from cvlib.models.segmenters import torchvision_segmenter
    from cvlib.segmentation import dice_loss

    model = torchvision_segmenter(2, pretrained=False, name=s["model"]).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, s["crop"], s["crop"], device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (batch, s["crop"], s["crop"]), device=device)

    def step() -> None:
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y) + dice_loss(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def keypoint_step(s: dict, heatmaps: bool, device):
    """One step of lesson 09's train_keypoints: the heatmap network or the regressor (11 joints) on full-size figures."""
    from cvlib.models.keypointnet import keypoint_heatmap_net, keypoint_regressor

    model = (keypoint_heatmap_net if heatmaps else keypoint_regressor)(11, pretrained=False).to(device)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    size = s["image_size"]
    x = torch.rand(s["batch_size"], 3, size, size, device=device).contiguous(memory_format=torch.channels_last)

    def step() -> None:
        out = model(x)
        loss = -F.log_softmax(out.flatten(2), -1).mean() if heatmaps else out.abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def centernet_step(s: dict, device):
    """One step of lesson 09's train_centernet: 16 random crops of the 128-px shapes scenes, 3 classes."""
    from cvlib.keypoints import centernet_loss, centernet_targets
    from cvlib.models.centernet import centernet_efficientnet_lite0

    model = centernet_efficientnet_lite0(3, pretrained=False).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    crop = s["centernet_crop"]
    x = torch.rand(16, 3, crop, crop, device=device).contiguous(memory_format=torch.channels_last)
    boxes = [torch.tensor([[10.0, 12.0, 34.0, 40.0], [50.0, 50.0, 80.0, 76.0]], device=device)] * 16
    labels = [torch.tensor([1, 3], device=device)] * 16
    targets = centernet_targets(boxes, labels, output_size=(crop // 4, crop // 4), stride=4, num_classes=3)

    def step() -> None:
        loss = centernet_loss(model(x), targets)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def shapes_maskrcnn_step(device):
    """One step of lesson 03's quick detector (Mask R-CNN on EfficientNet-Lite0 + FPN) on 128-px shapes scenes, batch 4."""
    from cvlib.models.maskrcnn import build_maskrcnn

    model = build_maskrcnn("efficientnet_lite0_fpn", 4, min_size=128).to(device).train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.02, momentum=0.9)
    images = [torch.rand(3, 128, 128, device=device) for _ in range(4)]
    boxes = torch.tensor([[10.0, 12.0, 34.0, 40.0], [50.0, 50.0, 80.0, 76.0]], device=device)
    masks = torch.zeros(2, 128, 128, dtype=torch.uint8, device=device)
    for m, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist()):
        m[y0:y1, x0:x1] = 1
    targets = [{"boxes": boxes, "labels": torch.tensor([1, 3], device=device), "masks": masks} for _ in images]

    return detector_step(model, opt, images, targets)


def keypointrcnn_step(s: dict, device):
    """One step of lesson 09's Keypoint R-CNN fine-tuning (ResNet-50-FPN, 11 joints) on figures, batch 4."""
    from torchvision.models.detection import keypointrcnn_resnet50_fpn

    size = s["rcnn_min_size"]
    model = keypointrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=2, num_keypoints=11, min_size=size, max_size=size
    ).to(device)
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    images = [torch.rand(3, s["image_size"], s["image_size"], device=device) for _ in range(4)]
    box = torch.tensor([[30.0, 20.0, 90.0, 110.0]], device=device)
    kp = torch.cat([torch.rand(1, 11, 2, device=device) * 60 + 30, torch.full((1, 11, 1), 2.0, device=device)], -1)
    targets = [
        {"boxes": box, "labels": torch.ones(1, dtype=torch.int64, device=device), "keypoints": kp} for _ in images
    ]

    return detector_step(model, opt, images, targets)


def pix2pix_step(s: dict, device):
    """One step of lesson 10's pix2pix (U-Net + conditional PatchGAN + L1) at the full size and batch."""
    from cvlib.conditional import pix2pix_step as step_once
    from cvlib.models.cyclegan import PatchDiscriminator
    from cvlib.models.pix2pix import UNetGenerator

    size, batch = s["pix2pix_size"], s["pix2pix_batch"]
    gen = UNetGenerator(3, 3, ngf=s["ngf"], depth=int(math.log2(size))).to(device)
    disc = PatchDiscriminator(6, ndf=s["ngf"], n_layers=s["d_layers"]).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    source = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    target = torch.rand(batch, 3, size, size, device=device) * 2 - 1

    def step() -> None:
        step_once(gen, disc, opt_g, opt_d, source, target, gan=True)

    return step


def superres_step(s: dict, perceptual: bool, device):
    """One step of lesson 10's SRNet (x4) with MSE, or with MSE + VGG-16 relu2_2 feature loss (batch 16)."""
    from cvlib.conditional import content_loss
    from cvlib.models.perceptual import LAYERS, FeatureTaps
    from cvlib.models.superres import SRNet

    net = SRNet(4, channels=s["sr_channels"], blocks=s["sr_blocks"]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    high = torch.rand(16, 3, s["sr_size"], s["sr_size"], device=device)
    low = F.interpolate(high, scale_factor=0.25, mode="bicubic", antialias=True)
    taps = None
    if perceptual:
        from torchvision.models import vgg16

        taps = FeatureTaps(vgg16(weights=None).features, LAYERS["vgg16"]["sr"]).to(device)

    def step() -> None:
        out = net(low)
        loss = F.mse_loss(out, high)
        if taps is not None:
            with torch.no_grad():
                target = taps(high)
            loss = loss + s["sr_feature_weight"] * content_loss(taps(out), target, taps.layers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def style_step(s: dict, device):
    """One step of lesson 10's Gatys style transfer on VGG-16 features (pixels optimised, Adam)."""
    from torchvision.models import vgg16

    from cvlib.conditional import content_loss
    from cvlib.gan import style_loss
    from cvlib.models.perceptual import LAYERS, FeatureTaps

    layers = LAYERS["vgg16"]
    taps = FeatureTaps(vgg16(weights=None).features, sorted({*layers["content"], *layers["style"]}, key=int)).to(device)
    side = s["style_size"]
    content, style = torch.rand(1, 3, side, side, device=device), torch.rand(1, 3, side, side, device=device)
    with torch.no_grad():
        c_target, s_target = taps(content), taps(style)
    image = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=0.02)

    def step() -> None:
        feats = taps(image)
        loss = content_loss(feats, c_target, layers["content"]) + style_loss(
            [feats[n] for n in layers["style"]], [s_target[n] for n in layers["style"]]
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def multimodal_step(s: dict, kind: str, device):
    """One step of a lesson 12 network at its full sizes: ``kind`` = match (InfoNCE, batch 128), caption
    (teacher forcing over a 19-token caption, batch 64) or vqa (FiLM VQA, 8-token questions, batch 64)."""
    from cvlib.data.textscenes import ANSWERS, Vocabulary
    from cvlib.models.multimodal import AttentionCaptioner, BagOfWords, ConvGrid, DualEncoder, VQANet
    from cvlib.multimodal import _caption_loss, info_nce

    v, side = len(Vocabulary()), s["image_size"]
    if kind == "match":
        model = DualEncoder(ConvGrid(s["widths"]), BagOfWords(v, 64), dim=64).to(device)
        batch, length = 128, 10
    elif kind == "caption":
        model = AttentionCaptioner(v, s["widths"], embed=32, hidden=96, attn=48).to(device)
        batch, length = 64, 19  # three objects: 17 words + <bos> + <eos>
    else:
        model = VQANet(v, len(ANSWERS), s["widths"], hidden=96).to(device)
        model.encoder.requires_grad_(False)  # the lesson freezes the captioner's encoder inside VQANet
        batch, length = 64, 8
    images = torch.rand(batch, 3, side, side, device=device)
    tokens = torch.randint(4, v, (batch, length), device=device)
    tokens[:, 0] = Vocabulary.bos
    answers = torch.randint(0, len(ANSWERS), (batch,), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        if kind == "match":
            img, txt = model(images, tokens)
            loss = info_nce(img, txt, model.logit_scale.exp())
        elif kind == "caption":
            loss = _caption_loss(model, images, tokens, 0.0)
        else:
            loss = F.cross_entropy(model(images, tokens), answers)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def clip_embed_step(s: dict, device):
    """Lesson 12's OpenCLIP ViT-B/32 embedding a batch of 256 photographs (inference; random weights cost the same)."""
    import logging

    import open_clip

    logging.disable(logging.WARNING)
    try:
        model = open_clip.create_model(s["clip"][0], pretrained=None).to(device).eval()
    finally:
        logging.disable(logging.NOTSET)
    images = torch.rand(256, 3, 224, 224, device=device)

    def step() -> None:
        with torch.no_grad():
            model.encode_image(images)

    return step


def workloads() -> list[Workload]:
    from cvlib.models.classic import LeNet5, SmallVGG

    out: list[Workload] = []
    s = full_sizes("01_cnn_basics")
    per_epoch = math.ceil(MNIST_TRAIN / s["batch_size"])
    out.append(
        Workload(
            "01",
            f"SmallVGG, MNIST, {s['epochs']} epochs",
            s["epochs"] * per_epoch,
            lambda d, s=s: classifier_step(SmallVGG(1, 10), (s["batch_size"], 1, 28, 28), 10, d),
        )
    )
    out.append(
        Workload(
            "01",
            f"BN/dropout ablation: 4 x {s['ablation_epochs']} epochs",
            4 * s["ablation_epochs"] * per_epoch,
            lambda d, s=s: classifier_step(SmallVGG(1, 10), (s["batch_size"], 1, 28, 28), 10, d),
        )
    )

    s = full_sizes("02_transfer_learning")
    runs = len(s["ks"]) * s["seeds"]
    scratch_runs = runs + 5 * s["seeds"]  # the curve, three augmentation pipelines, two distillations
    finetune_runs = (len(s["finetune_ks"]) + 1) * s["seeds"]  # the curve's k, then k = 5 at the head's lr
    out.append(
        Workload(
            "02",
            f"from-scratch CNN, {scratch_runs} runs x {s['scratch_steps']} steps",
            scratch_runs * s["scratch_steps"],
            lambda d, s=s: classifier_step(
                SmallVGG(3, 2, s["scratch_widths"]), (s["batch_size"], 3, s["scratch_size"], s["scratch_size"]), 2, d
            ),
        )
    )
    out.append(
        Workload(
            "02",
            f"fine-tune {s['backbone']}, {finetune_runs} runs x {s['finetune_steps']} steps",
            finetune_runs * s["finetune_steps"],
            lambda d, s=s: classifier_step(
                __import__("torchvision").models.resnet18(num_classes=2),
                (s["batch_size"], 3, s["image_size"], s["image_size"]),
                2,
                d,
            ),
        )
    )

    s = full_sizes("03_detection_finetuning")
    iters = s["epochs"] * math.ceil(s["train_images"] / s["batch_size"])
    out.append(
        Workload(
            "03",
            f"Mask R-CNN R50-FPN, {s['epochs']} epochs, min_size {s['min_size']}",
            iters,
            lambda d, s=s: maskrcnn_step(s, d),
        )
    )

    s = full_sizes("04_adversarial_fgsm")
    out.append(
        Workload(
            "04",
            f"LeNet-5, MNIST, {s['epochs']} epochs",
            s["epochs"] * math.ceil(MNIST_TRAIN / s["batch_size"]),
            lambda d, s=s: classifier_step(LeNet5(1, 10), (s["batch_size"], 1, 28, 28), 10, d),
        )
    )
    # PGD curve over all epsilons + targeted PGD at one epsilon, 10,000 test images in batches of 500
    pgd_iters = (len(s["epsilons"]) + 1) * 20 * s["pgd_steps"]
    out.append(
        Workload(
            "04",
            f"PGD ({s['pgd_steps']} steps) on 10,000 images, {len(s['epsilons']) + 1} settings",
            pgd_iters,
            lambda d: pgd_step(500, d),
        )
    )

    s = full_sizes("05_dcgan")
    out.append(
        Workload(
            "05",
            f"DCGAN + conditional + self-conditioned on MNIST, {s['gan_steps'] + s['cgan_steps'] + s['selfcond_steps']} steps",
            s["gan_steps"] + s["cgan_steps"] + s["selfcond_steps"],
            lambda d, s=s: dcgan_step(1, 28, s["nz"], s["width"], s["batch_size"], d),
        )
    )
    out.append(
        Workload(
            "05",
            f"DCGAN on CelebA 64 px, {s['celeba_epochs']} epochs",
            s["celeba_epochs"] * (CELEBA_ALL // s["batch_size"]),
            lambda d, s=s: dcgan_step(3, 64, 100, 64, s["batch_size"], d),
        )
    )

    s = full_sizes("06_cyclegan")
    out.append(
        Workload(
            "06",
            f"CycleGAN {s['image_size']} px, {s['steps']:,} steps (batch {s['batch_size']})",
            s["steps"],
            lambda d, s=s: cyclegan_step(s, d),
        )
    )
    clf_steps = s["clf_epochs"] * math.ceil(sum(HORSE2ZEBRA_TRAIN) / 64)
    out.append(
        Workload(
            "06",
            f"domain classifier, {s['clf_epochs']} epochs",
            clf_steps,
            lambda d, s=s: classifier_step(
                SmallVGG(3, 2, s["clf_widths"]), (64, 3, s["image_size"], s["image_size"]), 2, d
            ),
        )
    )

    s = full_sizes("07_gradcam")
    out.append(
        Workload(
            "07",
            f"SmallVGG on {s['train_scenes']:,} scenes, {s['epochs']} epochs",
            s["epochs"] * math.ceil(s["train_scenes"] / s["batch_size"]),
            lambda d, s=s: classifier_step(
                SmallVGG(3, 3, (8, 16, 32), dropout=0.1), (s["batch_size"], 3, s["scene_size"], s["scene_size"]), 3, d
            ),
        )
    )

    s = full_sizes("08_segmentation")
    curve_runs = len(s["curve_sizes"]) * 2 * s["curve_seeds"]  # pretrained and scratch, each seed
    out.append(
        Workload(
            "08",
            f"{s['model']}, {s['steps']:,} steps on {s['crop']} px crops (batch {s['batch_size']})",
            s["steps"],
            lambda d, s=s: segmenter_step(s, s["batch_size"], d),
        )
    )
    out.append(
        Workload(
            "08",
            f"pretrained vs scratch, {curve_runs} runs x {s['curve_steps']:,} steps",
            curve_runs * s["curve_steps"],
            lambda d, s=s: segmenter_step(s, s["curve_batch_size"], d),
        )
    )

    s = full_sizes("09_keypoints")
    for heatmaps, name in ((True, "heatmap network"), (False, "regressor")):
        out.append(
            Workload(
                "09",
                f"{name}, {s['image_size']} px, {s['seeds']} seeds x {s['steps']:,} steps (batch {s['batch_size']})",
                s["seeds"] * s["steps"],
                lambda d, s=s, h=heatmaps: keypoint_step(s, h, d),
            )
        )
    out.append(
        Workload(
            "09",
            f"CenterNet, {s['centernet_steps']:,} steps on {s['centernet_crop']} px crops (batch 16)",
            s["centernet_steps"],
            lambda d, s=s: centernet_step(s, d),
        )
    )
    out.append(
        Workload(
            "09",
            f"Mask R-CNN on shapes, {s['maskrcnn_epochs']} epochs (batch 4)",
            s["maskrcnn_epochs"] * math.ceil(s["shapes_train"] / 4),
            lambda d: shapes_maskrcnn_step(d),
        )
    )
    out.append(
        Workload(
            "09",
            f"Keypoint R-CNN fine-tuning, {s['rcnn_steps']:,} steps (batch 4)",
            s["rcnn_steps"],
            lambda d, s=s: keypointrcnn_step(s, d),
        )
    )

    s = full_sizes("10_conditional_generation")
    out.append(
        Workload(
            "10",
            f"pix2pix L1 only + L1 + GAN, 2 x {s['pix2pix_steps']:,} steps at {s['pix2pix_size']} px (batch {s['pix2pix_batch']})",
            2 * s["pix2pix_steps"],  # the L1-only run costs less (no discriminator): an upper bound
            lambda d, s=s: pix2pix_step(s, d),
        )
    )
    out.append(
        Workload(
            "10",
            f"SRNet x4 MSE, {s['sr_steps']:,} steps on {s['sr_size']} px crops (batch 16)",
            s["sr_steps"],
            lambda d, s=s: superres_step(s, False, d),
        )
    )
    out.append(
        Workload(
            "10",
            f"SRNet + VGG-16 feature loss, {s['sr_perceptual_steps']:,} steps",
            s["sr_perceptual_steps"],
            lambda d, s=s: superres_step(s, True, d),
        )
    )
    out.append(
        Workload(
            "10",
            f"Gatys style transfer on VGG-16, {s['style_size']} px, {s['style_steps'] + 7 * s['sweep_steps']:,} steps",
            s["style_steps"] + 7 * s["sweep_steps"],  # the main run, 5 style weights, 2 layer choices
            lambda d, s=s: style_step(s, d),
        )
    )

    s = full_sizes("11_fewer_labels")
    per_draw = s["rounds"] + 1 + 2  # self-training (teacher + rounds), then a labels-only and a distilled student
    runs = s["seeds"] * (len(POLICIES_11) + 1) + s["seeds"] * per_draw * len(s["curve_labels_per_class"]) + 2 + 4
    out.append(
        Workload(
            "11",
            f"SmallVGG{s['widths']} on CIFAR-10, {runs} trainings x {s['steps']:,} steps (batch 64)",
            runs * s["steps"],
            lambda d, s=s: classifier_step(SmallVGG(3, 10, s["widths"], dropout=0.3), (64, 3, 32, 32), 10, d),
        )
    )

    s = full_sizes("12_multimodal")
    for kind, steps, name in (
        ("match", s["match_steps"], f"dual encoder (InfoNCE), {s['match_steps']:,} steps (batch 128)"),
        ("caption", s["caption_steps"], f"Show-Attend-Tell captioner, {s['caption_steps']:,} steps (batch 64)"),
        ("vqa", s["vqa_steps"] + 300, f"FiLM VQA, {s['vqa_steps']:,} steps + question-only 300 (batch 64)"),
    ):
        out.append(
            Workload("12", f"{name}, {s['image_size']} px", steps, lambda d, s=s, k=kind: multimodal_step(s, k, d))
        )
    out.append(
        Workload(
            "12",
            f"OpenCLIP {s['clip'][0]}: embed {s['clip_images']:,} CIFAR-10 photographs at 224 px (batches of 256)",
            math.ceil(s["clip_images"] / 256),
            lambda d, s=s: clip_embed_step(s, d),
        )
    )
    return out


# lesson 11's augmentation comparison: 6 policies besides "none" (its section 2)
POLICIES_11 = ("flip", "affine", "TrivialAugmentWide", "CutMix", "MixUp", "label smoothing")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(work: Workload, device: torch.device, steps: int, warmup: int) -> tuple[float, float]:
    """(seconds per step, FLOPs per step) of ``work`` on ``device``."""
    torch.manual_seed(0)
    step = work.make_step(device)
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    seconds = (time.perf_counter() - start) / steps
    with FlopCounterMode(display=False) as counter:
        step()
    return seconds, float(counter.get_total_flops())


def fmt_time(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per workload")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (cuDNN autotuning, allocator)")
    parser.add_argument("--lessons", nargs="*", default=None, help="only these lessons, e.g. 03 06")
    parser.add_argument(
        "--estimate-tflops",
        type=float,
        default=None,
        help="also print the time at this many TFLOP/s sustained (FLOP count / rate)",
    )
    parser.add_argument(
        "--estimate-floor-ms",
        type=float,
        default=5.0,
        help="with --estimate-tflops: no step takes less (kernel launches, Python, data loading)",
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; {args.steps} timed steps after {args.warmup} warm-up steps per workload; no AMP")
    est = (
        f" estimate at {args.estimate_tflops:g} TFLOP/s, >= {args.estimate_floor_ms:g} ms/step |"
        if args.estimate_tflops
        else ""
    )
    print(f"| lesson | training loop (full profile) | steps | ms/step | GFLOP/step | extrapolated |{est}")
    print("|---|---|---:|---:|---:|---:|" + ("---:|" if est else ""))
    totals: dict[str, list[float]] = {}
    for work in workloads():
        if args.lessons and work.lesson not in args.lessons:
            continue
        seconds, flops = measure(work, device, args.steps, args.warmup)
        total = seconds * work.steps
        per_step = max(flops / (args.estimate_tflops * 1e12), args.estimate_floor_ms / 1000) if est else 0.0
        estimate = per_step * work.steps
        t = totals.setdefault(work.lesson, [0.0, 0.0])
        t[0] += total
        t[1] += estimate
        extra = f" {fmt_time(estimate)} |" if est else ""
        print(
            f"| {work.lesson} | {work.name} | {work.steps:,} | {1000 * seconds:.1f} | {flops / 1e9:.2f} | "
            f"{fmt_time(total)} |{extra}",
            flush=True,
        )
    for lesson, (total, estimate) in totals.items():
        extra = f" **{fmt_time(estimate)}** |" if est else ""
        print(f"| {lesson} | **training total** | | | | **{fmt_time(total)}** |{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
