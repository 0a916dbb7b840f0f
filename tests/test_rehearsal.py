"""Full-profile rehearsal: every lesson runs top to bottom with ``CVLIB_PROFILE=full``, unchanged.

What a Colab or CUDA learner runs, on this machine and in CI, through the real
``full`` code path:

- datasets are fixtures in each dataset's real on-disk format (tests/fullfixtures.py)
  under a temporary ``CVLIB_DATA``; hymenoptera, which lesson 02 downloads, is served as
  the real zip archive by a local HTTP server (``CVLIB_MIRROR``: the URL base is the only
  thing overridden) and goes through download -> verify -> extract;
- torchvision weights (ResNet-18, COCO Mask R-CNN, COCO LR-ASPP, ...) and lesson 12's OpenCLIP checkpoint are
  seeded random-init state dicts under their official file names in a temporary ``TORCH_HOME``, so the real
  ``weights=...`` / ``torch.hub`` loading code runs;
- sizes shrink only through the ``parameters`` cell: a cell injected after it updates
  ``SIZES`` (papermill-style), so each lesson finishes in about a minute on 2 cores.

Check cells still run; with random weights and a few images a metric threshold cannot
hold, so ``CVLIB_REHEARSAL=1`` makes a missed threshold print "not asserted in
rehearsal" (cvlib.checks). Any other failure (shape, dtype, key, file layout, device,
missing file, a download that does not verify) fails the test.
"""

import sys
from pathlib import Path

import fullfixtures
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import nbtools

# The only change to each lesson: sizes, through its parameters cell.
OVERRIDES = {
    "01_cnn_basics": {"epochs": 1, "ablation_epochs": 1},
    "02_transfer_learning": {
        "image_size": 64,
        "ks": (1, 10),
        "seeds": 1,
        "scratch_size": 32,
        "scratch_widths": (8, 16, 32),
        "scratch_steps": 4,
        "head_steps": 5,
        "finetune_ks": (1, 10),
        "finetune_steps": 2,
    },
    "03_detection_finetuning": {"train_images": 6, "test_images": 8, "epochs": 1, "warmup_iters": 2, "min_size": 160},
    "04_adversarial_fgsm": {"epochs": 1, "pgd_steps": 2, "photo_pgd_steps": 2},
    "05_dcgan": {
        "gan_steps": 20,
        "snapshot_every": 10,
        "cgan_steps": 10,
        "selfcond_steps": 10,
        "classifier_epochs": 1,
        "n_samples": 64,
        "celeba_epochs": 1,
    },
    "06_cyclegan": {
        "image_size": 64,
        "ngf": 8,
        "n_blocks": 1,
        "ndf": 8,
        "steps": 4,
        "clf_widths": (8, 16),
        "clf_epochs": 1,
        "style_size": 64,
    },
    "07_gradcam": {
        "train_scenes": 64,
        "test_scenes": 32,
        "epochs": 1,
        "scene_sets": 2,
        "occlusion_scenes": 4,
        "tsne_points": 40,
    },
    "08_segmentation": {
        "image_size": 64,
        "train_images": 12,
        "test_images": 8,
        "steps": 2,
        "batch_size": 4,
        "crop": 32,
        "curve_sizes": [4, 8],
        "curve_seeds": 1,
        "curve_steps": 2,
        "curve_batch_size": 2,
    },
    "09_keypoints": {
        "image_size": 64,
        "train_images": 16,
        "test_images": 16,  # the figures draw 12 of them
        "steps": 2,
        "batch_size": 4,
        "seeds": 1,
        "shapes_train": 8,
        "shapes_test": 4,
        "centernet_steps": 2,
        "maskrcnn_epochs": 1,
        "rcnn_steps": 2,
        "rcnn_min_size": 64,
    },
    "10_conditional_generation": {
        "pix2pix_size": 32,  # facades resized; U-Net depth 5
        "pix2pix_test": 8,
        "pix2pix_steps": 2,
        "pix2pix_batch": 2,
        "ngf": 8,
        "sr_size": 32,  # <= the BSDS fixture's 48-px short side
        "sr_train": 16,
        "sr_test": 8,  # the crop figure shows crops 0, 3 and 7
        "sr_steps": 2,
        "sr_perceptual_steps": 2,
        "sr_channels": 8,
        "sr_blocks": 1,
        "style_size": 32,
        "style_steps": 2,
        "sweep_steps": 2,
    },
    "11_fewer_labels": {
        "labels_per_class": 2,  # the CIFAR-10 fixture holds 10 training images per class
        "curve_labels_per_class": (2, 4),
        "test_images": 20,
        "widths": (8, 16),
        "student_widths": (4, 8),
        "steps": 2,
        "seeds": 2,
        "rounds": 1,
    },
    "12_multimodal": {
        "image_size": 32,  # a 4 x 4 feature grid
        "widths": (4, 8, 8),
        "match_train": 64,
        "match_steps": 2,
        "caption_train": 64,
        "caption_steps": 2,
        "vqa_scenes": 40,
        "vqa_steps": 2,
        "test_scenes": 40,
        "clip_images": 20,  # the CIFAR-10 fixture's 20 test images; ViT-B/32 at random weights (fp16 fixture)
    },
}
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_lesson_has_rehearsal_sizes():
    assert sorted(OVERRIDES) == [p.stem for p in NOTEBOOKS], "add the new lesson's small full sizes to OVERRIDES"


