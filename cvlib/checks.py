"""Check cells: assert what the learner must obtain, print it in a stable form.

A check prints one line such as::

    CHECK test accuracy = 0.981 (required >= 0.97): ok

The measured value is shown to the learner; the test suite's nbval sanitizer
masks the number after ``=`` (it can differ in the last digits between CPU
and CUDA), so the stored output compares the *requirement and the verdict*.
The assertion itself always uses the exact value.

In the full-profile rehearsal (``CVLIB_REHEARSAL=1``: every lesson runs in ``full`` on
fixture data and random-init weights, tests/test_rehearsal.py) no metric threshold can
hold, so a missed threshold prints ``not asserted in rehearsal`` instead of failing;
everything else (shapes, files, devices, downloads) still fails the run.

If ``CVLIB_METRICS_FILE`` is set (the benchmark script sets it), each check
also appends ``{"name": ..., "value": ...}`` to that JSON-lines file, so the
benchmark table reports the lesson's key metric without parsing outputs.
"""

from __future__ import annotations

import json
import math
import os


def record_metric(name: str, value: float, key: bool = False) -> None:
    """Append a metric to ``$CVLIB_METRICS_FILE`` (JSON lines) if that variable is set.

    ``key=True`` marks the lesson's key metric (the benchmark table's column).
    """
    path = os.environ.get("CVLIB_METRICS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": name, "value": float(value), "key": key}) + "\n")


def check(
    name: str,
    value: float,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    digits: int = 3,
    key: bool = False,
) -> None:
    """Assert ``at_least <= value <= at_most``, print the result rounded, record it.

    Args:
        name: what is measured, as the learner reads it ("test accuracy").
        value: the measured number (a Python float or a 0-d tensor).
        at_least / at_most: the bounds; at least one must be given.
        digits: decimals printed.
        key: this is the lesson's key metric (shown in the benchmark table).

    Returns nothing, so a check as the last line of a cell shows only its printed line.

    Raises:
        AssertionError: with the measured value and what was required.
    """
    if at_least is None and at_most is None:
        raise ValueError("check() needs at_least=, at_most= or both: a check that cannot fail is no check.")
    value = float(value)
    parts = []
    if at_least is not None:
        parts.append(f">= {at_least:g}")
    if at_most is not None:
        parts.append(f"<= {at_most:g}")
    requirement = " and ".join(parts)
    ok = not math.isnan(value)
    ok = ok and (at_least is None or value >= at_least) and (at_most is None or value <= at_most)
    record_metric(name, value, key)
    line = f"CHECK {name} = {value:.{digits}f} (required {requirement})"
    if not ok and os.environ.get("CVLIB_REHEARSAL") == "1":
        print(f"{line}: not asserted in rehearsal (fixture data, random-init weights)")
        return
    if not ok:
        raise AssertionError(
            f"{line}: FAILED. The lesson did not reach its expected result; "
            "re-run it from the top (Kernel > Restart and run all) and report it if it fails again."
        )
    print(f"{line}: ok")
