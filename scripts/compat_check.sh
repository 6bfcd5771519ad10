#!/usr/bin/env bash
# Do published model folders load in transformers 4.x as they do in this project's transformers 5.x?
#
#   scripts/compat_check.sh                      # tiny roberta + factorized folders made here, then checked
#   scripts/compat_check.sh PUBLISH_DIR|MODEL_DIR ...   # e.g. ~/.cache/hf_shrunk/demo/publish
#
# A second virtualenv ($COMPAT_VENV, default /tmp/compat-venv; reused when present) gets
# "$COMPAT_TRANSFORMERS" (default "transformers<5"), the CPU torch wheel and safetensors/tokenizers from PyPI.
# Each folder is loaded without hf_shrunk in both environments (tokenizer: AutoTokenizer with
# trust_remote_code=False; model: AutoModelForMaskedLM with trust_remote_code=True). Pass: same token ids and logits
# within 1e-5, or, for the factorized family on a transformers older than its remote code supports, an ImportError
# that names the minimum version. Exit 0 pass, 1 mismatch, 3 the compat environment could not be installed.
# Measured on the 2-core development machine: see README ("Using the published models").
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MAIN_PY="${MAIN_PY:-$ROOT/.venv/bin/python}"
VENV="${COMPAT_VENV:-/tmp/compat-venv}"
SPEC="${COMPAT_TRANSFORMERS:-transformers<5}"
TORCH="${TORCH:-torch==2.13.0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || { echo "compat check: cannot create a virtualenv at $VENV" >&2; exit 3; }
fi
if ! "$VENV/bin/python" -m pip install --quiet "$SPEC" "$TORCH" safetensors tokenizers >"$WORK/pip.log" 2>&1; then
    tail -n 20 "$WORK/pip.log" >&2
    echo "compat check: pip could not install $SPEC $TORCH into $VENV (no access to PyPI?)" >&2
    exit 3
fi
echo "compat environment ready in $(( $(date +%s) - start ))s: $VENV"

# Hermetic loading: no Hub access, remote code cached under the temporary folder.
export HF_HOME="$WORK/hf_home" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export TOKENIZERS_PARALLELISM=false
if [ "$#" -eq 0 ]; then
    "$MAIN_PY" "$ROOT/scripts/compat_check.py" make "$WORK/models"
    set -- "$WORK/models/roberta" "$WORK/models/factorized"
fi
"$MAIN_PY" "$ROOT/scripts/compat_check.py" probe "$@" --out "$WORK/main.json" </dev/null
"$VENV/bin/python" "$ROOT/scripts/compat_check.py" probe "$@" --out "$WORK/compat.json" </dev/null
status=0
"$MAIN_PY" "$ROOT/scripts/compat_check.py" compare "$WORK/main.json" "$WORK/compat.json" || status=$?
echo "compat check done in $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
