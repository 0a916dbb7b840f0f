"""pytest configuration for the whole repository (unit tests and nbval).

nbval drives the notebook kernels through ``scripts/nbtools.install_nbval_guard``:
cells run as in Jupyter (history on, so a trailing ``;`` hides a result), and a
kernel that sits idle without replying fails the cell in about a minute with
"kernel idle, no reply" instead of waiting for the whole cell timeout (issue 19).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "scripts"))
from nbtools import install_nbval_guard

# Notebook kernels inherit this environment: they must use Jupyter's inline
# matplotlib backend, as when the stored outputs were made.
os.environ.pop("MPLBACKEND", None)

install_nbval_guard()
