"""Shared notebook tooling: execute a lesson, strip volatile metadata, hash its sources.

Used by ``regenerate_outputs.py`` (stores outputs), ``benchmark.py`` (times lessons)
and ``tests/test_notebooks.py`` (checks stored outputs are present and current).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
HASH_KEY = "cvlib"  # notebook metadata key holding {"source_hash": ...}


def source_hash(nb: nbformat.NotebookNode) -> str:
    """SHA-256 over the notebook's code-cell sources and tags (what the stored outputs depend on)."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode())
            digest.update(repr(sorted(cell.get("metadata", {}).get("tags", []))).encode())
            digest.update(b"\0")
    return digest.hexdigest()


def strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Remove per-run metadata (timestamps, widget state) so stored notebooks diff cleanly."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


def execute(path: Path, *, timeout: int = 1800, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom in the quick profile (working folder: notebooks/)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ["CVLIB_PROFILE"] = "quick"
    os.environ.pop("MPLBACKEND", None)  # the kernel uses Jupyter's inline backend
    os.environ.update(env or {})
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(Path(path).resolve().parent)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb
