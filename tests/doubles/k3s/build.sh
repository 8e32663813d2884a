#!/usr/bin/env bash
# Builds the real Kubernetes control-plane pieces that run behind the K3s test double:
#   kine            (github.com/k3s-io/kine, cgo + SQLite, statically linked)
#   kube-apiserver  (k8s.io/kubernetes/cmd/kube-apiserver, built through a throw-away module)
#   kwok            (sigs.k8s.io/kwok/cmd/kwok)
# Only the Go toolchain and the Go module proxy are used; nothing is copied into the repository.
#
# Output: ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/k3s-double-<key>/bin/{kine,kube-apiserver,kwok}
# where <key> names every pinned version and the recipe revision. A complete directory is
# reused as it is (the build is skipped); pass --force to rebuild.
#
# Usage: build.sh [--force] [--print-dir]
#   --print-dir  print the output directory (…/bin) and exit, without building.
# Environment: GO (default: go on PATH, else /usr/local/go/bin/go), K3S_DOUBLE_BUILD_P (go build -p,
#   default 2), K3S_DOUBLE_CACHE (override the cache root).
set -euo pipefail

# ---- pinned versions -------------------------------------------------------------------------
K8S_VERSION=v1.37.2          # kube-apiserver; K3s v1.37.2+k3s1 embeds this Kubernetes release
K3S_SUFFIX=+k3s1             # what the double reports as its K3s version suffix
KINE_VERSION=v0.17.5         # the kine line built against k8s 0.37 / etcd 3.7 (no replace directives)
KWOK_VERSION=v0.8.0
RECIPE=r1                    # bump when flags below change, to get a fresh cache directory
# ----------------------------------------------------------------------------------------------

force=0 print_dir=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-dir) print_dir=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

cache_root=${K3S_DOUBLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas}
key="k8s-${K8S_VERSION}_kine-${KINE_VERSION}_kwok-${KWOK_VERSION}_${RECIPE}"
out="$cache_root/k3s-double-$key"
bin="$out/bin"
if [ "$print_dir" = 1 ]; then echo "$bin"; exit 0; fi

