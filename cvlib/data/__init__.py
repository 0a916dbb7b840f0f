"""Datasets for the lessons.

- ``cvlib.data.digits``    scikit-learn's bundled handwritten digits as a torch Dataset (quick)
- ``cvlib.data.real``      torchvision-backed real datasets for ``full`` (MNIST, CIFAR-10, ...)
- ``cvlib.data.download``  checksummed downloads and safe archive extraction
- ``cvlib.data.domains``   generated day/night scenes, two domains for unpaired translation (lesson 06, quick)
- ``cvlib.data.horse2zebra``  the CycleGAN paper's horse2zebra photos (lesson 06, full)
- ``cvlib.data.segscenes``  generated panoptic scenes: textured stuff + occluding shapes (lesson 08, quick)
- ``cvlib.data.photocrops`` full-resolution crops of the bundled photographs, disjoint train/test (lesson 10, quick)
- ``cvlib.data.pets``       Oxford-IIIT Pet as background / pet / ignored-border masks (lesson 08, full)
- ``cvlib.data.facades``    CMP Facades as pix2pix packs it: (label map, photo) pairs (lesson 10, full)
- ``cvlib.data.srphotos``   BSDS300 photographs as full-resolution super-resolution crops (lesson 10, full)
- ``cvlib.data.cifar10``    CIFAR-10 batches as tensors + balanced labelled/unlabelled splits (lesson 11, full)

Datasets only: one real dataset per file, generated datasets by family. Nothing here
imports from models or task modules (dependencies flow data -> models -> task -> metrics -> viz).

Every ``full`` loader fails at once, offline, with :class:`DatasetUnavailableError`
naming the dataset, the folder it expected and how to get it.
"""

from cvlib.data.download import DatasetUnavailableError

__all__ = ["DatasetUnavailableError"]
