"""Point the course at another GitHub repository (a fork): Colab badges and Colab setup cells.

    python scripts/set_repo_url.py https://github.com/<you>/<your-fork>

The repository URL lives in one place, ``REPO_URL`` in scripts/nbtools.py; every lesson's
Open-in-Colab badge and Colab setup cell (``%pip install git+<url>.git``) must match it
(tests/test_notebooks.py checks). This script rewrites all of them and REPO_URL. The setup
cell's install line runs only in Colab, so the stored outputs stay valid: the notebooks'
source hashes are recomputed instead of re-running every lesson.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from nbtools import HASH_KEY, REPO_URL, source_hash

REPO = HERE.parent


def main(new_url: str) -> int:
    new_url = new_url.rstrip("/").removesuffix(".git")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", new_url):
        print(f"expected https://github.com/<owner>/<repo>, got {new_url!r}")
        return 2
    old_slug, new_slug = REPO_URL.removeprefix("https://github.com/"), new_url.removeprefix("https://github.com/")
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        had_hash = nb.metadata.get(HASH_KEY, {}).get("source_hash") == source_hash(nb)
        for cell in nb.cells:
            cell.source = cell.source.replace(REPO_URL, new_url).replace(f"github/{old_slug}/", f"github/{new_slug}/")
        if had_hash:
            nb.metadata[HASH_KEY] = {"source_hash": source_hash(nb)}
        nbformat.write(nb, path)
    for path in (REPO / "README.md", REPO / "CONTRIBUTING.md"):
        text = path.read_text()
        path.write_text(text.replace(REPO_URL, new_url).replace(f"github/{old_slug}/", f"github/{new_slug}/"))
    tools = HERE / "nbtools.py"
    tools.write_text(tools.read_text().replace(f'REPO_URL = "{REPO_URL}"', f'REPO_URL = "{new_url}"'))
    print(f"course now points at {new_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]) if len(sys.argv) == 2 else (print(__doc__) or 2))
