"""Shared test setup: headless matplotlib, quick profile, small thread count."""

import os

os.environ["CVLIB_PROFILE"] = "quick"

import matplotlib  # noqa: E402

# Headless plots in this (test) process only.
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
