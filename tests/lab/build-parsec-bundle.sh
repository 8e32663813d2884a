#!/usr/bin/env bash
# Builds the `binary` Parsec bundle for hosts whose distribution ships no parsec-service (Debian
# bookworm, the lab's nanos): Debian trixie's parsec and parsec-tool with their private libraries.
#
#   tests/lab/build-parsec-bundle.sh [--arch amd64|arm64]
#
# Output, in ${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/parsec-bundle-<parsec-service version>/:
#   parsec-bundle-<version>-linux-<machine>.tar.gz   bin/parsec, bin/parsec-tool, lib/ (private
#                                                    libraries), share/ (sources manifest, copyright)
#   parsec-bundle-<version>-linux-<machine>.tar.gz.sha256   (sha256sum format)
# The last line on stdout is the tarball's path. Nothing is done when the bundle is already there.
#
# Trust chain: trixie's InRelease is checked with the host's Debian archive keyring, the Packages
# index against InRelease, every .deb against the index. The tarball is reproducible: same
# packages in, same bytes out (sorted entries, fixed owner and mtime, gzip without timestamp).
# libcrypto is left out on purpose: trixie's needs glibc 2.38, the host's own libcrypto.so.3 works.
# Run the binaries with LD_LIBRARY_PATH=<bundle>/lib.
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
KEYRING=${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas"
PACKAGES=(
  parsec-service parsec-tool libmbedcrypto16
  libtss2-esys-3.0.2-0t64 libtss2-mu-4.0.1-0t64 libtss2-sys1t64 libtss2-tctildr0t64
)
LIBRARIES=(libmbedcrypto.so.16 libtss2-esys.so.0 libtss2-mu.so.0 libtss2-sys.so.1 libtss2-tctildr.so.0)

log() { echo "build-parsec-bundle: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

arch=amd64
while [[ $# -gt 0 ]]; do
  case $1 in
    --arch)
      arch=${2:?--arch needs amd64 or arm64}
      shift 2
      ;;
    *) die "unknown argument $1 (usage: $0 [--arch amd64|arm64])" ;;
  esac
done
case $arch in
  amd64) machine=x86_64 multiarch=x86_64-linux-gnu ;;
  arm64) machine=aarch64 multiarch=aarch64-linux-gnu ;;
  *) die "--arch must be amd64 or arm64, not $arch" ;;
esac

for tool in curl gpgv xz dpkg-deb sha256sum tar gzip; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install curl gpgv xz-utils dpkg coreutils tar gzip)"
done
[[ -r $KEYRING ]] || die "no Debian archive keyring at $KEYRING (apt-get install debian-archive-keyring, or set DEBIAN_KEYRING)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { curl --fail --silent --show-error --location --retry 3 --output "$2" "$MIRROR/$1"; }

# Prints "<sha256> <path>" of the Packages index that the signed InRelease vouches for.
verified_index_entry() {
  fetch "dists/$SUITE/InRelease" "$work/InRelease"
  gpgv --quiet --keyring "$KEYRING" --output "$work/Release" "$work/InRelease" 2>"$work/gpgv.log" ||
    die "InRelease of $SUITE failed signature verification: $(cat "$work/gpgv.log")"
  awk -v path="main/binary-$arch/Packages.xz" '/^SHA256:/ { in_sha = 1; next } /^[^ ]/ { in_sha = 0 }
    in_sha && $3 == path { print $1, $3 }' "$work/Release"
}

# Prints "<field value>" of one package's stanza in the index.
package_field() {
  awk -v package="$1" -v field="$2:" 'BEGIN { RS = "" }
    $0 ~ "(^|\n)Package: " package "\n" {
      n = split($0, lines, "\n")
      for (i = 1; i <= n; i++) if (index(lines[i], field " ") == 1) { print substr(lines[i], length(field) + 2); exit }
    }' "$work/Packages"
}

verified_index_entry >"$work/index-entry"
read -r index_sha index_path <"$work/index-entry" || true
[[ -n ${index_sha:-} ]] || die "InRelease of $SUITE lists no main/binary-$arch/Packages.xz"
fetch "dists/$SUITE/$index_path" "$work/Packages.xz"
echo "$index_sha  $work/Packages.xz" | sha256sum --check --status || die "Packages.xz does not match InRelease"
xz --decompress --stdout "$work/Packages.xz" >"$work/Packages"

version=$(package_field parsec-service Version)
[[ -n $version ]] || die "parsec-service is not in $SUITE/main for $arch"
bundle_dir="$CACHE_ROOT/parsec-bundle-$version"
tarball="parsec-bundle-$version-linux-$machine.tar.gz"
if [[ -f $bundle_dir/$tarball.sha256 ]] && (cd "$bundle_dir" && sha256sum --check --status "$tarball.sha256"); then
  log "bundle already present and intact, nothing to do"
  echo "$bundle_dir/$tarball"
  exit 0
fi

extracted="$work/extracted"
stage="$work/stage"
mkdir -p "$extracted" "$stage/bin" "$stage/lib" "$stage/share/parsec-bundle"
for package in "${PACKAGES[@]}"; do
  filename=$(package_field "$package" Filename)
  sha=$(package_field "$package" SHA256)
  [[ -n $filename && -n $sha ]] || die "$package is not in $SUITE/main for $arch"
  log "fetching $filename"
  fetch "$filename" "$work/$package.deb"
  echo "$sha  $work/$package.deb" | sha256sum --check --status || die "$filename does not match the signed index"
  dpkg-deb --extract "$work/$package.deb" "$extracted"
  printf '%s %s %s\n' "$package" "$(package_field "$package" Version)" "$sha" >>"$stage/share/parsec-bundle/SOURCES"
  if [[ -f $extracted/usr/share/doc/$package/copyright ]]; then
    install -D --mode=0644 "$extracted/usr/share/doc/$package/copyright" "$stage/share/doc/$package/copyright"
  fi
done

install --mode=0755 "$extracted/usr/bin/parsec" "$extracted/usr/bin/parsec-tool" "$stage/bin/"
for library in "${LIBRARIES[@]}"; do
  # The soname is a symlink in the packages: ship the real file under the soname.
  install --mode=0644 "$(readlink -f "$extracted/usr/lib/$multiarch/$library")" "$stage/lib/$library"
done
install --mode=0644 "$extracted/etc/parsec/config.toml" "$stage/share/parsec-bundle/config.toml.example"

if [[ $arch == amd64 && $(uname -m) == x86_64 ]]; then
  missing=$(LD_LIBRARY_PATH="$stage/lib" ldd "$stage/bin/parsec" | grep 'not found' || true)
  [[ -z $missing ]] || die "bin/parsec still misses libraries on this host: $missing"
fi

# A fixed mtime keeps the tarball reproducible: the parsec binary's own build time.
mtime=$(stat --format=%Y "$extracted/usr/bin/parsec")
mkdir -p "$CACHE_ROOT"
output=$(mktemp -d "$CACHE_ROOT/.parsec-bundle.XXXXXX")
tar --create --directory="$stage" --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner \
  --mode='u+rwX,go+rX,go-w' --format=gnu bin lib share | gzip --best --no-name >"$output/$tarball"
(cd "$output" && sha256sum "$tarball" >"$tarball.sha256")
chmod 0755 "$output"
mkdir -p "$bundle_dir"
mv -f "$output/$tarball" "$output/$tarball.sha256" "$bundle_dir/"
rmdir "$output"
log "built $bundle_dir/$tarball ($(cut -c1-16 "$bundle_dir/$tarball.sha256")...)"
echo "$bundle_dir/$tarball"
