#!/usr/bin/env bash
# The bank on a real Kafka, under faults: 3 brokers of its own (RF 3), two
# bank nodes, 50 accounts (3 of them closed, so that credits to them are
# compensated) and 2,500 random transfers in three waves. During the run one
# node is killed with kill -9 and one broker with kill -9; both come back. At
# the end `bank check` waits for every transfer to end and checks Jepsen's
# bank invariants over the final state of every account and transfer and
# every transfer requested (see apps/bank/include/bank/tools.hpp). A step
# unanswered for 1 s is voided (transfers.step-deadline-ms), so the faults
# also drive the sagas' durable timers and their compensations.
# The bank has no HTTP code of its own: its nodes' ops listeners (the
# runtime's) must answer /healthz, /readyz, /api/status and /api/supervision
# for its roles.
# Usage: system.sh <bank-binary> [at-least-once|exactly-once]
# Environment: BANK_PORT_BASE (default 28500: brokers on 28500..28505, the
# nodes' ops listeners on base+11 and base+12).
set -euo pipefail
bank=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mode=${2:-at-least-once}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kastor-bank.XXXXXX")
export KASTOR_KAFKA_STATE=$work/kafka.state  # beside any other Kafka of this machine
kafka() { KASTOR_BIN= bash "$repo/deploy/local/kafka.sh" "$@"; }
declare -A pids=()
cleanup() {
  for n in "${!pids[@]}"; do kill -9 "${pids[$n]}" 2>/dev/null || true; done
  kafka stop --dir "$work/kafka" >/dev/null 2>&1 || true
  if [[ ${keep_logs:-0} == 1 ]]; then
    for f in "$work"/node-*.log; do echo "--- $f (last 30 lines)"; tail -n 30 "$f"; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'keep_logs=1; echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
step() { echo "== $(date +%T) $*"; }

extra=()
[[ $mode == exactly-once ]] && extra=(--set exactly-once=accounts,transfers)
ops_port() { echo $((${BANK_PORT_BASE:-28500} + 10 + $1)); }
start_node() {  # node number
  "$bank" node --brokers "$brokers" --node-id "bank-$1" --data-dir "$work/data-$1" \
    --set "ops.http=127.0.0.1:$(ops_port "$1")" \
    --set group.prefix=bank --set topic.replication=3 --set kafka.session-timeout-ms=6000 \
    --set log.level=warn --set transfers.step-deadline-ms=1000 \
    "${extra[@]}" >>"$work/node-$1.log" 2>&1 &
  pids[$1]=$!
}
# Waits (up to $2 s) until at least $1 transfers have ended.
wait_ended() {
  local want=$1 deadline=$((SECONDS + $2)) line ended
  while :; do
    line=$("$bank" check --brokers "$brokers" --wait 0 2>&1 | grep '^accounts=' || true)
    ended=0
    for s in completed refused expired compensated; do
      [[ $line =~ $s=([0-9]+) ]] && ended=$((ended + BASH_REMATCH[1]))
    done
    ((ended >= want)) && { echo "   $line"; return 0; }
    if ((SECONDS >= deadline)); then
      echo "FAIL: only $ended of $want transfers ended within $2 s: $line" >&2
      keep_logs=1
      return 1
    fi
    sleep 1
  done
}

step "3 brokers ($mode)"
brokers=$(kafka start --brokers 3 --port-base "${BANK_PORT_BASE:-28500}" --dir "$work/kafka" \
  --no-topics | tail -n1 | sed 's/^bootstrap.servers=//')
"$bank" topics --brokers "$brokers" --partitions 6 --replication 3 --group-prefix bank
"$bank" open --brokers "$brokers" --accounts 50 --cents 10000 --close 3
step "two bank nodes, 1,000 transfers"
start_node 1
start_node 2
step "their ops listeners: health, readiness, status and supervision of the bank's roles"
for n in 1 2; do
  url="http://127.0.0.1:$(ops_port "$n")"
  deadline=$((SECONDS + 90))
  until curl -fsS "$url/readyz" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      keep_logs=1
      echo "FAIL: node $n not ready within 90 s: $(curl -sS "$url/readyz" 2>&1)" >&2
      exit 1
    fi
    sleep 0.5
  done
  [[ $(curl -fsS "$url/healthz") == '{"status":"ok"}' ]] || { echo "FAIL: node $n /healthz" >&2; exit 1; }
  status=$(curl -fsS "$url/api/status")
  for want in '"node":"bank-'"$n"'"' '"ready":true' '"role":"accounts"' '"role":"transfers"' \
              '"group":"bank.accounts"' '"kind":"entity"'; do
    [[ $status == *"$want"* ]] || { echo "FAIL: node $n /api/status lacks $want: $status" >&2; exit 1; }
  done
  [[ $(curl -fsS "$url/api/supervision") == *'root/transfers'* ]] \
    || { echo "FAIL: node $n /api/supervision has no root/transfers" >&2; exit 1; }
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
         -d '{"path":"root/accounts/worker"}' "$url/api/admin/crash")
  [[ $code == 403 ]] || { echo "FAIL: node $n crashed an actor without admin: $code" >&2; exit 1; }
done
"$bank" transfers --brokers "$brokers" --accounts 50 --count 1000 --max-cents 1500 --seed 1 --prefix a
wait_ended 200 180
step "kill -9 node 2 and broker 3 mid-run; 1,000 more transfers"
kill -9 "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
unset 'pids[2]'
kafka kill-broker 3 --dir "$work/kafka"
"$bank" transfers --brokers "$brokers" --accounts 50 --count 1000 --max-cents 1500 --seed 2 --prefix b
wait_ended 1200 240
step "node 2 and broker 3 back; 500 more"
start_node 2
kafka start-broker 3 --dir "$work/kafka"
"$bank" transfers --brokers "$brokers" --accounts 50 --count 500 --max-cents 1500 --seed 3 --prefix c
step "every transfer ends; the invariants hold"
set +e
out=$("$bank" check --brokers "$brokers" --wait 300)
rc=$?
set -e
echo "$out" | tail -n 25
[[ $rc -eq 0 ]] || { keep_logs=1; echo "FAIL: bank check exited $rc" >&2; exit 1; }
summary=$(echo "$out" | grep '^accounts=')
[[ $summary =~ transfers=2500 ]] || { echo "FAIL: not every transfer was seen: $summary" >&2; exit 1; }
for s in completed refused compensated; do
  [[ $summary =~ $s=[1-9] ]] || { echo "FAIL: no transfer was $s: $summary" >&2; exit 1; }
done
step "the nodes stop on SIGTERM"
for n in "${!pids[@]}"; do kill -TERM "${pids[$n]}"; done
for n in "${!pids[@]}"; do
  wait "${pids[$n]}" || { keep_logs=1; echo "FAIL: node $n exited non-zero" >&2; exit 1; }
  unset "pids[$n]"
done
echo "bank ($mode): PASS"
