#!/usr/bin/env bash
# Run the live Triton tests on this host: unpack the lab's Triton artifact into a temporary
# directory laid out like /opt/tritonserver, train the digits model into a temporary model
# repository, start tritonserver (explicit model control, 127.0.0.1 only, free high ports),
# run tests/integration/triton/test_triton_live.py against it, and stop the server.
# Downloads nothing: build the artifact first with tests/lab/build-triton-artifact.sh.
# Needs: the repo's .venv (pytest, ansible, scikit-learn, numpy) and, for the Python backend,
# Debian's libpython3.11 and python3-numpy (as on the lab nanos).
# Extra arguments go to pytest.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
readonly REPO_ROOT
readonly VENV=${VENV:-$REPO_ROOT/.venv}
# The artifact that tests/lab/build-triton-artifact.sh builds (or another one, by path).
readonly TRITON_ARTIFACT=${TRITON_ARTIFACT:-${XDG_CACHE_HOME:-$HOME/.cache}/edgefaas/triton-artifact-2.51.0/tritonserver2.51.0-jetpack4.6.1.tgz}
readonly ARTIFACT_DIR=${TRITON_ARTIFACT%/*}
readonly ARTIFACT=${TRITON_ARTIFACT##*/}
readonly READY_TIMEOUT=60

die() {
  echo "run-local: $*" >&2
  exit 1
}

log() {
  echo "run-local: $*" >&2
}

check_prerequisites() {
  [[ -f $ARTIFACT_DIR/$ARTIFACT ]] || die "no $ARTIFACT_DIR/$ARTIFACT; run tests/lab/build-triton-artifact.sh first"
  [[ -x $VENV/bin/pytest ]] || die "no pytest in $VENV"
  ldconfig -p | grep -q 'libpython3\.11\.so\.1\.0' || die "libpython3.11 is missing (Debian: apt-get install libpython3.11)"
  [[ -d /usr/lib/python3/dist-packages/numpy ]] || die "Debian's numpy is missing (apt-get install python3-numpy)"
}

install_server() {
  local prefix=$1
  (cd "$ARTIFACT_DIR" && sha256sum --check --status "$ARTIFACT.sha256") || die "checksum mismatch for $ARTIFACT"
  mkdir -p "$prefix"
  tar --extract --gzip --file "$ARTIFACT_DIR/$ARTIFACT" --directory "$prefix"
}

build_model_repository() {
  local repository=$1 samples=$2
  mkdir -p "$repository"
  cp -r "$REPO_ROOT/roles/triton/files/models/digits" "$repository/"
  "$VENV/bin/python" "$REPO_ROOT/tests/lab/triton/train_digits.py" "$repository/digits" --samples "$samples" >&2
}

free_ports() {
  "$VENV/bin/python" - <<'PY'
import socket

sockets = [socket.socket() for _ in range(3)]
for sock in sockets:
    sock.bind(("127.0.0.1", 0))
print(" ".join(str(sock.getsockname()[1]) for sock in sockets))
for sock in sockets:
    sock.close()
PY
}

# --exit-timeout-secs 10: Triton 2.51 waits the whole exit timeout at shutdown after a failed
# reload over a READY model (a test provokes one), 30 s by default.
start_server() {
  local prefix=$1 repository=$2 log_file=$3 http=$4 grpc=$5 metrics=$6
  "$prefix/bin/tritonserver" --model-repository "$repository" --backend-directory "$prefix/backends" \
    --model-control-mode explicit --load-model digits --exit-timeout-secs 10 \
    --http-address 127.0.0.1 --http-port "$http" --grpc-address 127.0.0.1 --grpc-port "$grpc" \
    --metrics-address 127.0.0.1 --metrics-port "$metrics" >"$log_file" 2>&1 &
  SERVER_PID=$!
}

wait_until_ready() {
  local url=$1 log_file=$2 waited=0
  until curl --silent --fail --output /dev/null "http://$url/v2/health/ready"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$log_file" >&2; die "tritonserver exited before it was ready"; }
    ((waited++ < READY_TIMEOUT * 2)) || { tail -n 20 "$log_file" >&2; die "tritonserver not ready after ${READY_TIMEOUT} s"; }
    sleep 0.5
  done
}

stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || return 0
  wait "$SERVER_PID" 2>/dev/null || true
}

cleanup() {
  local started=$SECONDS
  stop_server
  log "server stopped in $((SECONDS - started)) s"
  rm -rf "$WORK_DIR"
}

main() {
  check_prerequisites
  WORK_DIR=$(mktemp -d /tmp/edgefaas-triton-live.XXXXXX)
  trap cleanup EXIT
  local prefix=$WORK_DIR/opt/tritonserver repository=$WORK_DIR/models samples=$WORK_DIR/digits-samples.json
  local http grpc metrics started=$SECONDS
  install_server "$prefix"
  build_model_repository "$repository" "$samples"
  log "artifact unpacked and model trained in $((SECONDS - started)) s"
  read -r http grpc metrics <<<"$(free_ports)"
  started=$SECONDS
  start_server "$prefix" "$repository" "$WORK_DIR/tritonserver.log" "$http" "$grpc" "$metrics"
  wait_until_ready "127.0.0.1:$http" "$WORK_DIR/tritonserver.log"
  log "tritonserver ready on 127.0.0.1:$http in $((SECONDS - started)) s"
  started=$SECONDS
  local status=0
  TRITON_TEST_URL=127.0.0.1:$http TRITON_TEST_SAMPLES=$samples \
    PYTHONPATH=$REPO_ROOT/.cache/collections${PYTHONPATH:+:$PYTHONPATH} \
    "$VENV/bin/pytest" -p no:cacheprovider -v "$REPO_ROOT/tests/integration/triton" "$@" || status=$?
  log "tests ran in $((SECONDS - started)) s"
  ((status == 0)) || tail -n 30 "$WORK_DIR/tritonserver.log" >&2
  return "$status"
}

main "$@"
