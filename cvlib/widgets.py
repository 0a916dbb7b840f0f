"""ipywidgets helpers used by the lessons (each returns a widget to display); lesson 01 uses ``conv_explorer``."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian (all edges)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
}


def apply_kernel(image: torch.Tensor, kernel: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """Convolve a ``(H, W)`` float image with a ``(k, k)`` kernel; returns the ``(H', W')`` response."""
    out = F.conv2d(image[None, None].float(), kernel[None, None].float(), stride=stride, padding=padding)
    return out[0, 0]


def conv_explorer(image: torch.Tensor) -> widgets.Widget:
    """Pick a kernel, stride and padding; see the input, the output and the output size.

    Args:
        image: ``(H, W)`` float in [0, 1] (a grayscale photograph works best).
    """
    kernel_w = widgets.Dropdown(options=list(KERNELS), value="Sobel x (vertical edges)", description="kernel")
    stride_w = widgets.IntSlider(value=1, min=1, max=4, description="stride")
    padding_w = widgets.IntSlider(value=0, min=0, max=3, description="padding")
    out = widgets.Output()

    def redraw(_=None) -> None:
        kernel = torch.tensor(KERNELS[kernel_w.value])
        response = apply_kernel(image, kernel, stride_w.value, padding_w.value)
        with out:
            out.clear_output(wait=True)
            fig, (a, b) = plt.subplots(1, 2, figsize=(8, 4))
            a.imshow(image, cmap="gray")
            a.set_title(f"input {tuple(image.shape)}")
            b.imshow(response, cmap="RdBu_r")
            b.set_title(f"output {tuple(response.shape)}  (k=3, s={stride_w.value}, p={padding_w.value})")
            for ax in (a, b):
                ax.set_xlabel("x (pixels)")
                ax.set_ylabel("y (pixels)")
            fig.suptitle(f"Convolution with the {kernel_w.value} kernel")
            fig.tight_layout()
            plt.show()

    for w in (kernel_w, stride_w, padding_w):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([kernel_w, stride_w, padding_w]), out])
