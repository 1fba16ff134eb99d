#!/usr/bin/env bash
# The fault suite: a local cluster (cluster.sh), orders offered through every
# gateway while a schedule of faults runs, then heal, wait, and check the
# invariants over everything that happened (kastor ctl check). Prints the
# report; exits 0 only when every invariant holds.
set -euo pipefail

PROG=$(basename "$0")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
export KASTOR_BIN=${KASTOR_BIN:-$REPO_ROOT/build/bin/kastor}
export KASTOR_CLUSTER_DIR=${KASTOR_CLUSTER_DIR:-/tmp/kastor-chaos}
DIR=$KASTOR_CLUSTER_DIR
HTTP_BASE=${KASTOR_CLUSTER_HTTP_BASE:-18080}

usage() {
  cat <<EOF
Usage: $PROG [--duration S] [--rate R] [--concurrency C] [--nodes N] [--session-timeout-ms MS]
             [--partitions P] [--max-rss-mb MB] [--max-lag N] [--no-faults [--brokers 1|3]]
             [--only KINDS] [--schedule spaced|overlapping] [--no-netns] [--keep]
             [-- NODE-FLAGS...]

Starts 3 brokers and N kastor nodes (default 3), offers R orders/s (default 30)
for S seconds (default 90) through every gateway, at most C requests in flight
(default 8: raise it for throughput runs, or the client sets the pace), and meanwhile, spread over
the run: kill -9 a node and restart it; pause a node (SIGSTOP) past the session
timeout and resume it; kill the broker leading order-created partition 0 and
restart it; add a node; cut node 1 off the network past the session timeout
and heal it; kill the order group's coordinator broker and restart it. Then
it heals everything, waits until every acknowledged order is terminal
and runs \`kastor ctl check\`: no acknowledged order lost, no order charged or
emailed twice, no effect of a definitely failed request, per-order events in
order, every role's lag back to 0, node memory under --max-rss-mb (default
1024) and every role's lag (sampled every 10 s) under --max-lag (default a
minute of the offered load: rate x 3 records x 60). --no-faults runs the
same load and checks without any fault (a baseline, or a throughput figure
with --nodes 1..8; --brokers 1 for a lighter Kafka; --partitions a multiple of
the node count, or the busiest node sets the pace). --only runs just the
listed fault kinds at their usual times (kill, pause, leader, add, cut,
coordinator; e.g. --only add to measure the hand-off alone). The network cut needs
each node in a network namespace (cluster.sh up --netns: root, ip netns,
socat); where that cannot be had, or with --no-netns or --no-faults, the
nodes run without and the cut is left out (the report says why).
--schedule overlapping runs instead faults that overlap, as they do in a bad
hour: at 15% of the run the order group's coordinator broker is killed; 2 s
later, during the rebalance that follows, node 3 is paused past the session
timeout; as it resumes, node 2 is killed (kill -9); then the broker comes
back, and node 2 at 75% of the run (--only does not apply to it). The report
gives, per fault, the longest time no order reached NOTIFIED and ack ->
NOTIFIED p50/p99 of the orders acknowledged until the next fault.
The cluster is stopped at the end unless --keep. Files
(kept): ${DIR%/}-report/ (history, faults, RSS and lag samples, the load's
output, every node's and relay's log).

Environment: KASTOR_BIN ($KASTOR_BIN), KASTOR_CLUSTER_DIR ($DIR), and
cluster.sh's KASTOR_CLUSTER_HTTP_BASE / KASTOR_CLUSTER_PORT_BASE.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

duration=90 rate=30 nodes=3 session=10000 max_rss=1024 keep=0 faults=1 brokers=3 partitions=6
netns=auto max_lag="" concurrency=8 only=kill,pause,leader,add,cut,coordinator schedule=spaced
while (($#)); do
  case $1 in
    --duration) duration=${2:?}; shift 2 ;;
    --rate) rate=${2:?}; shift 2 ;;
    --nodes) nodes=${2:?}; shift 2 ;;
    --session-timeout-ms) session=${2:?}; shift 2 ;;
    --max-rss-mb) max_rss=${2:?}; shift 2 ;;
    --max-lag) max_lag=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-faults) faults=0; shift ;;
    --no-netns) netns=0; shift ;;
    --only) only=${2:?}; shift 2 ;;
    --schedule) schedule=${2:?}; shift 2 ;;
    --concurrency) concurrency=${2:?}; shift 2 ;;
    --brokers) brokers=${2:?}; shift 2 ;;
    --partitions) partitions=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
[[ $duration =~ ^[0-9]+$ ]] && ((duration >= 30)) || die "--duration must be at least 30 (seconds)"
[[ $rate =~ ^[0-9]+$ ]] && ((rate >= 1)) || die "--rate must be a whole number of orders/s >= 1"
[[ $concurrency =~ ^[0-9]+$ ]] && ((concurrency >= 1 && concurrency <= 256)) ||
  die "--concurrency must be 1 to 256 (requests the load has in flight)"
[[ $nodes =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 8)) || die "--nodes must be 1 to 8"
((faults == 0 || nodes >= 3)) || die "the fault schedule needs --nodes 3 or more"
[[ $brokers == 1 || $brokers == 3 ]] || die "--brokers must be 1 or 3"
((faults == 0 || brokers == 3)) || die "the fault schedule needs 3 brokers (kills one)"
[[ $session =~ ^[0-9]+$ ]] && ((session >= 6000)) || die "--session-timeout-ms must be >= 6000 (the brokers' minimum)"
[[ $max_rss =~ ^[0-9]+$ ]] || die "--max-rss-mb must be a number"
for k in ${only//,/ }; do
  [[ $k =~ ^(kill|pause|leader|add|cut|coordinator)$ ]] ||
    die "--only takes kill,pause,leader,add,cut,coordinator (a comma-separated subset), not '$k'"
done
[[ -n ${only//,/} ]] || die "--only needs at least one fault kind"
[[ $schedule == spaced || $schedule == overlapping ]] ||
  die "--schedule must be spaced or overlapping, not '$schedule'"
# A role reads about 3 records per order: a minute of the offered load.
max_lag=${max_lag:-$((rate * 3 * 60))}
[[ $max_lag =~ ^[0-9]+$ ]] || die "--max-lag must be a number of records"
[[ -x $KASTOR_BIN ]] || die "kastor binary '$KASTOR_BIN' not found (make build, or set KASTOR_BIN)"
command -v kcat >/dev/null || die "kcat is needed to find partition leaders (apt-get install kcat)"

cluster() { bash "$HERE/cluster.sh" "$@"; }
want() { [[ ,$only, == *,$1,* ]]; }  # is this fault kind in --only?
now_ms() { date +%s%3N; }

pids=()  # our background jobs (load, samplers), stopped on exit
work=${DIR%/}-report  # kept after the cluster is gone
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # the nodes' logs go with the report (a node that died on its own says why there)
  if [[ -d $work ]]; then
    local log i
    for log in "$DIR"/node-*/node.log "$DIR"/node-*/net/relay.log; do
      [[ -e $log ]] || continue
      i=${log#"$DIR"/}
      cp "$log" "$work/${i//\//-}" 2>/dev/null || true
    done
  fi
  if ((keep == 0)); then cluster down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"

# The network cut needs the nodes in namespaces of their own (and a run
# without faults runs without them: its figures are the plain cluster's).
netns_why=""
if ((faults == 0)); then
  netns=0 netns_why="--no-faults"
elif ! want cut; then
  netns=0 netns_why="not in --only"
elif [[ $netns == auto ]]; then
  netns=1 probe=kastor-probe-$$
  if (($(id -u) != 0)); then netns_why="needs root"
  elif ! command -v socat >/dev/null; then netns_why="needs socat (apt-get install socat)"
  elif ! ip netns add "$probe" 2>/dev/null; then netns_why="needs network namespaces (ip netns add failed)"
  else ip netns del "$probe"; fi
  [[ -z $netns_why ]] || netns=0
elif ((netns == 0)); then netns_why="--no-netns"
fi
up_flags=()
((netns == 0)) || up_flags+=(--netns)
# The nodes' group.prefix, if NODE-FLAGS set one (status and check need it).
prefix=kastor
for f in "$@"; do [[ $f == group.prefix=* ]] && prefix=${f#group.prefix=}; done

cluster up --brokers "$brokers" --nodes "$nodes" --partitions "$partitions" "${up_flags[@]}" \
  -- --set "kafka.session-timeout-ms=$session" "$@"
bootstrap=$(cat "$DIR/bootstrap")
: >"$work/faults"
: >"$work/rss"
: >"$work/lag"
fault() { echo "$(now_ms) $*" >>"$work/faults"; note "fault: $*"; }

# Memory of every node, once a second.
(
  while true; do
    for f in "$DIR"/node-*/pid; do
      p=$(cat "$f" 2>/dev/null) || continue
      kb=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null) || continue
      [[ -n $kb ]] && echo "$p $kb" >>"$work/rss"
    done
    sleep 1
  done
) &
pids+=($!)

# Lag of every role's group, every 10 s (what `kastor ctl status` reads; a
# partition whose leader is down counts as 0 until it answers again). A
# status still running when the run ends is stopped with its sampler.
(
  st=""
  trap '[[ -n $st ]] && kill "$st" 2>/dev/null; exit 0' TERM
  while true; do
    t=$(now_ms)
    "$KASTOR_BIN" ctl status --brokers "$bootstrap" --prefix "$prefix" >"$work/lag.now" 2>/dev/null &
    st=$!
    wait "$st" || true
    awk -v t="$t" '$2 == "group" { for (i = 1; i < NF; i++) if ($i == "lag") { l = $(i + 1); sub(",", "", l); print t, $1, l } }' \
      "$work/lag.now" >>"$work/lag" || true
    sleep 10 &
    st=$!
    wait "$st" || true
  done
) &
pids+=($!)

# The load: every gateway there is or will be (the added node's too).
gateways=""
for ((i = 1; i <= nodes + 1; i++)); do gateways+="${gateways:+,}127.0.0.1:$((HTTP_BASE + i))"; done
start=$SECONDS
"$KASTOR_BIN" ctl load --gateways "$gateways" --rate "$rate" --duration "$duration" --concurrency "$concurrency" \
  --history "$work/history" --key-prefix "chaos-$(now_ms)" >"$work/load.out" 2>&1 &
load=$!
pids+=("$load")

at() { # fraction-of-the-run (percent): wait until then
  local due=$((start + duration * $1 / 100))
  while ((SECONDS < due)); do sleep 0.2; done
}
leader_of() { # topic partition -> broker id
  kcat -b "$bootstrap" -L -t "$1" 2>/dev/null |
    awk -v p="$2" '$1 == "partition" && $2 == p "," {print $4; exit}' | tr -d ,
}
coordinator_of() { # role -> broker id of its group's coordinator
  "$KASTOR_BIN" ctl status --brokers "$bootstrap" --prefix "$prefix" 2>/dev/null |
    awk -v r="$1" '$1 == r { for (i = 1; i <= NF; i++) if ($i == "coordinator") print $(i + 2) }' |
    head -1
}
pause_s=$(((session + 4000) / 1000))

schedule() {
if want kill; then
  at 8
  fault "kill -9 node 2"
  cluster kill-node 2
  at 20
  fault "restart node 2"
  cluster restart-node 2
fi
if want pause; then
  at 27
  fault "pause node 3 for ${pause_s} s (session timeout $((session / 1000)) s)"
  cluster pause-node 3
  sleep "$pause_s"
  fault "resume node 3"
  cluster resume-node 3
fi
if want leader; then
  at 44
  b=$(leader_of order-created 0 || true)
  [[ -n $b ]] || b=1
  fault "kill -9 broker $b (leader of order-created partition 0)"
  cluster kill-broker "$b"
  at 52
  fault "restart broker $b"
  cluster start-broker "$b"
fi
if want add; then
  at 58
  fault "add node $((nodes + 1)) under load"
  cluster add-node
fi
if ! want cut; then
  :
elif ((netns)); then
  at 63
  fault "cut node 1 off the network for ${pause_s} s (session timeout $((session / 1000)) s)"
  cluster cut-node 1
  sleep "$pause_s"
  fault "heal node 1's network"
  cluster heal-node 1
else
  echo "(not injected: a network cut: $netns_why)" >>"$work/faults"
fi
if want coordinator; then
  at 80
  c=$(coordinator_of order || true)
  [[ -n $c ]] || c=2
  fault "kill -9 broker $c (coordinator of the order group)"
  cluster kill-broker "$c"
  at 88
  sleep 4  # down for a while however late the schedule runs
  fault "restart broker $c"
  cluster start-broker "$c"
fi
}
# Faults that overlap: a coordinator lost, a node paused during the
# rebalance that follows, another node killed as it resumes.
overlapping() {
  at 15
  local c
  c=$(coordinator_of order || true)
  [[ -n $c ]] || c=1
  fault "kill -9 broker $c (coordinator of the order group)"
  cluster kill-broker "$c"
  sleep 2
  fault "pause node 3 for ${pause_s} s during the rebalance (session timeout $((session / 1000)) s)"
  cluster pause-node 3
  sleep "$pause_s"
  fault "resume node 3"
  cluster resume-node 3
  fault "kill -9 node 2 as node 3 resumes"
  cluster kill-node 2
  fault "restart broker $c"
  cluster start-broker "$c"
  at 75
  fault "restart node 2"
  cluster restart-node 2
}
if ((!faults)); then
  echo "(none: --no-faults)" >>"$work/faults"
elif [[ $schedule == overlapping ]]; then
  overlapping
else
  schedule
fi

wait "$load" || true
cat "$work/load.out"
# Heal: every node up (one the schedule left down is restarted), and back on
# the network.
for f in "$DIR"/node-*/net/cut; do
  [[ -e $f ]] || continue
  i=${f%/net/cut}
  i=${i##*/node-}
  fault "heal: network of node $i"
  cluster heal-node "$i"
done
for f in "$DIR"/node-*/pid; do
  i=${f%/pid}
  i=${i##*/node-}
  p=$(cat "$f")
  if ! kill -0 "$p" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) == Z ]]; then
    fault "heal: restart node $i"
    cluster restart-node "$i"
  fi
done
rc=0
"$KASTOR_BIN" ctl check --brokers "$bootstrap" --history "$work/history" --ledgers "$DIR/provider" \
  --faults "$work/faults" --rss-samples "$work/rss" --max-rss-mb "$max_rss" \
  --lag-samples "$work/lag" --max-lag "$max_lag" --prefix "$prefix" --wait 180 || rc=$?
exit "$rc"
