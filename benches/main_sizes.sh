#!/usr/bin/env bash
# burn-nas against the PyTorch reference at the sizes the README's main command runs
# (`enas_micro`, fast preset): its shared-weight search step (batch 32, L = 2, C = 8, 14×14)
# and its scoring pass (128 validation images of that supernet), interleaved round by round so
# that both see the same machine; then burn-nas's retraining step (batch 64, L = 3, C = 16,
# 14×14; no PyTorch twin). Prints each median step per round and the ratio of the medians
# (PyTorch over burn-nas: above 1, burn-nas is faster).
#
# usage: benches/main_sizes.sh [ROUNDS] [PYTHON]
#   ROUNDS  interleaved rounds (default 5)
#   PYTHON  a Python with torch (default /work/torchenv/bin/python)
# Build first: cargo build --release --example bench (CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
python=${2:-/work/torchenv/bin/python}
bench=${CARGO_TARGET_DIR:-target}/release/examples/bench
reference=../shared/bench/enas_micro_step.py
export RAYON_NUM_THREADS=2
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
step() { grep -o 'median_step_s=[0-9.]*' | cut -d= -f2; }
declare -A runs
for _ in $(seq "$rounds"); do
  runs[burn_search]+="$("$bench" --sizes main --threads 2 --steps 20 | step) "
  runs[torch_search]+="$("$python" "$reference" --batch 32 --channels 8 --layers 2 --hw 14 --threads 2 --steps 20 | step) "
  runs[burn_score]+="$("$bench" --sizes main --workload score --threads 2 --steps 20 | step) "
  runs[torch_score]+="$("$python" benches/ops_profile.py --score --batch 128 --channels 8 --layers 2 --hw 14 --threads 2 --steps 20 --reference "$reference" | step) "
done
for w in search score; do
  b=$(tr ' ' '\n' <<<"${runs[burn_$w]}" | grep . | median)
  t=$(tr ' ' '\n' <<<"${runs[torch_$w]}" | grep . | median)
  echo "$w: burn-nas ${runs[burn_$w]}(median $b s)  PyTorch ${runs[torch_$w]}(median $t s)  PyTorch/burn-nas $(awk -v b="$b" -v t="$t" 'BEGIN {printf "%.2f", t / b}')x"
done
"$bench" --sizes main --workload child --threads 2 --steps 10
