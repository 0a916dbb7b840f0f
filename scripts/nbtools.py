"""Shared notebook tooling: execute a lesson, strip volatile metadata, hash its sources,
and keep notebook runs from hanging on a lost kernel reply (issue 19).

Used by ``regenerate_outputs.py`` (stores outputs), ``benchmark.py`` (times lessons),
``kernel_stress.py`` (the hang harness), ``tests/test_notebooks.py`` (stored outputs are
present and current), ``tests/test_rehearsal.py`` (full profile) and the repository's
``conftest.py`` (``install_nbval_guard`` for the test command).
"""

from __future__ import annotations

import collections
import hashlib
import html
import os
import re
import time
from pathlib import Path
from queue import Empty

import nbformat

REPO = Path(__file__).resolve().parent.parent
HASH_KEY = "cvlib"  # notebook metadata key holding {"source_hash": ...}
# The course's GitHub repository: Colab badges and Colab setup cells use it (scripts/set_repo_url.py).
REPO_URL = "https://github.com/cvlib-course/cv-course"


def source_hash(nb: nbformat.NotebookNode) -> str:
    """SHA-256 over the notebook's code-cell sources and tags (what the stored outputs depend on)."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode())
            digest.update(repr(sorted(cell.get("metadata", {}).get("tags", []))).encode())
            digest.update(b"\0")
    return digest.hexdigest()


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# the kernelspec a course install reports (ipykernel's "python3"), so opening a lesson changes nothing
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def progress_text(states: dict, model_id: str) -> str | None:
    """The final state of a ``tqdm.auto`` notebook bar as text, or None if ``model_id`` is no such bar.

    A tqdm bar is an ``HBox(HTML, FloatProgress, HTML)``; its stored ``text/plain`` is the text
    it had when first displayed ("0%"), which is all a static view (GitHub, nbviewer) shows.
    This rebuilds ``"desc: 100%|##########| 12/12 [00:03<00:00, 3.9it/s]"`` (with block
    characters) from the widgets' last state: the bar's value and maximum, and the right-hand
    text when it describes that value (a bar closed with ``leave=False`` keeps a stale text).
    """
    box = states.get(model_id)
    if not box or box.get("model_name") != "HBoxModel":
        return None
    kids = [states.get(str(c).removeprefix("IPY_MODEL_"), {}) for c in box.get("state", {}).get("children", [])]
    if [k.get("model_name") for k in kids] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None

    def text(k: dict) -> str:
        return html.unescape(str(k["state"].get("value", ""))).replace("\u2007", " ")

    left, right = text(kids[0]), text(kids[2])
    progress = kids[1]["state"]
    value, total = float(progress.get("value", 0) or 0), float(progress.get("max", 0) or 0)
    frac = min(max(value / total, 0.0), 1.0) if total > 0 else 0.0
    desc = re.sub(r"\s*\d+%\s*$", "", left).rstrip()
    full = int(10 * frac)
    bar = "\u2588" * full + " " * (10 - full)
    counts = f"{value:g}/{total:g}"
    match = re.match(r"\s*([0-9.]+)/([0-9.]+)\s*(\[.*\])", right)
    if match and float(match.group(1)) == value and float(match.group(2)) == total:
        tail = f" {counts} {match.group(3)}"
    else:
        tail = f" {counts} [{'stopped' if progress.get('bar_style') == 'danger' else 'final state'}]"
    return f"{desc + ' ' if desc else ''}{100 * frac:3.0f}%|{bar}|{tail}"


def strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Remove per-run metadata (timestamps, widget state) so stored notebooks diff cleanly.

    Before the widget state goes, each tqdm progress bar's stored text becomes its final
    state (:func:`progress_text`), so a static view shows "100%", not "0%". The kernelspec
    is set to what the installed kernel reports (:data:`KERNELSPEC`).
    """
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            model_id = output.get("data", {}).get(WIDGET_VIEW, {}).get("model_id")
            final = progress_text(states, model_id) if model_id else None
            if final is not None:
                output["data"]["text/plain"] = final
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


