#!/usr/bin/env bash
# The prepared GPU check (issue 18): everything is compiled here, then one short run on a GPU
# machine that has no network and no Rust toolchain.
#
#   scripts/gpu-check.sh prepare   # here: build, strip and pack the binaries into .gpu/
#   scripts/gpu-check.sh run       # there, from a copy of the tree with .gpu/: run the checks
#
# `prepare` builds the `bench` and `enas_micro` examples with `--features wgpu,remote,cuda` in
# the `backends` profile (the feature set and profile `.ci/run` already builds, so it reuses
# CI's compiled dependencies; scripts/offline-llvm.sh stands in for the LLVM download), strips
# them and packs both into one xz archive whose dictionary spans both binaries (they share
# LLVM, burn and cubecl: the second costs little). It also copies the PyTorch reference of the
# micro step (../shared/bench/enas_micro_step.py, or $ENAS_MICRO_STEP_PY) and downloads the
# Vulkan/GL loader packages (Debian's libvulkan1 and libglvnd) that wgpu needs on a machine
# with an NVIDIA driver and no loader. Everything lands in .gpu/ (ignored by git): copy it with
# the tree. The binaries are built here, so the GPU machine needs glibc 2.36 or later.
#
# `run` unpacks the binaries and runs, in this order, each under a time limit and all within
# $GPU_CHECK_BUDGET seconds (default 450; what does not fit is skipped and says so):
#
#   1. the GPU's name, driver and memory (nvidia-smi);
#   2. flex-vs-cuda equivalence: every training workload (micro, macro, child, plain) and the
#      scoring pass from the same weights and inputs, 3 steps at small sizes, losses within
#      1e-2 of the CPU's (`bench --compare-with flex`), and every supernet op's forward output
#      at the reference sizes (`bench --workload ops --compare-with flex`);
#   3. the bench workloads on cuda at the ENAS paper's sizes and the reference sizes
#      (`bench --sizes paper|reference`), and their PyTorch twins on the same GPU;
#   4. one round of `enas_micro --preset paper` on cuda on CIFAR-10-shaped random data (the real
#      CIFAR-10 cannot be downloaded there; timing does not depend on the pixels), a 20,000-image
#      training set (one epoch is 94 of the paper's 282 steps of 160), no retraining, with its
#      timestamped log;
#   5. the micro workloads and the equivalence check on wgpu (Vulkan on the same GPU);
#   6. the projected cost of the full paper search: 150 epochs of 282 shared-weight steps of 160
#      images and 30 controller updates of 10 scored samples each, from the bench's step times
#      and from the enas_micro round.
#
# Output goes to $OUT (the device tool's folder) or .gpu/out: gpu-check.log, and the
# enas_micro run's summary.json and history.csv. Results are written up in docs/performance.md.
set -uo pipefail
cd "$(dirname "$0")/.."

GPU_DIR=.gpu
ARCHIVE=$GPU_DIR/binaries.tar.xz

prepare() {
  set -e
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burn-nas-target}"
  scripts/offline-llvm.sh
  cargo build --profile backends --features wgpu,remote,cuda --example bench --example enas_micro
  mkdir -p "$GPU_DIR/stage"
  for bin in bench enas_micro; do
    cp "$CARGO_TARGET_DIR/backends/examples/$bin" "$GPU_DIR/stage/$bin"
    strip "$GPU_DIR/stage/$bin"
  done
  # One solid archive, a dictionary larger than both binaries together.
  tar -C "$GPU_DIR/stage" -cf - bench enas_micro |
    xz -9e --lzma2=preset=9e,dict=512MiB -T1 >"$ARCHIVE.tmp"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  rm -rf "$GPU_DIR/stage"
  local reference="${ENAS_MICRO_STEP_PY:-../shared/bench/enas_micro_step.py}"
  if [ -f "$reference" ]; then
    install -m 644 "$reference" "$GPU_DIR/enas_micro_step.py"
  else
    echo "warning: $reference not found: the check runs without the PyTorch micro twin" >&2
  fi
  mkdir -p "$GPU_DIR/gl" /tmp/gpu-check-apt/partial
  local apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64
    -oDir::State::Lists=/tmp/gpu-check-apt)
  (apt-get "${apt_opts[@]}" update -qq &&
    cd "$GPU_DIR/gl" &&
    apt-get "${apt_opts[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 \
      libgles2) >/dev/null 2>&1 ||
    echo "warning: could not download the Vulkan loader: the wgpu part may find no GPU" >&2
  du -sh "$GPU_DIR"
}

OUT_DIR="${OUT:-$GPU_DIR/out}"
LOG="$OUT_DIR/gpu-check.log"

