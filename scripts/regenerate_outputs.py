"""Regenerate the stored outputs of lessons (the nbval reference), in the quick profile.

    python scripts/regenerate_outputs.py notebooks/*.ipynb     (or: make outputs)

Each notebook is executed top to bottom in a fresh kernel; on success its
outputs are stored, per-run metadata is stripped, and the hash of its code is
recorded so the test suite can tell when stored outputs are stale. A notebook
that fails is left unchanged and the script exits non-zero.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import HASH_KEY, execute, source_hash, strip_volatile


def main(paths: list[str]) -> int:
    failed = []
    for name in paths:
        path = Path(name)
        start = time.perf_counter()
        print(f"running {path} ...", flush=True)
        try:
            nb = execute(path)
        except Exception as err:  # noqa: BLE001  (report and go on with the next notebook)
            print(f"  FAILED: {type(err).__name__}: {str(err)[-2000:]}", flush=True)
            failed.append(name)
            continue
        strip_volatile(nb)
        nb.metadata[HASH_KEY] = {"source_hash": source_hash(nb)}
        nbformat.write(nb, path)
        size_kb = path.stat().st_size / 1024
        print(f"  stored outputs in {time.perf_counter() - start:.0f} s ({size_kb:.0f} KB)", flush=True)
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(str(p) for p in Path("notebooks").glob("*.ipynb"))))
