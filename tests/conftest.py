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