@pytest.fixture(scope="session")
def full_world(tmp_path_factory):
    """Data folder, torch hub cache and a local mirror, shared by all rehearsal runs."""
    base = tmp_path_factory.mktemp("rehearsal")
    data, torch_home, served = base / "data", base / "torch", base / "served"
    fullfixtures.mnist_raw(data / "MNIST" / "raw")
    fullfixtures.celeba_folder(data)
    fullfixtures.pennfudan_folder(data)
    fullfixtures.horse2zebra_folder(data)
    fullfixtures.pets_folder(data)
    fullfixtures.bsds_folder(data)
    fullfixtures.cifar10_folder(data, n_per_batch=20)  # 100 training, 20 test images
    # facades goes through download -> verify -> extract, served as its real .tar.gz
    fullfixtures.facades_archive(served / "efrosgans.eecs.berkeley.edu" / "pix2pix" / "datasets" / "facades.tar.gz")
    fullfixtures.hymenoptera_zip(served / "download.pytorch.org" / "tutorial" / "hymenoptera_data.zip")
    fullfixtures.torchvision_weights(
        torch_home,
        names=("resnet18", "maskrcnn_resnet50_fpn", "lraspp_mobilenet_v3_large", "keypointrcnn_resnet50_fpn", "vgg16"),
    )
    fullfixtures.clip_weights(torch_home)  # lesson 12's OpenCLIP ViT-B/32
    with fullfixtures.LocalMirror(served) as mirror:
        yield {
            "env": {
                "CVLIB_DATA": str(data),
                "TORCH_HOME": str(torch_home),
                "CVLIB_MIRROR": mirror.url,
                "CVLIB_REHEARSAL": "1",
                "CVLIB_CHECKPOINTS": str(base / "checkpoints"),
            },
            "mirror": mirror,
            "data": data,
        }


def with_overrides(path: Path, sizes: dict) -> nbformat.NotebookNode:
    """The lesson with one cell inserted after its ``parameters`` cell: ``SIZES.update(...)``."""
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(f"# injected by the full-profile rehearsal\nSIZES.update({sizes!r})")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs_in_full(path, full_world):
    nb = with_overrides(path, OVERRIDES[path.stem])
    nbtools.execute(path, timeout=300, env=full_world["env"], nb=nb, profile="full")
    text = outputs_text(nb)
    assert "profile : full" in text, "the lesson header shows the full profile"
    if path.stem == "02_transfer_learning":
        hymenoptera = [r for r in full_world["mirror"].requests if "hymenoptera" in r]
        assert hymenoptera == ["/download.pytorch.org/tutorial/hymenoptera_data.zip"], (
            "lesson 02 downloaded hymenoptera once from the (local) server"
        )
        assert (full_world["data"] / "hymenoptera_data" / "val" / "bees").is_dir()
    if path.stem == "12_multimodal":
        assert "zero-shot on 20 CIFAR-10 test photographs" in text, "lesson 12 ran OpenCLIP on the CIFAR-10 fixture"
    if path.stem == "10_conditional_generation":
        facades = [r for r in full_world["mirror"].requests if "facades" in r]
        assert facades == ["/efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"], (
            "lesson 10 downloaded facades once from the (local) server"
        )
        assert len(list((full_world["data"] / "facades" / "test").glob("*.jpg"))) == 106
