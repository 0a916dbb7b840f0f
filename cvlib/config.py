"""Profile, device, seeding and paths: the first thing every lesson calls.

The profile comes from the ``CVLIB_PROFILE`` environment variable:

- ``quick`` (default): no network, CPU-sized, minutes on 2 cores.
- ``full``: the real datasets and torchvision weights, sized for a GPU.

A lesson's first code cell calls :func:`lesson_header`, which prints the
profile, device, seed and library versions, so a learner (and a bug report)
always shows what ran.
"""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

PROFILES = ("quick", "full")
DEFAULT_SEED = 0

T = TypeVar("T")


def get_profile() -> str:
    """Return the active profile, ``"quick"`` (default) or ``"full"``.

    Raises:
        ValueError: if ``CVLIB_PROFILE`` holds anything else; the message says
            which values are allowed and how to set one.
    """
    value = os.environ.get("CVLIB_PROFILE", "quick").strip().lower() or "quick"
    if value not in PROFILES:
        raise ValueError(
            f"CVLIB_PROFILE={os.environ.get('CVLIB_PROFILE')!r} is not a profile: "
            f"use one of {', '.join(PROFILES)} (e.g. `export CVLIB_PROFILE=quick`), "
            "or unset it for the default 'quick'."
        )
    return value


def pick(quick: T, full: T, profile: str | None = None) -> T:
    """Return ``quick`` or ``full`` according to the profile (one code path, two sizes)."""
    return full if (profile or get_profile()) == "full" else quick


