"""Benchmark every lesson in the quick profile (not a test).

    python scripts/benchmark.py [notebooks/*.ipynb]     (or: make bench)

Runs each notebook in its own process (stored notebooks are not modified) and
prints a table: notebook, wall seconds, peak RSS of the kernel in MB, key
metric. Writes the rows as JSON to benchmarks/quick.json.
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
            "import sys, resource, pathlib; sys.path.insert(0, %r); from nbtools import execute; "
            "execute(pathlib.Path(%r)); "
            "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)" % (str(HERE), str(path))
        )
        env = dict(os.environ, CVLIB_METRICS_FILE=str(metrics_file), CVLIB_PROFILE="quick")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        peak_kb = next((int(l.split()[1]) for l in proc.stdout.splitlines() if l.startswith("PEAK_KB")), 0)
        metrics = [json.loads(line) for line in metrics_file.read_text().splitlines()] if metrics_file.exists() else []
    key = next((m for m in metrics if m.get("key")), metrics[0] if metrics else None)
    return {
        "notebook": path.name,
        "ok": proc.returncode == 0,
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak_kb / 1024),  # the kernel's peak resident memory (Linux: kB)
        "key_metric": key["name"] if key else None,
        "value": round(key["value"], 4) if key else None,
        "checks": {m["name"]: round(m["value"], 4) for m in metrics},
        "error": None if proc.returncode == 0 else proc.stderr[-1500:],
    }


def main(paths: list[str]) -> int:
    rows = []
    print(f"{'notebook':<34} {'ok':<4} {'wall s':>7} {'peak MB':>8}  key metric")
    for name in paths:
        row = run_one(Path(name).resolve())
        rows.append(row)
        metric = f"{row['key_metric']} = {row['value']}" if row["key_metric"] else "-"
        print(f"{row['notebook']:<34} {'yes' if row['ok'] else 'NO':<4} {row['wall_s']:>7} {row['peak_rss_mb']:>8}  {metric}", flush=True)
        if row["error"]:
            print(row["error"])
    out = REPO / "benchmarks" / "quick.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cpu_count": os.cpu_count(), "rows": rows}, indent=2))
    print(f"written {out.relative_to(REPO)}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(str(p) for p in (REPO / "notebooks").glob("*.ipynb"))))