if [ "$force" = 0 ] && [ -f "$out/BUILD-INFO" ] && [ -x "$bin/kine" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kwok" ]; then
  echo "k3s double: control plane already built in $bin"
  exit 0
fi

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || { echo "build.sh: Go toolchain not found (set GO=/path/to/go)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "build.sh: gcc is needed for kine (cgo SQLite): apt-get install gcc libc6-dev" >&2; exit 1; }

export GOMODCACHE="$cache_root/go/mod"
export GOCACHE="$cache_root/go/build"
export GOTOOLCHAIN=local          # never fetch another toolchain
export GOFLAGS="-buildvcs=false"
unset GOBIN || true
jobs=${K3S_DOUBLE_BUILD_P:-2}
mkdir -p "$GOMODCACHE" "$GOCACHE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/k3s-double-build.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
stage="$tmp/bin"; mkdir -p "$stage"

ts() { date +%s; }
step() { echo "==> $(date +%T) $*"; }
t0=$(ts)
goversion=$("$GO" env GOVERSION)
step "Go $goversion, -p $jobs, caches under $cache_root/go"

# The three builds share no compiled packages (different dependency versions, cgo or not), and
# kine's cgo SQLite compile and every link step are single-threaded: run kine+kwok beside
# kube-apiserver so both cores stay busy. Peak memory stays around 3 GiB.
build_kine() {
  step "kine $KINE_VERSION (cgo, static)"
  local t; t=$(ts)
  CGO_ENABLED=1 GOBIN="$stage" "$GO" install -p "$jobs" -trimpath \
    -tags "sqlite_omit_load_extension,sqlite_unlock_notify,netgo,osusergo" \
    -ldflags "-s -w -X github.com/k3s-io/kine/pkg/version.Version=$KINE_VERSION -extldflags -static" \
    "github.com/k3s-io/kine@$KINE_VERSION"
  echo "seconds_kine=$(( $(ts) - t ))" >> "$tmp/times"
}

build_kwok() {
  step "kwok $KWOK_VERSION"
  local t; t=$(ts)
  CGO_ENABLED=0 GOBIN="$stage" "$GO" install -p "$jobs" -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  echo "seconds_kwok=$(( $(ts) - t ))" >> "$tmp/times"
}

build_apiserver() {
  step "kube-apiserver $K8S_VERSION (module requiring k8s.io/kubernetes, staging replaced by published v0.x)"
  local t; t=$(ts)
  local mod="$tmp/apiserver"; mkdir -p "$mod"
  local k8s_gomod
  k8s_gomod=$(cd "$tmp" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$k8s_gomod" ] || { echo "build.sh: could not download k8s.io/kubernetes@$K8S_VERSION" >&2; return 1; }
  local staging_version="v0.${K8S_VERSION#v1.}" staging
  staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$k8s_gomod" | sort -u)
  [ -n "$staging" ] || { echo "build.sh: no staging replaces found in $k8s_gomod" >&2; return 1; }
  {
    echo "module edgefaas.test/k3s-double-apiserver"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$k8s_gomod")"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $staging_version"; done
    echo ")"
  } > "$mod/go.mod"
  echo "    $(echo "$staging" | wc -l) staging modules replaced with $staging_version"
  (cd "$mod" && "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION") 2>&1 | { grep -v '^go: upgraded' || true; }
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldx="" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldx="$ldx -X $p.gitVersion=${K8S_VERSION}${K3S_SUFFIX} -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldx="$ldx -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
  done
  (cd "$mod" && CGO_ENABLED=0 "$GO" build -p "$jobs" -trimpath -tags "providerless,netgo,osusergo" \
     -ldflags "-s -w$ldx" -o "$stage/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  cp "$mod/go.mod" "$tmp/apiserver.go.mod"
  cp "$mod/go.sum" "$tmp/apiserver.go.sum"
  echo "seconds_kube_apiserver=$(( $(ts) - t ))" >> "$tmp/times"
}

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
: > "$tmp/times"
( set -e; build_kine; build_kwok ) > "$tmp/kine-kwok.log" 2>&1 &
side=$!
kill_tree() {  # the side build and the go/compile processes under it, by PID
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
  kill "$1" 2>/dev/null || true
}
trap '[ -n "$side" ] && kill_tree "$side"; chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
build_apiserver   # a plain command, so that errexit applies inside
rc=0; wait "$side" || rc=$?
side=""
if [ "$rc" != 0 ]; then
  cat "$tmp/kine-kwok.log" >&2
  echo "build.sh: kine/kwok build failed" >&2; exit 1
fi
grep -v '^go: downloading' "$tmp/kine-kwok.log" || true

# ---- check and publish ------------------------------------------------------------------------
for b in kine kube-apiserver kwok; do
  [ -x "$stage/$b" ] || { echo "build.sh: $b was not produced" >&2; exit 1; }
done
"$stage/kube-apiserver" --version
"$stage/kwok" --version 2>/dev/null | head -1 || true
total_s=$(( $(ts) - t0 ))
seconds_kine=0 seconds_kwok=0 seconds_kube_apiserver=0
# shellcheck disable=SC1091
. "$tmp/times"
{
  echo "k8s_version=$K8S_VERSION"
  echo "k3s_version=${K8S_VERSION}${K3S_SUFFIX}"
  echo "kine_version=$KINE_VERSION"
  echo "kwok_version=$KWOK_VERSION"
  echo "recipe=$RECIPE"
  echo "go_version=$goversion"
  echo "built=$build_date"
  echo "seconds_kine=$seconds_kine"
  echo "seconds_kwok=$seconds_kwok"
  echo "seconds_kube_apiserver=$seconds_kube_apiserver"
  echo "seconds_total=$total_s"
} > "$tmp/BUILD-INFO"
rm -rf "$out.new"; mkdir -p "$out.new"
mv "$stage" "$out.new/bin"
mv "$tmp/BUILD-INFO" "$tmp/apiserver.go.mod" "$tmp/apiserver.go.sum" "$out.new/"
(cd "$out.new/bin" && sha256sum kine kube-apiserver kwok > ../SHA256SUMS)
rm -rf "$out"; mv "$out.new" "$out"
step "done in ${total_s}s (kine ${seconds_kine}s, kwok ${seconds_kwok}s, kube-apiserver ${seconds_kube_apiserver}s): $bin"
ls -l "$bin"