def get_device(prefer: str | None = None) -> torch.device:
    """Choose the device: ``CVLIB_DEVICE`` or ``prefer`` if given, else cuda -> mps -> cpu.

    Raises:
        ValueError: if a device is requested explicitly but is not available.
    """
    wanted = prefer or os.environ.get("CVLIB_DEVICE")
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device {wanted!r} was requested but CUDA is not available here: unset CVLIB_DEVICE or use 'cpu'."
            )
        if device.type == "mps" and not _mps_available():
            raise ValueError(
                f"device {wanted!r} was requested but MPS is not available here: unset CVLIB_DEVICE or use 'cpu'."
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int = DEFAULT_SEED, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a seeded CPU generator.

    With ``deterministic=True`` cuDNN autotuning is switched off and cuDNN is
    asked for deterministic kernels, so a lesson gives the same numbers on
    every run of the same machine. (Different hardware may still differ in
    the last digits: check cells compare with margins, never exact values.)
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def num_workers() -> int:
    """DataLoader workers: ``CVLIB_WORKERS`` if set, else 0 (safe everywhere)."""
    return int(os.environ.get("CVLIB_WORKERS", "0"))


def repo_root() -> Path:
    """The course repository root (the folder that holds ``cvlib/``)."""
    return Path(__file__).resolve().parent.parent


def _default_base() -> Path:
    """The repository when cvlib runs from a checkout, else the working folder (e.g. Colab's /content)."""
    root = repo_root()
    return root if (root / "pyproject.toml").exists() else Path.cwd()


def data_dir() -> Path:
    """Where ``full`` datasets are downloaded: ``CVLIB_DATA``, else ``<repo>/data`` (``./data`` outside a checkout)."""
    path = Path(os.environ.get("CVLIB_DATA", _default_base() / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cvlib_url(url: str) -> str:
    """``url``, or its copy on the mirror named by ``CVLIB_MIRROR`` (e.g. ``http://127.0.0.1:8000``).

    The mirror serves ``<mirror>/<host>/<path>``: ``https://download.pytorch.org/tutorial/x.zip``
    becomes ``<mirror>/download.pytorch.org/tutorial/x.zip``. The full-profile rehearsal uses it to
    serve fixture archives from a local server; a course mirror could use it the same way.
    """
    mirror = os.environ.get("CVLIB_MIRROR", "").strip().rstrip("/")
    if not mirror:
        return url
    if not mirror.startswith(("http://", "https://", "file://")):
        raise ValueError(f"CVLIB_MIRROR={mirror!r} must be an http(s):// or file:// URL, or unset.")
    _, _, rest = url.partition("://")
    return f"{mirror}/{rest}"


def checkpoint_dir() -> Path:
    """Where checkpoints are written: ``CVLIB_CHECKPOINTS``, else ``<repo>/checkpoints`` (``./checkpoints`` outside a checkout)."""
    path = Path(os.environ.get("CVLIB_CHECKPOINTS", _default_base() / "checkpoints"))
    path.mkdir(parents=True, exist_ok=True)
    return path


#: Figures whose PNG is larger than this are stored as JPEG (photograph grids); plots stay PNG.
PNG_LIMIT_BYTES = 60_000
JPEG_QUALITY = 88


def figure_bytes(fig: Any, limit: int = PNG_LIMIT_BYTES) -> tuple[str, bytes]:
    """Encode a matplotlib figure for a notebook: ``("png", data)`` if the PNG is at most
    ``limit`` bytes, else ``("jpeg", data)`` at quality ``JPEG_QUALITY``.

    Line plots and bar charts compress well as PNG and keep sharp text; grids of photographs
    do not, and JPEG stores them in a fraction of the size (each lesson stays under 2 MB).
    """
    import io

    def encode(fmt: str, **kwargs: Any) -> bytes:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight", facecolor=fig.get_facecolor(), **kwargs)
        return buffer.getvalue()

    png = encode("png")
    if len(png) <= limit:
        return "png", png
    return "jpeg", encode("jpeg", pil_kwargs={"quality": JPEG_QUALITY, "optimize": True})


def _use_compact_figure_formats() -> None:
    """In IPython, show figures as PNG or JPEG, whichever ``figure_bytes`` picks (one output each)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    import base64

    import matplotlib as mpl
    from matplotlib.figure import Figure

    if "inline" in str(mpl.rcParams._get("backend")).lower():
        # Loading the inline backend registers its own PNG formatter: load it first, then replace it.
        import matplotlib_inline.backend_inline  # noqa: F401

    # IPython calls the PNG formatter, then the JPEG one, for each figure it displays: the
    # encoding chosen by the first call is kept for the second, so a figure is rendered once.
    pending: dict[int, tuple[str, bytes]] = {}

    def formatter(fmt: str) -> Callable[[Figure], str | None]:
        def encode(fig: Figure) -> str | None:
            if not fig.axes:
                return None
            if fmt == "png" or id(fig) not in pending:
                pending.clear()
                pending[id(fig)] = figure_bytes(fig)
            chosen, data = pending[id(fig)] if fmt == "png" else pending.pop(id(fig))
            return base64.b64encode(data).decode("ascii") if chosen == fmt else None

        return encode

    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, formatter("png"))
    formatters["image/jpeg"].for_type(Figure, formatter("jpeg"))


def setup_plots(dpi: int = 100) -> None:
    """Matplotlib defaults for lessons: figures at ``dpi`` (100: 10-pt text is 14 px high),
    stored as PNG, or as JPEG when the PNG would be large (``figure_bytes``)."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": dpi,
            "savefig.dpi": dpi,
            "figure.figsize": (6.0, 4.0),
            "axes.grid": False,
            "image.interpolation": "nearest",
            "figure.max_open_warning": 0,
        }
    )
    _use_compact_figure_formats()


def lesson_header(seed: int = DEFAULT_SEED, sizes: Mapping[str, Any] | None = None) -> torch.device:
    """Seed everything, set plot defaults and print what runs; return the device.

    Prints one line each for the profile, device, seed and versions, then the
    lesson's profile-dependent sizes. The printed text does not depend on
    the machine except for the device line, so stored outputs stay comparable
    (the test suite's sanitizer masks the device and versions).
    """
    profile = get_profile()
    device = get_device()
    seed_everything(seed)
    setup_plots()
    import torchvision

    print(f"profile : {profile}")
    print(f"device  : {device}")
    print(f"seed    : {seed}")
    print(
        f"versions: python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}"
    )
    if sizes:
        width = max(len(k) for k in sizes)
        for key, value in sizes.items():
            print(f"  {key:<{width}} = {value}")
    return device


def in_colab() -> bool:
    """True when running inside Google Colab."""
    try:
        import google.colab  # noqa: F401  (only importable on Colab)
    except ImportError:
        return False
    return True
