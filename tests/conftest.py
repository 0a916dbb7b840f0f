"""Shared test setup: headless matplotlib, quick profile, small thread count."""

import os

os.environ["CVLIB_PROFILE"] = "quick"

import matplotlib

# Headless plots in this (test) process only.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def _pristine_maskrcnn():
    """The quick Mask R-CNN of lesson 03 (3 shape classes + background, 64-px anchors), built once."""
    import torch

    from cvlib.data.shapes import CLASSES
    from cvlib.models.maskrcnn import maskrcnn_efficientnet_lite0

    torch.manual_seed(0)
    return maskrcnn_efficientnet_lite0(len(CLASSES) + 1, image_size=64)


@pytest.fixture
def small_model(_pristine_maskrcnn):
    """A fresh copy of the quick Mask R-CNN per test: training and predictor surgery change it."""
    import copy

    return copy.deepcopy(_pristine_maskrcnn)