class KernelIdleNoReply(RuntimeError):
    """A cell's reply never came although the kernel is idle (not a slow cell).

    ``diagnosis`` holds what was seen: ``kind`` is one of
    ``request-not-read`` (no ``busy`` on IOPub: the kernel never picked the request up),
    ``reply-unread`` (the reply sits in the client's shell socket: a missed wake-up in the client),
    ``reply-lost`` (the kernel finished, ``idle`` on IOPub, but no reply reached the client),
    ``busy-but-idle-cpu`` (the kernel started the request, then used no CPU),
    ``still-computing`` (the kernel is using CPU: the cell is just slow; raised as a plain timeout).
    """

    def __init__(self, diagnosis: dict):
        self.diagnosis = diagnosis
        super().__init__(
            f"cell {diagnosis['cell_index']}: kernel idle, no reply after {diagnosis['timeout_s']:.0f} s "
            f"({diagnosis['kind']}: IOPub state {diagnosis['iopub_state']!r}, reply waiting in client socket: "
            f"{diagnosis['reply_in_socket']}, kernel CPU {diagnosis['kernel_cpu_percent']} %)"
        )


def diagnose(kc, km, iopub_state: str | None, timeout: float, cell_index: int) -> dict:
    """Tell a lost reply from a slow cell once a cell's timeout has expired (see KernelIdleNoReply)."""
    import zmq

    sock = kc.shell_channel.socket
    reply_in_socket = bool(sock is not None and sock.get(zmq.EVENTS) & zmq.POLLIN)
    try:
        import psutil

        cpu = round(psutil.Process(km.provisioner.process.pid).cpu_percent(interval=1.0), 1)
    except Exception:  # noqa: BLE001  (no process handle: leave it unknown)
        cpu = None
    if cpu is not None and cpu > 20 and iopub_state != "idle":
        kind = "still-computing"
    elif reply_in_socket:
        kind = "reply-unread"
    elif iopub_state == "idle":
        kind = "reply-lost"
    elif iopub_state is None:
        kind = "request-not-read"
    else:
        kind = "busy-but-idle-cpu"
    return {
        "kind": kind,
        "cell_index": cell_index,
        "timeout_s": timeout,
        "iopub_state": iopub_state,
        "reply_in_socket": reply_in_socket,
        "kernel_cpu_percent": cpu,
    }


def _safe_output_widget_class():
    from nbclient.jsonutil import json_clean
    from nbclient.output_widget import OutputWidget

    class SafeOutputWidget(OutputWidget):
        """nbclient's Output-widget mimic, sending its state updates through the asyncio socket.

        nbclient answers every output captured by an ``ipywidgets.Output`` with a ``comm_msg`` to
        the kernel on the shell channel, while it waits on that same socket for the cell's
        ``execute_reply``. ``Session.send`` writes on a *synchronous shadow* of the client's
        asyncio shell socket: libzmq processes the socket's pending commands on that send,
        which consumes the edge-triggered wake-up of a reply that has just arrived, and pyzmq's
        asyncio layer (bypassed) never re-checks. The reply then sits unread while both sides
        wait: the hang of issue 19 (upstream: jupyter/nbclient#312, jupyter/jupyter_client#1059,
        both open). Sending through the asyncio socket lets pyzmq re-check pending reads.
        """

        def _publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            content = json_clean(dict(data=data or {}, comm_id=self.comm_id, **keys))
            session = self.kernel_client.session
            msg = session.msg(msg_type, content=content, parent=self.parent_header, metadata=metadata or {})
            frames = session.serialize(msg) + list(buffers or [])
            # zmq.asyncio.Socket.send_multipart: sends at once, then re-arms any pending poll.
            self.kernel_client.shell_channel.socket.send_multipart(frames)

    return SafeOutputWidget


