"""Small fixtures in the real on-disk and archive formats of the ``full`` datasets, and a local server.

Used by the download tests and by the full-profile rehearsal (tests/test_rehearsal.py):
each writer produces what the real dataset host serves or what the real dataset
leaves on disk, only with few, tiny images. :class:`LocalMirror` serves a folder on
127.0.0.1 in the layout ``cvlib.config.cvlib_url`` expects (``<mirror>/<host>/<path>``).
"""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import struct
import threading
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def jpeg_bytes(rng: np.random.Generator, size: tuple[int, int] = (24, 18), tint: int | None = None) -> bytes:
    """A small random RGB JPEG (``size`` = (width, height)); ``tint`` sets the red channel."""
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    if tint is not None:
        pixels[..., 0] = tint
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def hymenoptera_zip(path: Path, counts: dict[str, int] | None = None, seed: int = 0) -> Path:
    """``hymenoptera_data.zip`` as download.pytorch.org serves it: hymenoptera_data/{train,val}/{ants,bees}/*.jpg.

    ``counts`` = images per class for each split (default: the verification minimums, 100 / 60).
    """
    counts = counts or {"train": 100, "val": 60}
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for split, n in counts.items():
            for cls in ("ants", "bees"):
                zf.writestr(f"hymenoptera_data/{split}/{cls}/", "")
                for i in range(n):
                    tint = 230 if cls == "ants" else 20  # a learnable difference
                    zf.writestr(f"hymenoptera_data/{split}/{cls}/{i:04d}_{cls}.jpg", jpeg_bytes(rng, tint=tint))
    return path


def mnist_raw(folder: Path, n_train: int = 256, n_test: int = 128, seed: int = 0) -> Path:
    """MNIST's four gzipped idx files (the format of the official mirrors), digits drawn as bars.

    Writes ``<folder>/train-images-idx3-ubyte.gz`` etc. Each class is a distinct pattern,
    so a small network can learn it.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
        for i, y in enumerate(labels):
            images[i, 4 + 2 * y : 6 + 2 * y, 4:24] = 255  # a horizontal bar whose height codes the class
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return folder


class LocalMirror:
    """Serve ``root`` over HTTP on 127.0.0.1 (a thread); ``url`` is the value for ``CVLIB_MIRROR``.

    Records the paths requested in ``requests``. Use as a context manager.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 (http.server's name)
                mirror.requests.append(self.path)
                super().do_GET()

        handler = functools.partial(Handler, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalMirror:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
