#!/usr/bin/env bash
# A local kastor cluster: Kafka brokers (through kafka.sh) and N `kastor node`
# processes on 127.0.0.1, with one command per fault: kill a node (kill -9),
# pause and resume one (SIGSTOP/SIGCONT), kill and restart a broker.
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
  up [--brokers 1|3] [--nodes N] [--partitions P] [-- NODE-FLAGS...]
      Start Kafka (default 3 brokers: RF 3, min.insync.replicas=2; P partitions
      per topic, default 6: a multiple of the node counts you plan) and N kastor
      nodes (default 2), each with every role and its gateway on
      127.0.0.1:$HTTP_BASE+i. NODE-FLAGS are passed to every node (e.g. --set
      payment.latency-ms=20). Waits until every node answers /readyz.
  add-node           Start one more node (the next index) and wait until it is ready.
  kill-node I        kill -9 node I.
  pause-node I       SIGSTOP node I (it keeps its sockets and stops answering).
  resume-node I      SIGCONT node I.
  restart-node I     Start node I again (after kill-node) and wait until it is ready.
  kill-broker N      kill -9 broker N (kafka.sh kill-broker).
  start-broker N     Restart broker N (kafka.sh start-broker).
  status             Each node: pid, up/paused/down, its gateway; then
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
  local flags=()
  [[ -f $DIR/node-flags ]] && mapfile -t flags <"$DIR/node-flags"
  setsid "$KASTOR_BIN" node --brokers "$(bootstrap)" --node-id "node-$i" \
    --http "127.0.0.1:$port" --data-dir "$DIR/provider" \
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

cmd_up() {
  local brokers=3 nodes=2 partitions=6
  while (($#)); do
    case $1 in
      --brokers) brokers=${2:?}; shift 2 ;;
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
  mkdir -p "$DIR"
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
    echo "node-$i pid=$pid $state http://127.0.0.1:$((HTTP_BASE + i))"
  done
  kafka status --dir "$DIR/kafka" || true
  "$KASTOR_BIN" ctl status --brokers "$(bootstrap)"
}

cmd_down() {
  [[ -d $DIR ]] || { note "nothing in $DIR"; return 0; }
  local i pid
  for i in $(sort -nu "$DIR/nodes" 2>/dev/null); do
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