def _client_class(stock_output_widget: bool = False, slow_client_ms: float = 0.0, lost_reply_grace: float = 10.0):
    import asyncio
    import time as _time

    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    safe_widget = _safe_output_widget_class()
    grace = lost_reply_grace

    class DiagnosingClient(NotebookClient):
        """nbclient with the Output-widget fix, and "kernel idle, no reply" (KernelIdleNoReply) on a hang.

        ``stock_output_widget`` and ``slow_client_ms`` exist for scripts/kernel_stress.py only:
        the first restores nbclient's own widget mimic (the bug), the second makes the client
        spend that long on each captured output, as a client starved of CPU on a loaded machine does.
        """

        _iopub_state: str | None = None
        _idle_at: float | None = None
        _cell_index: int = -1
        #: seconds a reply may trail the kernel's ``idle`` before the run is declared hung
        lost_reply_grace: float = grace

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            widget = self.widget_registry["@jupyter-widgets/output"]["OutputModel"]
            if not stock_output_widget:
                widget = safe_widget
            if slow_client_ms:
                base = widget

                class SlowWidget(base):
                    def sync_state(self):
                        _time.sleep(slow_client_ms / 1000)
                        super().sync_state()

                widget = SlowWidget
            self.widget_registry["@jupyter-widgets/output"]["OutputModel"] = widget

        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            self._iopub_state, self._idle_at, self._cell_index = None, None, cell_index
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

        async def _async_poll_for_reply(self, msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive):
            # The kernel sends execute_reply before it publishes ``idle``: a reply still missing
            # ``lost_reply_grace`` seconds after ``idle`` was lost (nbclient alone would wait for
            # the whole cell timeout, then find it at its final poll, silently).
            reply = asyncio.ensure_future(
                super()._async_poll_for_reply(msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive)
            )
            while not reply.done():
                await asyncio.wait([reply], timeout=1.0)
                if not reply.done() and self._idle_at and _time.monotonic() - self._idle_at > self.lost_reply_grace:
                    d = diagnose(self.kc, self.km, self._iopub_state, self.lost_reply_grace, self._cell_index)
                    reply.cancel()
                    task_poll_kernel_alive.cancel()
                    raise KernelIdleNoReply(d)
            return reply.result()

        def process_message(self, msg, cell, cell_index):
            if msg["msg_type"] == "status":
                self._iopub_state = msg["content"]["execution_state"]
                if self._iopub_state == "idle":
                    self._idle_at = _time.monotonic()
            elif self._iopub_state is None:
                self._iopub_state = "busy"
            return super().process_message(msg, cell, cell_index)

        async def _async_handle_timeout(self, timeout, cell=None):
            d = diagnose(self.kc, self.km, self._iopub_state, timeout, self._cell_index)
            if d["kind"] == "still-computing":
                raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)
            raise KernelIdleNoReply(d)

    return DiagnosingClient


