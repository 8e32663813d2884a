#!/usr/bin/env bash
# Builds a Parsec bundle for NVIDIA Jetson Nano with L4T R32.7 (Ubuntu 18.04, aarch64, glibc 2.27,
# OpenSSL 1.1), where no distribution package exists and upstream publishes x86_64 builds only:
# parsec-service and parsec-tool from crates.io, cross-compiled on an x86_64 Linux machine with
# cargo-zigbuild (zig as the linker, against glibc 2.27's symbol versions).
#
#   contrib/parsec-bundle/build.sh
#
# Needs: rustup's cargo with the aarch64 standard library (`rustup target add
# aarch64-unknown-linux-gnu`), cmake, a host C compiler and libclang (mbed TLS is built from source,
# its Rust bindings are generated with bindgen: Debian's cmake, gcc, libclang-dev), and on
# PATH the pinned cargo-zigbuild and zig: `pip install cargo-zigbuild==0.24.1 ziglang==0.15.2`
# (the collection's `make venv` installs both). JOBS (default 2) limits parallel compile jobs.
#
# Output, in ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/parsec-bundle-<version>-l4t-<recipe hash>/:
#   parsec-bundle-<version>-l4t-linux-aarch64.tar.gz         bin/parsec, bin/parsec-tool,
#                                                           share/parsec-bundle/ (SOURCES, config example)
#   parsec-bundle-<version>-l4t-linux-aarch64.tar.gz.sha256  sha256sum format, for parsec_binary_sha256
# The last line on stdout is the tarball's path. The recipe hash covers this script and the
# versions of rustc, cargo-zigbuild and zig: with an intact bundle for it, nothing is rebuilt.
# Compiled crates are kept in .../parsec-l4t-build/ (cargo's own cache, safe to delete).
#
# Trust chain: cargo installs each crate with --locked, i.e. the exact dependency versions of the
# Cargo.lock published with it, and checks every downloaded crate against the registry index's
# checksum. The binaries link no libcrypto or libssl at all (mbed TLS is compiled in statically).
set -euo pipefail

PARSEC_SERVICE_VERSION=1.4.1 # the version the parsec role defaults to (parsec_version)
PARSEC_TOOL_VERSION=0.7.0    # the parsec-tool that Debian ships with parsec-service 1.4.1
CARGO_ZIGBUILD_VERSION=0.24.1
ZIG_VERSION=0.15.2
RUST_TARGET=aarch64-unknown-linux-gnu
GLIBC_VERSION=2.27 # L4T R32.7 (Ubuntu 18.04)
# The role's default configuration: MbedCrypto provider, UnixPeerCredentials authenticator (Direct
# as its alternative). No TPM, PKCS #11 or SPIFFE: they would link tss2, libcrypto or need a daemon.
PARSEC_SERVICE_FEATURES=mbed-crypto-provider,unix-peer-credentials-authenticator,direct-authenticator
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JOBS=${JOBS:-2}

