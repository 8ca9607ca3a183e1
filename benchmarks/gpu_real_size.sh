#!/usr/bin/env bash
# IndexTTS-2 and IndexTTS-2.5 at their released sizes on one GPU, in one command (sized for 8 minutes
# on an H100/H200):
#
#   bash benchmarks/gpu_real_size.sh [RESULTS_DIR]
#
# On a machine whose Python already has a CUDA torch, from this repo's root, after
#   pip install -c constraints.txt -e ".[indextts2]"
# (torch is left as it is: the lock's torch pin is for this project's CPU CI). The IndexTTS2 extra
# brings indextts25-inference, transformers, sentencepiece, librosa, omegaconf, safetensors and
# soundfile; nothing else is needed and nothing is downloaded at run time.
#
# It builds the random-weight dirs with the released shapes (benchmarks/indextts2_real_size.py; kept
# in $REAL_SIZE_DIR and $REAL_SIZE_DIR_25 between runs), then writes Markdown tables to RESULTS_DIR and
# stdout:
# - the GPT decode step (growing cache vs static vs CUDA graph) at four cache lengths, fp16 with
#   IndexTTS-2's two rows and bf16 with 2.5's one (benchmarks/gpt_step.py);
# - first audio, RTF and the cost of every stage, ours against upstream's segment loop, with and
#   without CUDA graphs, fp16 GPT, 200 codes per segment (benchmarks/indextts2_stream.py);
# - 1, 2, 4 and 8 concurrent streams, shared decode steps against lock-step turns, decode only and
#   decode + vocode (benchmarks/indextts2_concurrency.py);
# - IndexTTS-2.5: first audio, RTF and stages, ours against indextts25's own segment stream, CUDA
#   graphs, fp32 GPT (its bf16 path is not yet proven on CPU: see the GPU issue).
set -euo pipefail
results=${1:-${OUT:-gpu-results}}
dir=${REAL_SIZE_DIR:-/tmp/indextts2-real-size}
dir25=${REAL_SIZE_DIR_25:-/tmp/indextts25-real-size}
mkdir -p "$results"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c "import torch, sys; sys.exit(not torch.cuda.is_available())" ||
  { echo "no CUDA device visible to torch" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$results/gpu.txt"

[ -f "$dir/gpt.pth" ] || python benchmarks/indextts2_real_size.py "$dir" | tee "$results/build.txt"
[ -f "$dir25/gpt.pth" ] || python benchmarks/indextts2_real_size.py "$dir25" --generation 2.5 |
  tee "$results/build_25.txt"
python benchmarks/gpt_step.py --device cuda --dtype float16 --rows 2 --steps 30 |
  tee "$results/gpt_step_fp16_2rows.md"
python benchmarks/gpt_step.py --device cuda --dtype bfloat16 --rows 1 --steps 30 |
  tee "$results/gpt_step_bf16_1row.md"
for graphs in cuda-graphs no-cuda-graphs; do
  python benchmarks/indextts2_stream.py --model-dir "$dir" --device cuda --half "--$graphs" \
    --runs 3 --max-codes 200 --stages 2>&1 | grep -v "^20..-" | tee "$results/stream_$graphs.md"
done
for mode in --decode-only ""; do
  python benchmarks/indextts2_concurrency.py --model-dir "$dir" --device cuda --half \
    --streams 1,2,4,8 --max-codes 200 $mode 2>&1 | grep -v "^20..-" |
    tee "$results/concurrency${mode:---full}.md"
done
python benchmarks/indextts2_stream.py --model-dir "$dir25" --device cuda --cuda-graphs \
  --runs 3 --max-codes 200 --texts 2 --stages 2>&1 | grep -v "^20..-" | tee "$results/stream_25.md"
