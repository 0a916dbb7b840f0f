#!/usr/bin/env bash
# GPU check for a machine with CUDA (issue 11): prints one table.
#   (a) the quick suite on CUDA against the stored CPU outputs (nbval, notebooks/)
#   (b) the full-profile rehearsal on CUDA (tests/test_rehearsal.py)
#   (c) each lesson's real full configuration timed over its first training steps and
#       extrapolated to the lesson's full run (scripts/full_timing.py; no lesson uses AMP)
# Usage: bash scripts/gpu_check.sh        (after `make setup`; under 10 minutes on one datacenter GPU)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
  echo "no CUDA device visible to $PY: this script is for a GPU machine" >&2; exit 2; }
GPU=$("$PY" -c "import torch; print(torch.cuda.get_device_name(0))")
run() {  # name, then the pytest arguments; prints one table row
  local name=$1; shift
  local start=$(date +%s)
  local out; out=$(CVLIB_DEVICE=cuda "$PY" -m pytest -q -p no:cacheprovider "$@" 2>&1 | tail -1)
  printf '| %-38s | %-48s | %6s s |\n' "$name" "$out" "$(( $(date +%s) - start ))"
}
echo "GPU: $GPU"
echo "| check                                  | result                                           |   wall   |"
echo "|----------------------------------------|--------------------------------------------------|----------|"
run "(a) quick lessons on CUDA vs CPU outputs" notebooks/ --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300
run "(b) full-profile rehearsal on CUDA" tests/test_rehearsal.py
run "device rule on CUDA" tests/test_device_rule.py
echo
echo "(c) full-profile training time, timed on $GPU and extrapolated:"
CVLIB_DEVICE=cuda "$PY" scripts/full_timing.py --device cuda --steps 10 --warmup 3 --estimate-tflops 4
