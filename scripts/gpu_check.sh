#!/usr/bin/env bash
# GPU check for a machine with CUDA (issue 11): prints one table.
#   (a) the quick suite on CUDA against the stored CPU outputs (nbval, notebooks/)
#   (b) the full-profile rehearsal on CUDA (tests/test_rehearsal.py)
#   (c) each lesson's real full configuration timed over its first training steps and
#       extrapolated to the lesson's full run (scripts/full_timing.py; no lesson uses AMP)
# Usage: bash scripts/gpu_check.sh        (after `make setup`; under 10 minutes on one datacenter GPU)
# Options (environment):
#   GPU_CHECK_LOGS=dir     keep each check's full pytest output there (which cells differ, and how)
#   GPU_CHECK_PARALLEL=1   run (a), (b) and the device rule at the same time (a machine with many
#                          cores: their wall times then overlap); (c) always runs alone, after them
#   TIMING_LESSONS="09 10" time only these lessons in (c)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
  echo "no CUDA device visible to $PY: this script is for a GPU machine" >&2; exit 2; }
GPU=$("$PY" -c "import torch; print(torch.cuda.get_device_name(0))")
LOGS=${GPU_CHECK_LOGS:-$(mktemp -d)}
mkdir -p "$LOGS"
run() {  # key, name, then the pytest arguments; writes one table row to $LOGS/<key>.row
  local key=$1 name=$2; shift 2
  local start=$(date +%s)
  CVLIB_DEVICE=cuda "$PY" -m pytest -q -rf -p no:cacheprovider "$@" >"$LOGS/$key.log" 2>&1
  printf '| %-38s | %-48s | %6s s |\n' "$name" "$(tail -1 "$LOGS/$key.log")" "$(( $(date +%s) - start ))" >"$LOGS/$key.row"
}
echo "GPU: $GPU"
checks=(
  "a|(a) quick lessons on CUDA vs CPU outputs|notebooks/ --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=300"
  "b|(b) full-profile rehearsal on CUDA|tests/test_rehearsal.py"
  "c|device rule on CUDA|tests/test_device_rule.py"
)
for entry in "${checks[@]}"; do
  IFS='|' read -r key name args <<<"$entry"
  # shellcheck disable=SC2086  # args is a word list
  if [ "${GPU_CHECK_PARALLEL:-0}" = 1 ]; then run "$key" "$name" $args & else run "$key" "$name" $args; fi
done
wait
echo "| check                                  | result                                           |   wall   |"
echo "|----------------------------------------|--------------------------------------------------|----------|"
cat "$LOGS/a.row" "$LOGS/b.row" "$LOGS/c.row"
echo
echo "(c) full-profile training time, timed on $GPU and extrapolated:"
# shellcheck disable=SC2086
CVLIB_DEVICE=cuda "$PY" scripts/full_timing.py --device cuda --steps 10 --warmup 3 --estimate-tflops 4 \
  ${TIMING_LESSONS:+--lessons $TIMING_LESSONS}