log() { echo "parsec-bundle: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

check_tools() {
  local found
  for tool in cargo rustc rustup cmake cc readelf python3 sha256sum tar gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing: install rustup (https://rustup.rs), cmake, gcc and binutils"
  done
  rustup target list --installed | grep -qx "$RUST_TARGET" ||
    die "the Rust standard library for $RUST_TARGET is missing: rustup target add $RUST_TARGET"
  found=$(cargo-zigbuild --version 2>/dev/null | awk '{ print $2 }') || true
  [[ $found == "$CARGO_ZIGBUILD_VERSION" ]] ||
    die "cargo-zigbuild $CARGO_ZIGBUILD_VERSION is needed on PATH (found: ${found:-none}): pip install cargo-zigbuild==$CARGO_ZIGBUILD_VERSION ziglang==$ZIG_VERSION"
  found=$(zig_version) || true
  [[ $found == "$ZIG_VERSION" ]] ||
    die "zig $ZIG_VERSION is needed (found: ${found:-none}): pip install ziglang==$ZIG_VERSION next to cargo-zigbuild"
}

# cargo-zigbuild runs `zig` from PATH, else `python3 -m ziglang` (the PyPI package).
zig_version() {
  if command -v zig >/dev/null; then zig version; else python3 -m ziglang version; fi
}

recipe_hash() {
  {
    cat "${BASH_SOURCE[0]}" "$HERE/check_elf.py"
    rustc --version
    cargo-zigbuild --version
    zig_version
  } | sha256sum | cut -c1-12
}

# cargo-zigbuild install <crate>@<version> [cargo options...] into $work/root/bin.
build_crate() {
  local crate=$1
  shift
  log "building $crate for $RUST_TARGET.$GLIBC_VERSION (cold: tens of minutes)"
  # The mbed TLS that psa-crypto-sys vendors builds with -Werror, and zig's clang, newer than that
  # code, warns about its doc comments and an unused variable: -w (no C warnings) lets it build.
  CFLAGS_aarch64_unknown_linux_gnu=-w \
    nice -n 10 cargo-zigbuild install --locked --no-track --jobs "$JOBS" --root "$work/root" \
      --target-dir "$CACHE_ROOT/parsec-l4t-build/target" --target "$RUST_TARGET.$GLIBC_VERSION" "$crate" "$@" >&2
}

# The crate file cargo downloaded (and checked against the index): "<crate> <version> <sha256>".
crate_source() {
  local file
  file=$(compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/cache/*/$1-$2.crate" | head -n 1) ||
    die "cargo left no $1-$2.crate in its registry cache"
  printf '%s %s %s\n' "$1" "$2" "$(sha256sum "$file" | cut -c1-64)"
}

check_tools
hash=$(recipe_hash)
name="parsec-bundle-$PARSEC_SERVICE_VERSION-l4t"
bundle_dir="$CACHE_ROOT/$name-$hash"
tarball="$name-linux-aarch64.tar.gz"
if [[ -f $bundle_dir/$tarball.sha256 ]] && (cd "$bundle_dir" && sha256sum --check --status "$tarball.sha256"); then
  log "bundle already present and intact, nothing to do"
  echo "$bundle_dir/$tarball"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
work=$(mktemp -d "$CACHE_ROOT/.$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
build_crate "parsec-service@$PARSEC_SERVICE_VERSION" --no-default-features --features "$PARSEC_SERVICE_FEATURES"
build_crate "parsec-tool@$PARSEC_TOOL_VERSION"

stage="$work/stage"
mkdir -p "$stage/bin" "$stage/share/parsec-bundle"
install --mode=0755 "$work/root/bin/parsec" "$work/root/bin/parsec-tool" "$stage/bin/"
{
  echo "# crate version sha256-of-the-.crate (crates.io); target $RUST_TARGET.$GLIBC_VERSION"
  echo "# parsec-service features: $PARSEC_SERVICE_FEATURES; built with $(rustc --version), cargo-zigbuild $CARGO_ZIGBUILD_VERSION, zig $ZIG_VERSION"
  crate_source parsec-service "$PARSEC_SERVICE_VERSION"
  crate_source parsec-tool "$PARSEC_TOOL_VERSION"
} >"$stage/share/parsec-bundle/SOURCES"
config=$(compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/src/*/parsec-service-$PARSEC_SERVICE_VERSION/config.toml" | head -n 1) ||
  die "no config.toml in parsec-service $PARSEC_SERVICE_VERSION's source"
install --mode=0644 "$config" "$stage/share/parsec-bundle/config.toml.example"
# Nothing is published that L4T R32 cannot start.
python3 "$HERE/check_elf.py" --machine AArch64 --max-glibc "$GLIBC_VERSION" \
  --forbid-needed libcrypto.so.3 --forbid-needed libssl.so.3 "$stage/bin/parsec" "$stage/bin/parsec-tool" ||
  die "the binaries above would not start on L4T R32 (aarch64, glibc $GLIBC_VERSION, OpenSSL 1.1)"

# Reproducible tarball: sorted entries, fixed owner and mtime, gzip without a timestamp.
tar --create --directory="$stage" --sort=name --mtime="@${SOURCE_DATE_EPOCH:-0}" --owner=0 --group=0 \
  --numeric-owner --mode='u+rwX,go+rX,go-w' --format=gnu bin share | gzip --best --no-name >"$work/$tarball"
(cd "$work" && sha256sum "$tarball" >"$tarball.sha256")
# Put in place in one step: a present directory is always a complete bundle.
output="$work/$name-$hash"
mkdir -m 0755 "$output"
mv "$work/$tarball" "$work/$tarball.sha256" "$output/"
rm -rf "$bundle_dir"
mv -T "$output" "$bundle_dir"
log "built $bundle_dir/$tarball ($(cut -c1-16 "$bundle_dir/$tarball.sha256")...)"
echo "$bundle_dir/$tarball"