def execute(
    path: Path,
    *,
    timeout: int = 300,
    env: dict[str, str] | None = None,
    nb: nbformat.NotebookNode | None = None,
    stock_output_widget: bool = False,
    slow_client_ms: float = 0.0,
    lost_reply_grace: float = 10.0,
    profile: str = "quick",
) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom in ``profile`` (working folder: the notebook's).

    ``timeout`` is per cell; when it expires on an idle kernel, or a reply is still missing
    ``lost_reply_grace`` s after the kernel went idle, KernelIdleNoReply says so.
    ``stock_output_widget`` / ``slow_client_ms``: see ``_client_class`` (the stress harness only).
    """
    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ["CVLIB_PROFILE"] = profile
    os.environ.pop("MPLBACKEND", None)  # the kernel uses Jupyter's inline backend
    os.environ.update(env or {})
    try:
        client = _client_class(stock_output_widget, slow_client_ms, lost_reply_grace)(
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


# --- nbval guard: a lost kernel reply fails fast and says so (issue 19) -------------------------

NBVAL_SLICE_S = 2.0  # shell poll slice while nbval waits for a reply
_ORIGINAL: dict = {}


def nbval_idle_s() -> float:
    """Seconds a kernel may sit idle without replying before nbval's wait fails (``CVLIB_NBVAL_IDLE_S``, 60)."""
    return float(os.environ.get("CVLIB_NBVAL_IDLE_S", "60"))


def _kernel_cpu_seconds(kernel) -> float | None:
    """User + system CPU seconds of the kernel process and its children so far (None if unknown)."""
    try:
        import psutil

        proc = psutil.Process(kernel.km.provisioner.process.pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return total
    except Exception:  # noqa: BLE001  (no process handle: idle detection off, plain timeout applies)
        return None


def _get_message(self, stream, timeout=None):
    """nbval's get_message, serving IOPub messages drained during the reply wait first."""
    buffer = getattr(self, "_iopub_buffer", None)
    if stream == "iopub" and buffer:
        return buffer.popleft()
    return _ORIGINAL["get_message"](self, stream, timeout=timeout)


def _drain_iopub(self, msg_id: str) -> str | None:
    """Move waiting IOPub messages to the buffer; return this request's last status seen."""
    buffer = self.__dict__.setdefault("_iopub_buffer", collections.deque())
    while True:
        try:
            msg = self.kc.get_iopub_msg(timeout=0)
        except Empty:
            break
        buffer.append(msg)
        if msg["parent_header"].get("msg_id") == msg_id:
            if msg["msg_type"] == "status":
                self._request_state = msg["content"]["execution_state"]
            elif self._request_state is None:
                self._request_state = "busy"
    return self._request_state


def _await_reply(self, msg_id, timeout=None):
    """Wait for ``msg_id``'s reply; raise Empty after ``timeout`` s or once the kernel sat idle nbval_idle_s() s."""
    self._request_state = None
    start = last_busy = time.monotonic()
    cpu_before = _kernel_cpu_seconds(self)
    while True:
        wait = NBVAL_SLICE_S if timeout is None else max(0.0, min(NBVAL_SLICE_S, start + timeout - time.monotonic()))
        try:
            msg = _ORIGINAL["get_message"](self, "shell", timeout=wait)
        except Empty:
            state = _drain_iopub(self, msg_id)
            now = time.monotonic()
            cpu = _kernel_cpu_seconds(self)
            if cpu is None or cpu_before is None or cpu - cpu_before > 0.05 * NBVAL_SLICE_S:
                last_busy = now
            cpu_before = cpu
            if now - last_busy >= nbval_idle_s():
                kind = {None: "request-not-read", "idle": "reply-lost"}.get(state, "busy-but-idle-cpu")
                # (a reply waiting in the socket cannot be missed here: nbval polls with zmq_poll)
                err = KernelIdleNoReply(
                    {
                        "kind": kind,
                        "cell_index": getattr(self, "_cell_index", "?"),
                        "timeout_s": nbval_idle_s(),
                        "iopub_state": state,
                        "reply_in_socket": False,
                        "kernel_cpu_percent": 0.0,
                    }
                )
                print(f"{err}; stopping the kernel (see scripts/kernel_stress.py, issue 19)", flush=True)
                self.stop()
                raise err
            if timeout is not None and now - start >= timeout:
                raise
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            if msg["content"]["status"] == "aborted":
                raise RuntimeError("Kernel aborted execution request")
            return


def install_nbval_guard() -> None:
    """Patch nbval's kernel wrapper: run cells as Jupyter does, and fail fast on a lost reply.

    1. nbval executes cells with ``store_history=False``; IPython then ignores a trailing ``;``
       (``show_images(...);`` would store a second copy of the figure). Cells run as in Jupyter.
    2. nbval waits for ``execute_reply`` for the whole cell timeout and reads IOPub only
       afterwards. The wait below polls the shell channel in short slices; meanwhile it drains
       IOPub into a buffer that nbval reads first (a chatty cell cannot fill the subscriber's
       queue; nothing is lost) and watches the CPU time of the kernel and its children. When
       they used no CPU for ``nbval_idle_s()`` seconds and no reply came, the cell fails with
       KernelIdleNoReply ("kernel idle, no reply" and whether the kernel announced and finished
       the request); the kernel is stopped so the notebook's later cells fail at once instead of
       each waiting. No retry: the failure is reported, never hidden.
    """
    from nbval.kernel import RunningKernel

    if _ORIGINAL:
        return
    _ORIGINAL["get_message"] = RunningKernel.get_message
    RunningKernel.execute_cell_input = _execute_like_jupyter
    RunningKernel.get_message = _get_message
    RunningKernel.await_reply = _await_reply


def _execute_like_jupyter(self, cell_input, allow_stdin=None):
    self._cell_index = getattr(self, "_cell_index", 0) + 1
    return self.kc.execute(cell_input, allow_stdin=allow_stdin, store_history=True, stop_on_error=False)
