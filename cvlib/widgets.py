"""ipywidgets helpers used by the lessons (each returns a widget to display).

:func:`explorer` is how every lesson widget is built (01 ``conv_explorer``, 03
``threshold_explorer``, 04 epsilon sliders, 05 latent slider, 07 Grad-CAM picker): controls
plus a figure redrawn on every change, and the first view also drawn as a plain static
figure, so a reader without a kernel (GitHub, nbviewer) sees what the widget shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import display
from matplotlib.figure import Figure

STATIC_NOTE = "Static copy of the widget's first view (for readers without a running kernel); the live widget is below."


def explorer(rows: Sequence[Sequence[widgets.Widget]], draw: Callable[[], Figure], static: bool = True) -> widgets.VBox:
    """Controls (one ``HBox`` per row) above a figure that ``draw()`` redraws whenever a control changes.

    ``draw`` reads the controls' current values and returns a new matplotlib figure. With
    ``static`` the first view is also displayed as an ordinary figure (with a one-line note),
    before the widget: stored notebooks then show it without a kernel.

    Raises:
        ValueError: no row of controls.
    """
    rows = [list(r) for r in rows]
    if not rows or not any(rows):
        raise ValueError("explorer needs at least one row with at least one control.")
    if static:
        fig = draw()
        fig.text(0.5, 0.0, STATIC_NOTE, ha="center", va="top", fontsize=8, color="gray")
        display(fig)
        plt.close(fig)
    out = widgets.Output()

    def redraw(_=None) -> None:
        with out:
            out.clear_output(wait=True)
            fig = draw()
            display(fig)
            plt.close(fig)

    for row in rows:
        for control in row:
            control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(row) for row in rows if row] + [out])


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

    def draw() -> Figure:
        kernel = torch.tensor(KERNELS[kernel_w.value])
        response = apply_kernel(image, kernel, stride_w.value, padding_w.value)
        fig, (a, b) = plt.subplots(1, 2, figsize=(8, 4))
        a.imshow(image.numpy(), cmap="gray")
        a.set_title(f"input {tuple(image.shape)}")
        limit = float(response.abs().max()) or 1.0  # symmetric limits: zero response is white
        shown = b.imshow(response.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.colorbar(shown, ax=b, shrink=0.8, label="response")
        b.set_title(f"output {tuple(response.shape)}  (k=3, s={stride_w.value}, p={padding_w.value})")
        for ax in (a, b):
            ax.set_xlabel("x (pixels)")
            ax.set_ylabel("y (pixels)")
        fig.suptitle(f"Convolution with the {kernel_w.value} kernel")
        fig.tight_layout()
        return fig

    return explorer([[kernel_w, stride_w, padding_w]], draw)
