#!/usr/bin/env bash
# A local kastor cluster: Kafka brokers (through kafka.sh) and N `kastor node`
# processes on 127.0.0.1, with one command per fault: kill a node (kill -9),
# pause and resume one (SIGSTOP/SIGCONT), kill and restart a broker, and with
# --netns cut a node off the network and heal it.
# Only processes this script started are signalled, by their recorded pids.
set -euo pipefail

PROG=$(basename "$0")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
KASTOR_BIN=${KASTOR_BIN:-$REPO_ROOT/build/bin/kastor}
DIR=${KASTOR_CLUSTER_DIR:-/tmp/kastor-cluster}
HTTP_BASE=${KASTOR_CLUSTER_HTTP_BASE:-18080}
PORT_BASE=${KASTOR_CLUSTER_PORT_BASE:-19192}

usage() {
  cat <<EOF
Usage: $PROG COMMAND [ARGS]

Commands:
  up [--brokers 1|3] [--nodes N] [--partitions P] [--netns] [-- NODE-FLAGS...]
      Start Kafka (default 3 brokers: RF 3, min.insync.replicas=2; P partitions
      per topic, default 6: a multiple of the node counts you plan) and N kastor
      nodes (default 2), each with every role and its gateway on
      127.0.0.1:$HTTP_BASE+i. NODE-FLAGS are passed to every node (e.g. --set
      payment.latency-ms=20). Waits until every node answers /readyz.
      --netns (root; needs ip and socat): every node runs in a network
      namespace of its own whose only way out is its relay (socat, over unix
      sockets in the node's folder): the brokers' ports inside it lead to the
      brokers, and its gateway port outside leads in. Every address stays
      127.0.0.1, so the node, the brokers and clients see the same ports.
  add-node           Start one more node (the next index) and wait until it is ready.
  kill-node I        kill -9 node I.
  pause-node I       SIGSTOP node I (it keeps its sockets and stops answering).
  resume-node I      SIGCONT node I.
  cut-node I         (--netns) Cut node I off the network: its relay stops
                     (SIGSTOP), so the node keeps running but its connections
                     to the brokers and to its gateway carry nothing, as in a
                     partition where packets are dropped (nothing is refused).
  heal-node I        (--netns) Heal node I's network (SIGCONT its relay).
  restart-node I     Start node I again (after kill-node) and wait until it is ready.
  kill-broker N      kill -9 broker N (kafka.sh kill-broker).
  start-broker N     Restart broker N (kafka.sh start-broker).
  status             Each node: pid, up/paused/down (and cut), its gateway; then
                     \`kastor ctl status\` (partitions per node, lag).
  down               Stop every node (SIGTERM, then SIGKILL after 20 s), then Kafka.

Environment: KASTOR_BIN ($KASTOR_BIN), KASTOR_CLUSTER_DIR ($DIR),
KASTOR_CLUSTER_HTTP_BASE ($HTTP_BASE), KASTOR_CLUSTER_PORT_BASE ($PORT_BASE, brokers).
Node i: id node-i, log $DIR/node-i/node.log. Every node's data.dir is
$DIR/provider: the payment ledger and the email outbox stand for the external
payment provider and mail service, which deduplicate by orderId and email key
(as real ones do with idempotency keys), so all nodes share them.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }

kafka() { KASTOR_KAFKA_STATE="$DIR/kafka.state" KASTOR_BIN="$KASTOR_BIN" bash "$HERE/kafka.sh" "$@"; }
bootstrap() { cat "$DIR/bootstrap" 2>/dev/null || die "no cluster in $DIR (run: $PROG up)"; }
node_pid() { cat "$DIR/node-$1/pid" 2>/dev/null || true; }
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }
# (a killed node whose parent does not reap it stays a zombie: that is down)
alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null && [[ $(proc_state "$1") != Z ]]; }
check_index() { [[ $1 =~ ^[0-9]+$ && -d $DIR/node-$1 ]] || die "no node '$1' (see: $PROG status)"; }

start_node() { # index
  local i=$1 port=$((HTTP_BASE + $1))
  mkdir -p "$DIR/node-$i"
  local pid
  pid=$(node_pid "$i")
  if alive "$pid"; then die "node $i is running (pid $pid)"; fi
  local flags=() inside=()
  [[ -f $DIR/node-flags ]] && mapfile -t flags <"$DIR/node-flags"
  if [[ -e $DIR/netns ]]; then
    start_relay "$i"
    inside=(ip netns exec "$(netns_of "$i")")
  fi
  setsid "${inside[@]}" "$KASTOR_BIN" node --brokers "$(bootstrap)" --node-id "node-$i" \
    --http "127.0.0.1:$port" --set "ops.http=127.0.0.1:$port" --data-dir "$DIR/provider" \
    --set "topic.replication=$(cat "$DIR/brokers")" "${flags[@]}" \
    >>"$DIR/node-$i/node.log" 2>&1 </dev/null &
  echo $! >"$DIR/node-$i/pid"
  echo "$i" >>"$DIR/nodes"
  local until=$((SECONDS + 90))
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    alive "$(node_pid "$i")" || die "node $i exited; log: $DIR/node-$i/node.log"
    ((SECONDS < until)) || die "node $i not ready within 90 s; log: $DIR/node-$i/node.log"
    sleep 0.2
  done
  note "node $i ready: pid $(node_pid "$i"), http://127.0.0.1:$port"
}

# --- Network namespaces (up --netns) ----------------------------------------
# Node i runs in namespace `kastor-<cluster>-i` with only its loopback. Its
# relay, one process group in a session of its own (pid in net/relay.pid),
# joins it to the host through unix sockets in $DIR/node-i/net/: inside, each
# broker port of 127.0.0.1 leads out to the broker; outside, the node's gateway
# port leads in. Cutting the node stops the relay's group (SIGSTOP): the kernel
# still accepts connections and buffers a little, nothing gets through, and
# nobody is told: the way a network partition looks to both ends. Healing
# resumes it, and what was buffered flows on, as after a real partition.
netns_of() { echo "kastor-$(printf %s "$DIR" | cksum | cut -d' ' -f1)-$1"; }
broker_ports() { bootstrap | tr ',' '\n' | sed 's/.*://'; }
relay_pid() { cat "$DIR/node-$1/net/relay.pid" 2>/dev/null || true; }
# The relay's group leader, checked by its marker so a reused pid is left alone.
relay_alive() {
  local p=$1
  alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "kastor-relay $DIR/node-$2/net"
}

check_netns_tools() {
  (($(id -u) == 0)) || die "--netns needs root (network namespaces)"
  command -v ip >/dev/null || die "--netns needs ip (apt-get install iproute2)"
  command -v socat >/dev/null || die "--netns needs socat (apt-get install socat)"
}

start_relay() { # index: namespace (made once) and relay (started if not running)
  local i=$1 ns net=$DIR/node-$1/net port=$((HTTP_BASE + $1))
  ns=$(netns_of "$i")
  mkdir -p "$net"
  relay_alive "$(relay_pid "$i")" "$i" && return 0
  if ! ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    ip netns add "$ns" || die "cannot make network namespace $ns"
  fi
  ip netns exec "$ns" ip link set lo up
  rm -f "$net"/*.sock
  local ports
  ports=$(broker_ports | tr '\n' ' ')
  # (a unix socket's path has room for 107 bytes)
  ((${#net} + 24 <= 107)) || die "KASTOR_CLUSTER_DIR '$DIR' is too long for the relay's unix sockets"
  if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    die "node $i: port $port is in use (another cluster, or a relay left behind?)"
  fi
  # shellcheck disable=SC2016 # expanded by the relay's own shell
  setsid bash -c '
    net=$1 ns=$2 http=$3; shift 3
    for p in "$@"; do
      socat "UNIX-LISTEN:$net/broker-$p.sock,fork,unlink-early" "TCP:127.0.0.1:$p,nodelay" &
      ip netns exec "$ns" socat "TCP-LISTEN:$p,bind=127.0.0.1,fork,reuseaddr,nodelay" \
        "UNIX-CONNECT:$net/broker-$p.sock" &
    done
    ip netns exec "$ns" socat "UNIX-LISTEN:$net/http.sock,fork,unlink-early" "TCP:127.0.0.1:$http,nodelay" &
    socat "TCP-LISTEN:$http,bind=127.0.0.1,fork,reuseaddr,nodelay" "UNIX-CONNECT:$net/http.sock" &
    wait' "kastor-relay $net" "$net" "$ns" "$port" $ports >>"$net/relay.log" 2>&1 </dev/null &
  local relay=$! until=$((SECONDS + 10)) p missing
  echo "$relay" >"$net/relay.pid"
  rm -f "$net/cut"
  # Until the forked child has exec'd, /proc shows this script's command line,
  # without the relay's marker (a busy machine can take a while to get there).
  while alive "$relay" && ! relay_alive "$relay" "$i" && ((SECONDS < until)); do sleep 0.05; done
  # Ready when every socket and every listening port is there.
  while :; do
    missing=0
    for p in $ports; do
      [[ -S $net/broker-$p.sock ]] || missing=1
      ip netns exec "$ns" ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || missing=1
    done
    [[ -S $net/http.sock ]] || missing=1
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || missing=1
    ((missing == 0)) && break
    relay_alive "$(relay_pid "$i")" "$i" || die "node $i: relay exited; log: $net/relay.log"
    ((SECONDS < until)) || die "node $i: relay not listening within 10 s; log: $net/relay.log"
    sleep 0.1
  done
}

cut_node() { # index cut|heal: stop or resume the node's relay
  local i=$1 how=$2 p
  check_index "$i"
  [[ -e $DIR/netns ]] || die "$how-node needs a cluster started with up --netns"
  p=$(relay_pid "$i")
  relay_alive "$p" "$i" || die "node $i has no relay running"
  if [[ $how == cut ]]; then
    [[ -e $DIR/node-$i/net/cut ]] && die "node $i is cut off already"
    kill -STOP -- "-$p"
    touch "$DIR/node-$i/net/cut"
    note "node $i: cut off the network (relay group $p stopped)"
  else
    [[ -e $DIR/node-$i/net/cut ]] || die "node $i is not cut off"
    kill -CONT -- "-$p"
    rm -f "$DIR/node-$i/net/cut"
    note "node $i: network healed"
  fi
}

stop_relays() { # every relay there is (also of a node that never got ready), then its namespace
  local net i p mine
  for net in "$DIR"/node-*/net; do
    [[ -d $net ]] || continue
    i=${net%/net}
    i=${i##*/node-}
    p=$(relay_pid "$i")
    if [[ $p =~ ^[0-9]+$ ]]; then
      # the relay's group, also when its leader is gone: only processes that
      # carry this node's relay folder on their command line
      mine=$(pgrep -g "$p" -f -- "$net" || true)
      if [[ -n $mine ]]; then
        # shellcheck disable=SC2086 # a list of pids
        kill -CONT $mine 2>/dev/null || true
        # shellcheck disable=SC2086
        kill -TERM $mine 2>/dev/null || true
      fi
    fi
    ip netns del "$(netns_of "$i")" 2>/dev/null || true
  done
}

cmd_up() {
  local brokers=3 nodes=2 partitions=6 netns=0
  while (($#)); do
    case $1 in
      --brokers) brokers=${2:?}; shift 2 ;;
      --netns) netns=1; shift ;;
      --partitions) partitions=${2:?}; shift 2 ;;
      --nodes) nodes=${2:?}; shift 2 ;;
      --) shift; break ;;
      *) die "up: unknown option '$1'" ;;
    esac
  done
  [[ $brokers == 1 || $brokers == 3 ]] || die "--brokers must be 1 or 3"
  [[ $nodes =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 16)) || die "--nodes must be 1 to 16"
  [[ $partitions =~ ^[0-9]+$ ]] && ((partitions >= 1 && partitions <= 1000)) || die "--partitions must be 1 to 1000"
  [[ -x $KASTOR_BIN ]] || die "kastor binary '$KASTOR_BIN' not found (make build, or set KASTOR_BIN)"
  [[ -e $DIR/bootstrap ]] && die "$DIR holds a cluster already ($PROG down first)"
  ((netns == 0)) || check_netns_tools
  mkdir -p "$DIR"
  ((netns == 0)) || : >"$DIR/netns"
  : >"$DIR/nodes"
  printf '%s\n' "$@" | sed '/^$/d' >"$DIR/node-flags"
  echo "$brokers" >"$DIR/brokers"
  local line
  line=$(KASTOR_TOPIC_PARTITIONS=$partitions kafka start --brokers "$brokers" --port-base "$PORT_BASE" \
    --dir "$DIR/kafka" | tail -1)
  [[ $line == bootstrap.servers=* ]] || die "kafka did not start"
  echo "${line#bootstrap.servers=}" >"$DIR/bootstrap"
  for ((i = 1; i <= nodes; i++)); do start_node "$i"; done
  echo "bootstrap.servers=$(bootstrap)"
}

next_index() { sort -n "$DIR/nodes" 2>/dev/null | tail -1 | awk '{print $1 + 1}'; }

signal_node() { # signal index
  check_index "$2"
  local pid
  pid=$(node_pid "$2")
  alive "$pid" || die "node $2 is not running"
  kill "-$1" "$pid"
  note "node $2 (pid $pid): SIG$1"
}

cmd_status() {
  bootstrap >/dev/null
  local i pid state
  for i in $(sort -nu "$DIR/nodes"); do
    pid=$(node_pid "$i")
    if ! alive "$pid"; then state=down
    elif [[ $(proc_state "$pid") == T ]]; then state=paused
    else state=up; fi
    [[ -e $DIR/node-$i/net/cut ]] && state+=",cut"
    echo "node-$i pid=$pid $state http://127.0.0.1:$((HTTP_BASE + i))"
  done
  kafka status --dir "$DIR/kafka" || true
  "$KASTOR_BIN" ctl status --brokers "$(bootstrap)"
}

cmd_down() {
  [[ -d $DIR ]] || { note "nothing in $DIR"; return 0; }
  local i pid
  for i in $(sort -nu "$DIR/nodes" 2>/dev/null); do
    # a node cut off could not flush its producer while it stops
    if [[ -e $DIR/node-$i/net/cut ]]; then (cut_node "$i" heal) || true; fi
    pid=$(node_pid "$i")
    if alive "$pid"; then
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  local until=$((SECONDS + 20))
  for i in $(sort -nu "$DIR/nodes" 2>/dev/null); do
    pid=$(node_pid "$i")
    while alive "$pid" && ((SECONDS < until)); do sleep 0.2; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  stop_relays
  if [[ -e $DIR/kafka.state ]]; then kafka stop --dir "$DIR/kafka" || true; fi
  rm -rf "$DIR"
  note "stopped"
}

main() {
  (($#)) || { usage; exit 2; }
  local cmd=$1
  shift
  case $cmd in
    up) cmd_up "$@" ;;
    add-node) start_node "$(next_index)" ;;
    kill-node) signal_node KILL "${1:?node index}" ;;
    pause-node) signal_node STOP "${1:?node index}" ;;
    resume-node) signal_node CONT "${1:?node index}" ;;
    cut-node) cut_node "${1:?node index}" cut ;;
    heal-node) cut_node "${1:?node index}" heal ;;
    restart-node) check_index "${1:?node index}"; start_node "$1" ;;
    kill-broker) kafka kill-broker "${1:?broker number}" --dir "$DIR/kafka" ;;
    start-broker) kafka start-broker "${1:?broker number}" --dir "$DIR/kafka" ;;
    status) cmd_status ;;
    down) cmd_down ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
