"""cvlib: the thin helper package of the computer-vision course.

Where code lives (the rule is in CONTRIBUTING.md): ``data`` = datasets, ``models`` =
networks, one module or package per task, and imports flow one way:
data -> models -> task modules -> metrics -> viz / widgets.

- ``cvlib.config``     profile (quick|full), device, seeding, paths, lesson header (all lessons)
- ``cvlib.checks``     check cells: assert a lesson's result and print it rounded (all lessons)
- ``cvlib.validate``   one-line input errors for image batches (every entry point that takes images)
- ``cvlib.data``       datasets: bundled or generated (quick), real ones downloaded and verified (full)
- ``cvlib.models``     networks and their builders; ``models.utils`` = shared model utilities
- ``cvlib.train``      classification training: fit / evaluate / predict, history, checkpoints (01, 04-07)
- ``cvlib.transfer``   transfer and data-efficient learning (02)
- ``cvlib.detection``  detection: targets and transforms, engine, COCO evaluation, drawing (03)
- ``cvlib.attacks``    adversarial attacks in pixel space (04)
- ``cvlib.gan``        GAN training: losses, steps, sampling, image pool (05, 06)
- ``cvlib.explain``    saliency, occlusion, CAM / Grad-CAM, pointing game (07)
- ``cvlib.segmentation`` losses, mIoU / PQ, training on crops, panoptic merge, mask drawing (08)
- ``cvlib.keypoints``  heatmap targets and decoding, PCK / OKS, COCO keypoint AP (09)
- ``cvlib.conditional`` pix2pix step, sharpness / PSNR / SSIM, perceptual and style losses, style transfer (10)
- ``cvlib.fewlabels``  training on few labels: CutMix / MixUp, pseudo-labels, self-training, distillation (11)
- ``cvlib.multimodal`` InfoNCE, retrieval recall@K, zero-shot prompts, captioning (greedy / beam, BLEU-4, attention hits), VQA (12)
- ``cvlib.metrics``    metrics shared by several lessons (accuracy, Frechet distance, coverage)
- ``cvlib.viz``        image grids, curves, confusion matrices, overlays, smoothing
- ``cvlib.widgets``    ipywidgets helpers used by the lessons

Submodules are imported explicitly (``from cvlib import config``) so that
``import cvlib`` stays cheap.
"""

__version__ = "0.1.0"
