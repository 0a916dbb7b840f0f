"""Benchmark every lesson in the quick profile (not a test).

    python scripts/benchmark.py [notebooks/*.ipynb]     (or: make bench)

Runs each notebook in its own process (stored notebooks are not modified) and
prints a table: notebook, wall seconds, CPU seconds of the kernel (all cores;
on a busy machine CPU / cores estimates the idle wall time), peak RSS of the
kernel in MB, key metric. Writes the rows as JSON to benchmarks/quick.json,
replacing the rows of the notebooks it ran and keeping the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def run_one(path: Path) -> dict:
    """Execute one notebook in a child process; return its row of the table."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.jsonl"
        # The child runs the notebook, then prints the peak RSS of its own children (the kernel).
        code = (
            f"import sys, resource, pathlib; sys.path.insert(0, {str(HERE)!r}); from nbtools import execute; "
            f"execute(pathlib.Path({str(path)!r})); "
            "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print('PEAK_KB', r.ru_maxrss); print('CPU_S', r.ru_utime + r.ru_stime)"
        )
        env = dict(os.environ, CVLIB_METRICS_FILE=str(metrics_file), CVLIB_PROFILE="quick")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        cpu_s = next((float(l.split()[1]) for l in proc.stdout.splitlines() if l.startswith("CPU_S")), 0.0)
        peak_kb = next((int(l.split()[1]) for l in proc.stdout.splitlines() if l.startswith("PEAK_KB")), 0)
        metrics = [json.loads(line) for line in metrics_file.read_text().splitlines()] if metrics_file.exists() else []
    key = next((m for m in metrics if m.get("key")), metrics[0] if metrics else None)
    return {
        "notebook": path.name,
        "ok": proc.returncode == 0,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu_s, 1),  # the kernel's user + system CPU seconds (all cores together)
        "peak_rss_mb": round(peak_kb / 1024),  # the kernel's peak resident memory (Linux: kB)
        "key_metric": key["name"] if key else None,
        "value": round(key["value"], 4) if key else None,
        "checks": {m["name"]: round(m["value"], 4) for m in metrics},
        "error": None if proc.returncode == 0 else proc.stderr[-1500:],
    }


def main(paths: list[str]) -> int:
    rows = []
    print(f"{'notebook':<34} {'ok':<4} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}  key metric")
    for name in paths:
        row = run_one(Path(name).resolve())
        rows.append(row)
        metric = f"{row['key_metric']} = {row['value']}" if row["key_metric"] else "-"
        print(
            f"{row['notebook']:<34} {'yes' if row['ok'] else 'NO':<4} {row['wall_s']:>7} {row['cpu_s']:>7} {row['peak_rss_mb']:>8}  {metric}",
            flush=True,
        )
        if row["error"]:
            print(row["error"])
    out = REPO / "benchmarks" / "quick.json"
    out.parent.mkdir(exist_ok=True)
    # Benchmarking some notebooks updates their rows and keeps the others' earlier rows.
    previous = json.loads(out.read_text()).get("rows", []) if out.exists() else []
    ran = {row["notebook"] for row in rows}
    merged = sorted([r for r in previous if r["notebook"] not in ran] + rows, key=lambda r: r["notebook"])
    out.write_text(json.dumps({"cpu_count": os.cpu_count(), "rows": merged}, indent=2))
    print(f"written {out.relative_to(REPO)}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(str(p) for p in (REPO / "notebooks").glob("*.ipynb"))))
