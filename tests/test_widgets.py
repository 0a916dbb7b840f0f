"""cvlib.widgets.explorer: controls, a live figure, and a static copy of the first view."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
import torch

from cvlib.widgets import KERNELS, apply_kernel, conv_explorer, explorer


def test_explorer_draws_a_static_copy_then_the_live_view_and_redraws_on_change(capsys):
    slider = widgets.IntSlider(value=1, min=1, max=3)
    seen = []

    def draw():
        seen.append(slider.value)
        fig, ax = plt.subplots()
        ax.set_title(f"value {slider.value}")
        return fig

    box = explorer([[slider]], draw)
    assert seen == [1, 1], "one static copy, one live view"
    assert isinstance(box, widgets.VBox) and isinstance(box.children[-1], widgets.Output)
    assert box.children[0].children == (slider,)
    slider.value = 3
    assert seen == [1, 1, 3]
    assert not plt.get_fignums(), "every figure is closed after it is shown"
    explorer([[slider]], draw, static=False)
    assert seen == [1, 1, 3, 3]


def test_explorer_needs_a_control():
    with pytest.raises(ValueError, match="at least one row"):
        explorer([], lambda: plt.figure())


def test_conv_explorer_shows_the_output_size_for_stride_and_padding():
    box = conv_explorer(torch.rand(24, 24))
    kernel_w, stride_w, padding_w = box.children[0].children
    assert (kernel_w.value, stride_w.value, padding_w.value) == ("Sobel x (vertical edges)", 1, 0)
    stride_w.value, padding_w.value = 2, 1
    assert not plt.get_fignums()
    kernel = torch.tensor(KERNELS[kernel_w.value])
    assert apply_kernel(torch.rand(24, 24), kernel, 2, 1).shape == (12, 12)  # (24 + 2 - 3) // 2 + 1
