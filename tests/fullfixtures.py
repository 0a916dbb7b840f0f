"""Small fixtures in the real on-disk and archive formats of the ``full`` datasets, and a local server.

Used by the download tests and by the full-profile rehearsal (tests/test_rehearsal.py):
each writer produces what the real dataset host serves or what the real dataset
leaves on disk, only with few, tiny images. :class:`LocalMirror` serves a folder on
127.0.0.1 in the layout ``cvlib.config.cvlib_url`` expects (``<mirror>/<host>/<path>``).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import pickle
import struct
import tarfile
import threading
import types
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Self

import numpy as np
from PIL import Image


def jpeg_bytes(rng: np.random.Generator, size: tuple[int, int] = (24, 18), tint: int | None = None) -> bytes:
    """A small random RGB JPEG (``size`` = (width, height)); ``tint`` sets the red channel."""
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    if tint is not None:
        pixels[..., 0] = tint
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def hymenoptera_zip(path: Path, counts: dict[str, int] | None = None, seed: int = 0) -> Path:
    """``hymenoptera_data.zip`` as download.pytorch.org serves it: hymenoptera_data/{train,val}/{ants,bees}/*.jpg.

    ``counts`` = images per class for each split (default: the verification minimums, 100 / 60).
    """
    counts = counts or {"train": 100, "val": 60}
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for split, n in counts.items():
            for cls in ("ants", "bees"):
                zf.writestr(f"hymenoptera_data/{split}/{cls}/", "")
                for i in range(n):
                    tint = 230 if cls == "ants" else 20  # a learnable difference
                    zf.writestr(f"hymenoptera_data/{split}/{cls}/{i:04d}_{cls}.jpg", jpeg_bytes(rng, tint=tint))
    return path


def mnist_raw(folder: Path, n_train: int = 256, n_test: int = 128, seed: int = 0, gz: bool = False) -> Path:
    """MNIST's four idx files as torchvision keeps them in ``MNIST/raw`` (``gz=True``: gzipped,
    as the mirrors serve them), digits drawn as bars.

    Writes ``<folder>/train-images-idx3-ubyte`` etc. Each class is a distinct pattern,
    so a small network can learn it.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
        for i, y in enumerate(labels):
            images[i, 4 + 2 * y : 6 + 2 * y, 4:24] = 255  # a horizontal bar whose height codes the class

        def opener(name: str):
            return gzip.open(folder / f"{name}.gz", "wb") if gz else open(folder / name, "wb")

        with opener(f"{prefix}-images-idx3-ubyte") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        with opener(f"{prefix}-labels-idx1-ubyte") as f:
            f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return folder


def celeba_folder(root: Path, n: int = 48, seed: int = 0) -> Path:
    """``<root>/celeba/img_align_celeba/000001.jpg ...`` (178x218 RGB) and ``list_eval_partition.txt``."""
    rng = np.random.default_rng(seed)
    images = root / "celeba" / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(1, n + 1):
        (images / f"{i:06d}.jpg").write_bytes(jpeg_bytes(rng, size=(178, 218)))
        lines.append(f"{i:06d}.jpg {0 if i <= n * 0.8 else (1 if i <= n * 0.9 else 2)}")
    (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root / "celeba"


def pennfudan_folder(root: Path, n: int = 12, seed: int = 0) -> Path:
    """``<root>/PennFudanPed/PNGImages/FudanPed000NN.png`` + ``PedMasks/FudanPed000NN_mask.png``
    (one channel, 0 = background, 1, 2, ... = one id per pedestrian), images of varied sizes."""
    rng = np.random.default_rng(seed)
    folder = root / "PennFudanPed"
    (folder / "PNGImages").mkdir(parents=True, exist_ok=True)
    (folder / "PedMasks").mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        h, w = int(rng.integers(120, 160)), int(rng.integers(140, 200))
        image = rng.integers(60, 120, size=(h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), dtype=np.uint8)
        for person in range(1, int(rng.integers(1, 4)) + 1):
            x0 = int(rng.integers(0, w - 40))
            y0 = int(rng.integers(0, h - 80))
            mask[y0 : y0 + 70, x0 : x0 + 30] = person
            image[y0 : y0 + 70, x0 : x0 + 30] = (200, 40 + 30 * person, 40)
        (folder / "PNGImages" / f"FudanPed{i:05d}.png").write_bytes(png_bytes(image))
        (folder / "PedMasks" / f"FudanPed{i:05d}_mask.png").write_bytes(png_bytes(mask))
    return folder


def horse2zebra_folder(root: Path, n_train: int = 24, n_test: int = 8, size: int = 64, seed: int = 0) -> Path:
    """``<root>/horse2zebra/{trainA,trainB,testA,testB}/*.jpg`` (A: brownish, B: striped)."""
    rng = np.random.default_rng(seed)
    folder = root / "horse2zebra"
    for split, n in (("train", n_train), ("test", n_test)):
        for domain in "AB":
            sub = folder / f"{split}{domain}"
            sub.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8) + np.array(
                    [120, 80, 40], dtype=np.uint8
                )
                if domain == "B":
                    img[:, ::8] = 255
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="JPEG", quality=85)
                (sub / f"{i:04d}_{split}{domain}.jpg").write_bytes(buf.getvalue())
    return folder


def write_tar_gz(path: Path, files: Iterable[tuple[str, bytes]]) -> Path:
    """A .tar.gz at ``path`` holding ``files`` (archive name, bytes) and an entry for each of their folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folders: set[str] = set()
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files:
            parts = name.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    folders.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tf.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def write_files(root: Path, files: Iterable[tuple[str, bytes]]) -> None:
    """Write ``files`` (relative name, bytes) under ``root``, as extracting their archive would."""
    for name, data in files:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# pix2pix facades label colours in the fixture: wall, window, door (all blue-dominant, like the real maps' wall)
FACADE_LABELS = ((10, 30, 220), (0, 170, 255), (60, 0, 200))


def facade_pair_jpeg(rng: np.random.Generator, size: int = 32) -> bytes:
    """One pix2pix facades JPEG, ``2 size x size``: LEFT a red-ish "photo" (brick noise, dark windows),
    RIGHT its blue-ish label map (wall colour, window and door rectangles at the same places)."""
    photo = (rng.integers(0, 40, size=(size, size, 3)) + np.array([180, 90, 50])).astype(np.uint8)
    label = np.empty((size, size, 3), dtype=np.uint8)
    label[:] = FACADE_LABELS[0]
    for colour, dark in zip(FACADE_LABELS[1:], ((50, 50, 60), (90, 60, 40))):
        h, w = int(rng.integers(size // 8, size // 4 + 1)), int(rng.integers(size // 8, size // 4 + 1))
        y, x = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        label[y : y + h, x : x + w] = colour
        photo[y : y + h, x : x + w] = dark
    buf = io.BytesIO()
    Image.fromarray(np.concatenate([photo, label], axis=1)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _facades_files(counts: dict[str, int], size: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        for i in range(1, n + 1):
            yield f"facades/{split}/{i}.jpg", facade_pair_jpeg(rng, size)


def facades_folder(
    root: Path, n_train: int = 400, n_val: int = 100, n_test: int = 106, size: int = 32, seed: int = 0
) -> Path:
    """``<root>/facades/{train,val,test}/1.jpg ...`` as facades.tar.gz extracts (default: the real 400 / 100 / 106
    images, each ``2 size x size``: photo left, label map right, see :func:`facade_pair_jpeg`)."""
    write_files(root, _facades_files({"train": n_train, "val": n_val, "test": n_test}, size, seed))
    return root / "facades"


def facades_archive(
    path: Path, n_train: int = 400, n_val: int = 100, n_test: int = 106, size: int = 32, seed: int = 0
) -> Path:
    """``facades.tar.gz`` as the pix2pix host serves it: facades/{train,val,test}/N.jpg (as :func:`facades_folder`)."""
    return write_tar_gz(path, _facades_files({"train": n_train, "val": n_val, "test": n_test}, size, seed))


def _bsds_files(counts: dict[str, int], size: tuple[int, int], seed: int) -> Iterator[tuple[str, bytes]]:
    """Smooth colour gradients with noise, landscape and portrait in turn; train ids 100001..., test 200001...
    (different photographs); every image differs from every other."""
    rng = np.random.default_rng(seed)
    for first, (split, n) in zip((100001, 200001), counts.items()):
        for i in range(n):
            w, h = size if i % 2 == 0 else size[::-1]
            yy, xx = np.mgrid[0:h, 0:w]
            slope_y, slope_x = rng.uniform(-1, 1, size=(2, 3))  # per channel, grey levels per pixel
            base = rng.uniform(40, 200, size=3) + yy[..., None] * slope_y + xx[..., None] * slope_x
            pixels = base + rng.normal(0, 12, size=(h, w, 3))
            buf = io.BytesIO()
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
            yield f"BSDS300/images/{split}/{first + i}.jpg", buf.getvalue()


def bsds_folder(
    root: Path, n_train: int = 200, n_test: int = 100, size: tuple[int, int] = (72, 48), seed: int = 0
) -> Path:
    """``<root>/BSDS300/images/{train,test}/<id>.jpg`` as BSDS300-images.tgz extracts (default: the real 200 / 100
    photographs; ``size`` = (width, height) of the landscape ones, portrait ones are turned, as 481x321 / 321x481)."""
    write_files(root, _bsds_files({"train": n_train, "test": n_test}, size, seed))
    return root / "BSDS300"


def bsds_archive(
    path: Path, n_train: int = 200, n_test: int = 100, size: tuple[int, int] = (72, 48), seed: int = 0
) -> Path:
    """``BSDS300-images.tgz`` as the Berkeley host serves it: BSDS300/images/{train,test}/<id>.jpg (as :func:`bsds_folder`)."""
    return write_tar_gz(path, _bsds_files({"train": n_train, "test": n_test}, size, seed))


# (breed, class id 1..37, species 1 cat / 2 dog, breed id within the species), as in the real split files
PET_BREEDS = (("Abyssinian", 1, 1, 1), ("american_bulldog", 2, 2, 1), ("Bengal", 6, 1, 2), ("beagle", 5, 2, 4))


def pets_folder(
    root: Path, n_trainval: int = 12, n_test: int = 8, size: tuple[int, int] = (40, 32), seed: int = 0
) -> Path:
    """``<root>/oxford-iiit-pet/`` as torchvision's ``OxfordIIITPet`` leaves it (``size`` = (width, height)):

    ``images/<Breed>_<n>.jpg``, ``annotations/trimaps/<Breed>_<n>.png`` (one channel: 1 pet,
    2 background, 3 border) and ``annotations/trainval.txt`` / ``test.txt`` ("Abyssinian_1 1 1 1").
    The pet is an orange ellipse at a random place on dark noise; its trimap has a border ring of 3s about 2 px wide.
    """
    rng = np.random.default_rng(seed)
    folder = root / "oxford-iiit-pet"
    images, trimaps = folder / "images", folder / "annotations" / "trimaps"
    images.mkdir(parents=True, exist_ok=True)
    trimaps.mkdir(parents=True, exist_ok=True)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    for split, n, start in (("trainval", n_trainval, 0), ("test", n_test, n_trainval)):
        lines = []
        for i in range(start, start + n):
            breed, class_id, species, breed_id = PET_BREEDS[i % len(PET_BREEDS)]
            image_id = f"{breed}_{i + 1}"
            cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h
            rx, ry = rng.uniform(0.25, 0.35) * w, rng.uniform(0.25, 0.35) * h
            r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)  # 1 on the ellipse's outline
            ring = 1.0 / min(rx, ry)  # about 1 px either side of the outline
            trimap = np.full((h, w), 2, dtype=np.uint8)
            trimap[r < 1 + ring] = 3
            trimap[r < 1 - ring] = 1
            pixels = rng.integers(0, 70, size=(h, w, 3), dtype=np.uint8)
            pixels[r < 1] = np.array([230, 140, 30], dtype=np.uint8) + rng.integers(0, 20, size=(3,), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
            (images / f"{image_id}.jpg").write_bytes(buf.getvalue())
            (trimaps / f"{image_id}.png").write_bytes(png_bytes(trimap))
            lines.append(f"{image_id} {class_id} {species} {breed_id}")
        (folder / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def torchvision_weights(torch_home: Path, names: tuple[str, ...] = ("resnet18", "maskrcnn_resnet50_fpn")) -> list[Path]:
    """Seeded random-init state dicts under the official file names in ``<torch_home>/hub/checkpoints``,
    so ``weights=...`` loading code runs as with the real download.

    ``names``: any of ``"resnet18"``, ``"maskrcnn_resnet50_fpn"`` (the default pair), ``"lraspp_mobilenet_v3_large"``
    and ``"deeplabv3_mobilenet_v3_large"`` (their COCO_WITH_VOC_LABELS_V1 files; with those weights torchvision
    loads no separate backbone file), ``"keypointrcnn_resnet50_fpn"`` (COCO_V1, person keypoints) and ``"vgg16"``
    (IMAGENET1K_V1; only its ``features.*`` tensors, the part lesson 10 reads, so the fixture is 59 MB, not 553).
    """
    import torch
    from torchvision.models import ResNet18_Weights, VGG16_Weights, resnet18, vgg16
    from torchvision.models.detection import (
        KeypointRCNN_ResNet50_FPN_Weights,
        MaskRCNN_ResNet50_FPN_Weights,
        keypointrcnn_resnet50_fpn,
        maskrcnn_resnet50_fpn,
    )
    from torchvision.models.segmentation import (
        DeepLabV3_MobileNet_V3_Large_Weights,
        LRASPP_MobileNet_V3_Large_Weights,
        deeplabv3_mobilenet_v3_large,
        lraspp_mobilenet_v3_large,
    )

    builders = {
        "resnet18": (ResNet18_Weights.DEFAULT, lambda: resnet18(weights=None)),
        "maskrcnn_resnet50_fpn": (
            MaskRCNN_ResNet50_FPN_Weights.COCO_V1,
            lambda: maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91),
        ),
        "lraspp_mobilenet_v3_large": (
            LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
            lambda: lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21),
        ),
        "deeplabv3_mobilenet_v3_large": (
            DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1,
            lambda: deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21, aux_loss=True),
        ),
        "vgg16": (VGG16_Weights.IMAGENET1K_V1, lambda: _Prefixed("features", vgg16(weights=None).features)),
        "keypointrcnn_resnet50_fpn": (
            KeypointRCNN_ResNet50_FPN_Weights.COCO_V1,
            lambda: keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=2, num_keypoints=17),
        ),
    }
    unknown = [n for n in names if n not in builders]
    if unknown:
        raise ValueError(f"no fixture weights for {unknown}: choose from {sorted(builders)}")
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        weights, build = builders[name]
        torch.manual_seed(0)
        path = folder / weights.url.rsplit("/", 1)[-1]
        torch.save(build().state_dict(), path)
        written.append(path)
    return written


def clip_weights(torch_home: Path) -> Path:
    """Lesson 12's OpenCLIP ViT-B/32 checkpoint (``cvlib.models.clip.CLIP_WEIGHTS``), seeded random init, under its
    official file name in ``<torch_home>/hub/checkpoints`` (where ``torch.hub`` caches it, so nothing is downloaded).

    Stored in half precision (302 MB instead of 605; ``load_clip`` casts to float32) under the checkpoint's
    ``{"state_dict": {"module.<name>": ...}}`` layout, which ``clip_state_dict`` unwraps.
    """
    import logging

    import open_clip
    import torch

    from cvlib.models.clip import CLIP_WEIGHTS

    (name, _tag), url = next(iter(CLIP_WEIGHTS.items()))
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / url.rsplit("/", 1)[-1]
    torch.manual_seed(0)
    logging.disable(logging.WARNING)
    try:
        model = open_clip.create_model(name, pretrained=None)
    finally:
        logging.disable(logging.NOTSET)
    torch.save({"state_dict": {f"module.{k}": v.half() for k, v in model.state_dict().items()}}, path)
    return path


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can be extended
    """Protocol 2 as Python 2's cPickle wrote the CIFAR-10 batches: every ``str`` and ``bytes`` as an 8-bit
    string (BINSTRING, so Python 3 needs ``encoding="latin1"``), NumPy's internals under ``numpy.core``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_string(self, data: bytes) -> None:
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", None) or ""
        if module.startswith("numpy._core"):
            qualname = name or obj.__qualname__
            qualname = qualname.rsplit(".", 1)[-1] if qualname.startswith("numpy.") else qualname
            old = module.replace("numpy._core", "numpy.core", 1)
            self.write(pickle.GLOBAL + old.encode() + b"\n" + qualname.encode() + b"\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch[str] = lambda self, obj: self._save_py2_string(obj.encode("latin1"))
    dispatch[bytes] = lambda self, obj: self._save_py2_string(bytes(obj))
    dispatch[types.FunctionType] = save_global


def py2_pickle(obj: object) -> bytes:
    """``obj`` pickled with protocol 2 as Python 2 wrote it (see :class:`_Py2Pickler`)."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: The fixture's colour of each CIFAR-10 class (RGB): every image of class c is this colour plus noise.
CIFAR10_TINTS = (
    (220, 40, 40),
    (40, 200, 40),
    (40, 60, 220),
    (220, 200, 40),
    (200, 40, 200),
    (40, 200, 200),
    (140, 80, 20),
    (240, 240, 240),
    (30, 30, 30),
    (130, 130, 130),
)


def _cifar10_files(n_per_batch: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """The files of cifar-10-batches-py: five training batches and a test batch of ``n_per_batch`` images each
    (labels balanced within each batch when n_per_batch is a multiple of 10), batches.meta, readme.html."""
    rng = np.random.default_rng(seed)
    names = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    for i, name in enumerate(names):
        labels = rng.permutation(np.arange(n_per_batch) % 10)
        tints = np.array(CIFAR10_TINTS, dtype=np.int16)[labels]  # (n, 3)
        pixels = tints[:, :, None, None] + rng.integers(-25, 26, size=(n_per_batch, 3, 32, 32))
        batch = {
            "batch_label": f"training batch {i + 1} of 5" if i < 5 else "testing batch 1 of 1",
            "labels": [int(c) for c in labels],
            "data": pixels.clip(0, 255).astype(np.uint8).reshape(n_per_batch, 3 * 32 * 32),  # R, G, B planes
            "filenames": [f"{CIFAR10_CLASSES[c]}_s_{i * n_per_batch + j:06d}.png" for j, c in enumerate(labels)],
        }
        yield f"cifar-10-batches-py/{name}", py2_pickle(batch)
    meta = {"num_cases_per_batch": n_per_batch, "label_names": list(CIFAR10_CLASSES), "num_vis": 3 * 32 * 32}
    yield "cifar-10-batches-py/batches.meta", py2_pickle(meta)
    yield (
        "cifar-10-batches-py/readme.html",
        b'<meta HTTP-EQUIV="REFRESH" content="0; url=http://www.cs.toronto.edu/~kriz/cifar.html">\n',
    )


def cifar10_folder(root: Path, n_per_batch: int = 20, seed: int = 0) -> Path:
    """``<root>/cifar-10-batches-py/`` as cifar-10-python.tar.gz extracts: data_batch_1..5, test_batch (each a
    protocol-2 pickle of {'data': (n, 3072) uint8 R/G/B planes, 'labels': [n ints], ...}), batches.meta, readme.html;
    ``n_per_batch`` images per batch (the real data: 10,000), class c tinted CIFAR10_TINTS[c]."""
    write_files(root, _cifar10_files(n_per_batch, seed))
    return root / "cifar-10-batches-py"


def cifar10_archive(path: Path, n_per_batch: int = 20, seed: int = 0) -> Path:
    """``cifar-10-python.tar.gz`` as the Toronto host serves it, with the content of :func:`cifar10_folder`."""
    return write_tar_gz(path, _cifar10_files(n_per_batch, seed))


class _Prefixed:
    """A module's state dict under ``prefix.`` (as the module sits inside its full network)."""

    def __init__(self, prefix: str, module):
        self.prefix, self.module = prefix, module

    def state_dict(self) -> dict:
        return {f"{self.prefix}.{k}": v for k, v in self.module.state_dict().items()}


class LocalMirror:
    """Serve ``root`` over HTTP on 127.0.0.1 (a thread); ``url`` is the value for ``CVLIB_MIRROR``.

    Records the paths requested in ``requests``. Use as a context manager.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                mirror.requests.append(self.path)
                super().do_GET()

        handler = functools.partial(Handler, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
