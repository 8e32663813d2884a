#!/usr/bin/env bash
# Build the lab's default Triton model: roles/triton/files/models/digits (config.pbtxt, model.py)
# with weights trained on the controller by train_digits.py (scikit-learn's bundled digits), plus
# the held-out images for the tests and the summary. Output, reused while its inputs are unchanged:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/triton-digits-<hash>/digits/           the model directory
#   ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/triton-digits-<hash>/digits-samples.json
# Prints the model directory last. Needs the repo's .venv (scikit-learn, numpy: pyproject.toml).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
readonly REPO_ROOT
readonly PYTHON=${PYTHON:-$REPO_ROOT/.venv/bin/python}
readonly MODEL_SRC=$REPO_ROOT/roles/triton/files/models/digits
readonly TRAINER=$REPO_ROOT/tests/lab/triton/train_digits.py

die() {
  echo "build-digits-model: $*" >&2
  exit 1
}

[[ -x $PYTHON ]] || die "no $PYTHON: run 'make venv' first"
"$PYTHON" -c 'import sklearn, numpy' 2>/dev/null || die "$PYTHON lacks scikit-learn or numpy: run 'make venv'"

# The inputs: trainer, model files and the versions of the libraries that train.
inputs_hash=$(
  {
    cat "$TRAINER"
    find "$MODEL_SRC" -type f -not -name '*.pyc' -not -name weights.json | sort | xargs cat
    "$PYTHON" -c 'import sklearn, numpy; print(sklearn.__version__, numpy.__version__)'
  } | sha256sum | cut -c1-12
)
readonly OUT_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/triton-digits-$inputs_hash

if [[ ! -f $OUT_DIR/digits/1/weights.json || ! -f $OUT_DIR/digits-samples.json ]]; then
  work=$(mktemp -d "${OUT_DIR}.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/digits/1"
  cp "$MODEL_SRC/config.pbtxt" "$work/digits/"
  cp "$MODEL_SRC/1/model.py" "$work/digits/1/"
  "$PYTHON" "$TRAINER" "$work/digits" --samples "$work/digits-samples.json" >&2
  chmod -R a+rX "$work"
  rm -rf "$OUT_DIR"
  mv "$work" "$OUT_DIR"
  trap - EXIT
fi
echo "$OUT_DIR/digits"
