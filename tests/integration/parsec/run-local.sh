#!/usr/bin/env bash
# Runs the live Parsec tests against the real Parsec service started on this host from the
# `binary` bundle (tests/lab/build-parsec-bundle.sh), in a temporary directory, then stops it.
# Needs no lab: `make test` can use it on any x86_64 Linux host.
#
#   tests/integration/parsec/run-local.sh [pytest arguments...]
#
# PARSEC_BUNDLE=<tarball> picks a bundle; otherwise the newest one in the cache is used, and the
# bundle script is run only when the cache has none. As root the service runs as the system user
# `parsec` (created when missing), since Parsec refuses to run as root; otherwise as the caller.
# KEEP_PARSEC_DIR=1 keeps the temporary directory (config, socket, log) for a look afterwards.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas"
python="${PYTHON:-$repo/.venv/bin/python}"

log() { echo "run-local: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

find_bundle() {
  if [[ -n ${PARSEC_BUNDLE:-} ]]; then
    echo "$PARSEC_BUNDLE"
    return
  fi
  local newest
  newest=$(find "$cache" -maxdepth 2 -name "parsec-bundle-*-linux-$(uname -m).tar.gz" 2>/dev/null | sort -V | tail -n 1)
  if [[ -n $newest ]]; then
    echo "$newest"
  else
    "$repo/tests/lab/build-parsec-bundle.sh" | tail -n 1
  fi
}

bundle=$(find_bundle)
[[ -f $bundle ]] || die "no Parsec bundle at $bundle: run tests/lab/build-parsec-bundle.sh"
(cd "$(dirname "$bundle")" && sha256sum --check --status "$(basename "$bundle").sha256") ||
  die "$bundle does not match its .sha256 file: delete its directory and rebuild it"

# Short path: a unix socket path must fit in 108 bytes.
work=$(mktemp -d /tmp/parsec-live.XXXXXX)
chmod 0755 "$work"
service_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [[ -n $service_pid ]] && kill -0 "$service_pid" 2>/dev/null; then
    kill "$service_pid"
    wait "$service_pid" 2>/dev/null || true
  fi
  if [[ -n ${KEEP_PARSEC_DIR:-} ]]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

mkdir -p "$work/bundle" "$work/run" "$work/state"
tar --extract --gzip --file="$bundle" --directory="$work/bundle"

run_as=()
if [[ $EUID -eq 0 ]]; then
  id parsec >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin parsec
  chown parsec:parsec "$work/run" "$work/state"
  run_as=(setpriv --reuid=parsec --regid=parsec --init-groups)
fi
chmod 0700 "$work/state"

cat >"$work/config.toml" <<EOF
[core_settings]
allow_root = false
# 1 ms instead of the default 10 ms: the tests make hundreds of sequential requests.
idle_listener_sleep_duration = 1
log_level = "info"

[listener]
listener_type = "DomainSocket"
timeout = 200
socket_path = "$work/run/parsec.sock"

[authenticator]
auth_type = "UnixPeerCredentials"

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "$work/state/kim-mappings.sqlite3"

[[provider]]
name = "mbed-crypto-provider"
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
EOF
chmod 0644 "$work/config.toml"

# MbedCrypto keeps key material in the working directory: it must be writable by the service.
(cd "$work/state" && exec env LD_LIBRARY_PATH="$work/bundle/lib" "${run_as[@]}" \
  "$work/bundle/bin/parsec" --config "$work/config.toml") >"$work/parsec.log" 2>&1 &
service_pid=$!

for _ in $(seq 100); do
  [[ -S $work/run/parsec.sock ]] && break
  kill -0 "$service_pid" 2>/dev/null || die "Parsec exited at start: $(cat "$work/parsec.log")"
  sleep 0.1
done
[[ -S $work/run/parsec.sock ]] || die "Parsec did not create its socket within 10 s: $(cat "$work/parsec.log")"
log "Parsec from $(basename "$bundle") listens on $work/run/parsec.sock"

status=0
PARSEC_SERVICE_ENDPOINT="unix:$work/run/parsec.sock" \
  PARSEC_TOOL="$work/bundle/bin/parsec-tool" \
  PYTHONPATH="$repo/.cache/collections${PYTHONPATH:+:$PYTHONPATH}" \
  "$python" -m pytest -p no:cacheprovider --rootdir="$repo" "$repo/tests/integration/parsec" "$@" || status=$?
if [[ $status -ne 0 ]]; then
  log "tests failed; the service's log:"
  tail -n 50 "$work/parsec.log" >&2
fi
exit "$status"
