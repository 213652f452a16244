#!/usr/bin/env bash
# Trains the Rasa model only when its inputs changed: the trained model is cached by a
# hash of the data, domain, config, components and environment lock.
# usage: tools/train.sh [OUT]   (default models/current.tar.gz)
set -euo pipefail
out=${1:-models/current.tar.gz}
cache=${TSUNAGI_CACHE:-$HOME/.cache/tsunagi}
# The model's inputs: content, config, the components in the pipeline, the environment, the
# embedding model (not bot/validate.py and the like, which do not change the model).
# data/calibration: messages written by other hands that the classifier calibrates its
# out-of-scope score on (metadata calibration: true), never trains on.
calibration=$( [ -d data/calibration ] && echo data/calibration || true)
inputs=$(find config.yml domain.yml data/nlu data/rules.yml $calibration -type f -name '*.yml'; \
  ls bot/tokenizer.py bot/language.py bot/embedding.py bot/torch_encoder.py bot/unigram.py bot/classifier.py \
    bot/out_of_scope.py bot/policy.py \
    languages.py intents.py requirements/bot.lock)
hash=$( (echo "$inputs" | LC_ALL=C sort | xargs sha256sum; readlink -f models/multilingual-e5-small) | sha256sum | cut -c1-16)
cached="$cache/trained/tsunagi-$hash.tar.gz"
if [ ! -f "$cached" ]; then
  echo "train: data or config changed; training ($hash)"
  mkdir -p "$cache/trained"
  tmp=$(mktemp -d)
  # One thread for the numeric libraries: the encoder (ONNX Runtime, its own `threads: 1`) embeds
  # one text at a time, where a second thread measured slower (bench/results/encoder.json), and
  # two threads spin on a busy 2-core machine.
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=1 .venv/bot/bin/rasa train --config config.yml --domain domain.yml --data data/nlu data/rules.yml $calibration \
    --out "$tmp" --fixed-model-name model
  mv "$tmp/model.tar.gz" "$cached"
  rm -rf "$tmp"
else
  echo "train: nothing changed since model $hash; using the cached one"
fi
mkdir -p "$(dirname "$out")"
cp "$cached" "$out"
echo "$hash" > "$out.hash"
