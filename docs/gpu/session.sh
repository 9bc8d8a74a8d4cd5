#!/usr/bin/env bash
# One prepared GPU session, in the order the project's standing order asks for:
#   1. tests/engine/test_cuda.py (CUDA == CPU for every model and feature);
#   2. the paper presets the store still lacks, costliest for a CPU first (chapter 6, then 5, 4, 3),
#      several chapters at once, each with GROKKIT_WORKERS workers, until DEADLINE seconds;
#   3. every record written here, packed for the way back.
#
# Run it on the device machine from the repository root, where $OUT is the folder that comes back:
#     bash docs/gpu/session.sh 500            # stop training 500 s after the start
# Back on the CPU machine, unpack and commit what came back:
#     tar -xzf <files_at>/records.tgz -C data/runs && git add data/runs && git commit
# The store writes each record atomically once its run has finished, so killing the training at the
# deadline loses only the unfinished runs; a later session trains them again (the store resumes).
set -u
DEADLINE=${1:-500}
OUT=${OUT:?set OUT to the folder whose files come back}
PY=${PY:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" GROKKIT_WORKERS=${GROKKIT_WORKERS:-4}
start=$(date +%s)
since() { echo "$(( $(date +%s) - start )) s"; }
marker=$(mktemp) && touch "$marker"

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import torch, numpy, pandas; print('torch', torch.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
} > "$OUT/machine.txt" 2>&1

timeout 120 $PY -m pytest -q -p no:cacheprovider tests/engine/test_cuda.py > "$OUT/cuda_tests.txt" 2>&1
echo "cuda tests rc=$? at $(since)" | tee -a "$OUT/machine.txt"

for chapter in 06_layernorm 05_logit_scale 04_sgd_vs_adamw 03_free_contraction_law; do
    (cd chapters && exec $PY -m grokkit.book.headless "$chapter.ipynb" -p preset paper \
        -p results_dir "/tmp/gpu-results-$chapter") > "$OUT/$chapter.log" 2>&1 &
done
while [ "$(( $(date +%s) - start ))" -lt "$DEADLINE" ] && [ -n "$(jobs -rp)" ]; do
    sleep 30
    echo "$(since): $(find data/runs -name '*.json' -newer "$marker" | wc -l) new records;" \
         "$(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)" >> "$OUT/machine.txt"
done
kill $(jobs -p) 2>/dev/null; wait
echo "training stopped at $(since)" >> "$OUT/machine.txt"

(cd data/runs && find . -name '*.json' -newer "$marker" -print0 | tar -czf "$OUT/records.tgz" --null -T -)
echo "records: $(tar -tzf "$OUT/records.tgz" | wc -l); packed at $(since)" | tee -a "$OUT/machine.txt"
