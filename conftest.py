"""pytest configuration for the whole repository (unit tests and nbval).

nbval executes notebook cells with ``store_history=False``. IPython decides
whether a trailing ``;`` hides a cell's result by looking at the input
history, so under nbval ``show_images(...);`` still produces an
``execute_result`` (a second copy of the figure) that Jupyter, nbclient and
the stored outputs do not have. We make nbval run cells the way Jupyter does.
"""

import os

from nbval.kernel import RunningKernel

# Notebook kernels inherit this environment: they must use Jupyter's inline
# matplotlib backend, as when the stored outputs were made.
os.environ.pop("MPLBACKEND", None)


def _execute_like_jupyter(self, cell_input, allow_stdin=None):
    return self.kc.execute(cell_input, allow_stdin=allow_stdin, store_history=True, stop_on_error=False)


RunningKernel.execute_cell_input = _execute_like_jupyter
