"""Datasets for the lessons.

- ``cvlib.data.digits``    scikit-learn's bundled handwritten digits as a torch Dataset (quick)
- ``cvlib.data.real``      torchvision-backed real datasets for ``full`` (MNIST, CIFAR-10, ...)
- ``cvlib.data.download``  checksummed downloads and safe archive extraction

Every ``full`` loader fails at once, offline, with :class:`DatasetUnavailableError`
naming the dataset, the folder it expected and how to get it.
"""

from cvlib.data.download import DatasetUnavailableError

__all__ = ["DatasetUnavailableError"]