run_checks() {
  local out=$OUT_DIR log=$LOG
  local budget="${GPU_CHECK_BUDGET:-450}"
  local start=$SECONDS
  local bin=/tmp/gpu-check-bin

  # step NAME LIMIT COMMAND...: run COMMAND under LIMIT seconds unless the budget is spent.
  step() {
    local name=$1 limit=$2
    shift 2
    local left=$((budget - (SECONDS - start)))
    if [ "$left" -lt 10 ]; then
      echo "== $name: skipped (budget of ${budget} s spent)"
      return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit} s, at $((SECONDS - start)) s)"
    local t0=$SECONDS
    timeout "$limit" "$@" 2>&1 | grep -v -e XDG_RUNTIME_DIR -e '^$'
    local rc=${PIPESTATUS[0]}
    echo "-- $name: exit $rc in $((SECONDS - t0)) s"
  }

  echo "gpu-check $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  mkdir -p "$bin"
  if command -v xz >/dev/null; then
    xz -dc "$ARCHIVE" | tar -x -C "$bin"
  else
    python3 -c "import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" \
      "$ARCHIVE" "$bin"
  fi
  # The driver (libcuda) and, should cubecl compile through NVRTC, the toolkit's libnvrtc.
  export LD_LIBRARY_PATH="/usr/local/nvidia/lib64:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  ls -d /usr/local/cuda/lib64/libnvrtc.so* >/dev/null 2>&1 || echo "note: no libnvrtc in /usr/local/cuda/lib64"
  local bench="$bin/bench" enas="$bin/enas_micro"
  local small=(--batch 8 --channels 4 --hw 16 --layers 2 --steps 3)

  for w in micro plain score macro child; do
    step "equivalence $w cuda/flex" 90 "$bench" --workload "$w" --device cuda --compare-with flex "${small[@]}"
  done
  step "op equivalence cuda/flex, reference sizes" 60 "$bench" --workload ops --device cuda --compare-with flex

  for w in micro score child macro; do
    step "bench $w cuda paper" 90 "$bench" --workload "$w" --device cuda --sizes paper --steps 10
  done
  if [ -f "$GPU_DIR/enas_micro_step.py" ]; then
    step "torch micro cuda paper" 60 python3 "$GPU_DIR/enas_micro_step.py" --device cuda --batch 160 --steps 10
  fi
  step "torch macro cuda paper" 60 python3 benches/enas_macro_step.py --device cuda --batch 128 --steps 10

  step "fake CIFAR-10" 60 python3 - <<'PY'
import os, random
rng = random.Random(0)
os.makedirs("/tmp/cifar10", exist_ok=True)
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    records = bytearray(os.urandom(10000 * 3073))
    for r in range(10000):
        records[r * 3073] = rng.randrange(10)  # the label byte
    with open(f"/tmp/cifar10/{name}", "wb") as f:
        f.write(records)
print("50,000 + 10,000 random CIFAR-10 records in /tmp/cifar10")
PY
  # The search's own log lines, timestamped (a plain -vv would log every crate's debug lines).
  step "enas_micro --preset paper, 1 round, cuda" 200 env \
    RUST_LOG=warn,burn_nas_search=debug,burn_nas_estimator=info,burn_nas_data=info "$enas" \
    --preset paper --dataset cifar10 --data-dir /tmp/cifar10 --device cuda --train-images 20000 \
    --rounds 1 --retrain-epochs 0 --out /tmp/enas-paper --overwrite -q
  for f in summary.json history.csv; do
    [ -f "/tmp/enas-paper/$f" ] && cp "/tmp/enas-paper/$f" "$out/enas_paper_$f"
  done

  for w in micro score child macro; do
    step "bench $w cuda reference" 60 "$bench" --workload "$w" --device cuda --steps 10
  done
  if [ -f "$GPU_DIR/enas_micro_step.py" ]; then
    step "torch micro cuda reference" 60 python3 "$GPU_DIR/enas_micro_step.py" --device cuda --steps 10
  fi
  step "torch macro cuda reference" 60 python3 benches/enas_macro_step.py --device cuda --steps 10

  # The Vulkan loader, only where the machine has none (unpacked into /: it is a bare,
  # throwaway machine).
  if ! ldconfig -p | grep -q libvulkan.so.1 && ls "$GPU_DIR"/gl/*.deb >/dev/null 2>&1; then
    for f in "$GPU_DIR"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  step "equivalence micro wgpu/flex" 90 "$bench" --workload micro --device wgpu --compare-with flex "${small[@]}"
  step "bench micro wgpu paper" 90 "$bench" --workload micro --device wgpu --sizes paper --steps 10
  step "bench micro wgpu reference" 60 "$bench" --workload micro --device wgpu --steps 10

  echo "== projection of the full paper search (150 epochs x (282 steps of 160 + 300 scored samples))"
  python3 - "$log" <<'PY'
import re, sys, datetime
text = open(sys.argv[1]).read()
def median(name):
    m = re.search(rf"^{name} burn-nas\S* device=cuda\S* batch=160 .*median_step_s=([0-9.]+)", text, re.M)
    return float(m.group(1)) if m else None
step, score = median("enas_micro_step"), median("enas_score")
if step and score:
    hours = 150 * (282 * step + 300 * score) / 3600
    print(f"from bench: step {step:.4f} s, score {score:.4f} s -> {hours:.2f} GPU-hours "
          f"(shared-weight training {150*282*step/3600:.2f} h, scoring {150*300*score/3600:.2f} h; "
          "controller updates not counted)")
else:
    print("from bench: missing paper-size step or score timing")
stamps = [(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")), rest) for t, rest in
          re.findall(r"^\[(\S+Z) \w+\s+\S+\] (.*)$", text, re.M)]
epoch = [t for t, r in stamps if "epoch 1 trained" in r]
updates = [t for t, r in stamps if re.match(r"round 0 update \d+:", r)]
if epoch and stamps:
    begin = stamps[0][0]
    train = (epoch[0] - begin).total_seconds()
    line = f"from enas_micro: first epoch of 94 steps {train:.0f} s (kernel compilation included)"
    if len(updates) >= 2:
        per_update = (updates[-1] - updates[0]).total_seconds() / (len(updates) - 1)
        hours = 150 * (train * 282 / 94 + 30 * per_update) / 3600
        line += (f", {per_update:.1f} s per controller update of 10 ({len(updates)} seen) -> "
                 f"{hours:.2f} GPU-hours")
    print(line)
else:
    print("from enas_micro: its first epoch did not finish in time")
PY
  echo "gpu-check done in $((SECONDS - start)) s"
}

case "${1:-}" in
prepare) prepare ;;
run)
  mkdir -p "$OUT_DIR"
  run_checks 2>&1 | tee "$LOG"
  ;;
*)
  echo "usage: scripts/gpu-check.sh prepare|run" >&2
  exit 2
  ;;
esac
