#!/usr/bin/env bash
# GPU check of kvae under JAX and torch, within 10 minutes.
#
# The GPU machine's image has JAX and torch with CUDA (and absl-py, h5py,
# ml-dtypes, packaging, rich, pytest) but neither keras nor TensorFlow, and
# nothing can be fetched there. So the check runs in two steps:
#
#   benchmarks/gpu_check.sh --prepare   # here, with network: fills .whl/
#                                       # (keras, namex, optree wheels for
#                                       # CPython 3.12) and .data/mnist/
#   benchmarks/gpu_check.sh             # there (carry .whl and .data):
#                                       # installs the wheels, runs a small
#                                       # part of the test suite and
#                                       # benchmarks/train_speed.py under
#                                       # JAX and torch (and the plain
#                                       # PyTorch loop), conv VAE and
#                                       # 64x64 residual VAE, at batch 128
#                                       # and 1024, float32 and mixed
#                                       # precision (each backend's "auto"
#                                       # choice is one of them), and
#                                       # writes docs/BENCHMARKS.md
#
# Time limits: 45 s for the tests per backend, 200 s for each
# train_speed.py run (95 s per backend inside it; a slower backend is
# reported as failed), so the whole check ends within 10 minutes even when
# a step hangs. Both folders are git-ignored. Without a GPU the check still
# runs, says so, and shrinks to a short CPU version (QUICK=1 forces that
# too), so it can be tried anywhere. When $OUT is set, docs/BENCHMARKS.md and the logs
# are copied there.
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
MNIST=${MNIST_DIR:-$REPO/.data/mnist}
WHEELS=(keras==3.15.1 namex==0.1.0 optree==0.20.0)

if [ "${1:-}" = "--prepare" ]; then
    set -e
    mkdir -p .whl .data/mnist
    python3 -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}"
    src=${2:-../shared/data/mnist}
    cp "$src"/train-images-idx3-ubyte.gz "$src"/t10k-images-idx3-ubyte.gz \
        .data/mnist/
    ls -l .whl .data/mnist
    echo "Prepared. Carry .whl and .data; run benchmarks/gpu_check.sh there."
    exit 0
fi

start=$SECONDS
LOG=${OUT:-/tmp}/gpu_check.log
: >"$LOG"
say() { echo "[gpu_check +$((SECONDS - start))s] $*" | tee -a "$LOG"; }

if ! python3 -c "import keras" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        say "keras is missing and .whl/ holds no wheels: run" \
            "'benchmarks/gpu_check.sh --prepare' where pip works, then" \
            "carry .whl."
        exit 2
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH=/tmp/site
    say "installed $(ls .whl | tr '\n' ' ')"
fi
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}

GPU=$(python3 - <<'EOF' 2>/dev/null
try:
    import torch
    print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
except Exception:
    print("")
EOF
)
if [ -n "$GPU" ] && [ -z "${QUICK:-}" ]; then
    say "GPU found: $GPU"
    TESTS=(tests/test_precision.py)
    SPEED=(--epochs 3 --steps 20 --models conv_pixel_shuffle residual_64
        --res-steps 10 --worker-timeout 95)
    PRECISIONS=(float32 mixed_bfloat16)
    BATCHES=(128 1024)
    TITLE="Training throughput (GPU: $GPU)"
    QUALITY=(--quality-steps 100)
    SPEED_TIMEOUT=200
    TEST_TIMEOUT=45
else
    say "No GPU found (torch.cuda.is_available() is False or torch is" \
        "missing): running the short CPU version; figures are CPU figures."
    TESTS=(tests/test_precision.py::test_config_precision_is_checked
        "tests/test_precision.py::test_fit_under_policy[conv-float32]")
    SPEED=(--epochs 1 --steps 2 --models conv_pixel_shuffle)
    PRECISIONS=(float32 mixed_bfloat16)
    BATCHES=(128)
    TITLE="GPU check, run without a GPU (short CPU version)"
    QUALITY=(--quality-steps 2)
    # A shared CPU can be slow; the 10 minutes are the GPU's budget.
    SPEED_TIMEOUT=300
    TEST_TIMEOUT=200
fi
[ -f "$MNIST/train-images-idx3-ubyte.gz" ] || {
    say "no MNIST files in $MNIST: the quality table is skipped"
    QUALITY=()
}

status=0
for backend in jax torch; do
    say "tests under $backend: ${TESTS[*]}"
    KERAS_BACKEND=$backend timeout $TEST_TIMEOUT python3 -m pytest -q -p no:cacheprovider \
        "${TESTS[@]}" >>"$LOG" 2>&1 || status=1
    tail -1 "$LOG"
done

for batch in "${BATCHES[@]}"; do
    say "train_speed.py, batch $batch"
    extra=()
    if [ "$batch" = 128 ] && [ ${#QUALITY[@]} -gt 0 ]; then
        extra=("${QUALITY[@]}" --mnist-dir "$MNIST")
    fi
    timeout $SPEED_TIMEOUT python3 benchmarks/train_speed.py --backends jax torch \
        --batch-size "$batch" --precisions "${PRECISIONS[@]}" \
        "${SPEED[@]}" "${extra[@]}" --title "$TITLE, batch $batch" \
        >>"$LOG" 2>&1 || { status=1; say "train_speed.py failed at batch $batch"; }
done

say "done in $((SECONDS - start)) s, status $status"
if [ -n "${OUT:-}" ]; then
    cp docs/BENCHMARKS.md "$OUT"/ 2>/dev/null
fi
exit $status
