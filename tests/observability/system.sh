#!/usr/bin/env bash
# Issue 22: a real Prometheus (Debian's) scrapes a running shop node and a
# running bank node through deploy/observability/ (its scrape config and its
# rules, as shipped) and the values it stores move with the work:
#   - N orders: the order role's order_created turns, the payment role's
#     payment_request turns and shop_orders_total{status="PENDING"} rise by N,
#     the gateway's 202s by N;
#   - one crashed worker: its restarts by 1;
#   - one poison record: the payment role's dead letters by 1, reason
#     malformed_json, and the KastorDeadLetters alert fires;
#   - M transfers: the bank's bank_transfers_total by M.
# Also: promtool check metrics on both nodes' scrapes, promtool check rules
# and config on deploy/observability/, the rules loaded by Prometheus, and
# every metric a rule or a dashboard panel names served by one of the nodes.
# And the logs (log.format=json): every line either node writes is a JSON
# object with time, level, logger, message and node; one order's W3C trace
# (sent with its POST, returned in the 202) is on its lines in every role and
# in the traceparent header of each of its records in every topic.
# Usage: system.sh <kastor-binary> <bank-binary>
# Environment: KASTOR_BROKERS (a real Kafka; without it the test is skipped,
# exit 77), OBS_PORT_BASE (default 28700: the listeners on base+1..base+4).
set -euo pipefail
kastor=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
bank=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
repo=$(cd "$(dirname "$0")/../.." && pwd)
obs=$repo/deploy/observability
if [[ -z ${KASTOR_BROKERS:-} ]]; then
  echo "SKIP: needs a real Kafka: run through 'make test' (KASTOR_BROKERS)"
  exit 77
fi
for tool in prometheus promtool curl kcat python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (make deps)" >&2; exit 1; }
done
brokers=$KASTOR_BROKERS
base=${OBS_PORT_BASE:-28700}
http_port=$((base + 1)) shop_ops=$((base + 2)) bank_ops=$((base + 3)) prom_port=$((base + 4))
token=observability-admin-token
run=obs-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/kastor-obs.XXXXXX")
declare -A pids=()
cleanup() {
  for n in "${!pids[@]}"; do kill -9 "${pids[$n]}" 2>/dev/null || true; done
  for n in "${!pids[@]}"; do wait "${pids[$n]}" 2>/dev/null || true; done
  if [[ ${keep_logs:-0} == 1 ]]; then
    for f in "$work"/*.log; do echo "--- $f (last 30 lines)"; tail -n 30 "$f"; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'keep_logs=1; echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
step() { echo "== $(date +%T) $*"; }
fail() { keep_logs=1; echo "FAIL: $*" >&2; exit 1; }

# A PromQL query's single value ("none" when it has no sample).
q() {
  curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
# Waits up to $3 s for the query $1 to answer $2 (a number compared as one).
wait_for() {
  local expr=$1 want=$2 deadline=$((SECONDS + $3)) got
  while :; do
    got=$(q "$expr")
    [[ $got != none ]] && python3 -c "import sys; sys.exit(0 if float('$got') == float('$want') else 1)" &&
      return 0
    ((SECONDS < deadline)) || fail "$expr is $got, not $want, after $3 s"
    sleep 1
  done
}
ready() {  # url
  local deadline=$((SECONDS + 90))
  until curl -fsS "$1/readyz" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$1 not ready within 90 s: $(curl -sS "$1/readyz" 2>&1)"
    sleep 0.5
  done
}

step "the shipped configuration passes promtool"
promtool check rules "$obs/rules.yml"
promtool check config "$obs/prometheus.yml"
# Debian's Prometheus is built without Kubernetes discovery: the Kubernetes
# variant is checked with its discovery swapped for a static one.
sed -e 's/kubernetes_sd_configs:/static_configs:/' -e 's/- role: pod/- targets: ["127.0.0.1:9464"]/' \
  "$obs/prometheus-kubernetes.yml" >"$work/prometheus-kubernetes.yml"
cp "$obs/rules.yml" "$work/"
promtool check config "$work/prometheus-kubernetes.yml"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$obs/grafana-dashboard.json"

step "a shop node and a bank node on $brokers (group prefix $run)"
"$kastor" node --brokers "$brokers" --node-id "$run-shop" --data-dir "$work/shop" \
  --http "127.0.0.1:$http_port" --set "ops.http=127.0.0.1:$shop_ops" --set "group.prefix=$run" \
  --set "admin.token=$token" --set kafka.session-timeout-ms=6000 --log-level debug \
  --set log.format=json >"$work/shop.out" 2>"$work/shop.log" &
pids[shop]=$!
"$bank" topics --brokers "$brokers" --partitions 2 --replication 1 --group-prefix "$run-bank" >/dev/null
"$bank" open --brokers "$brokers" --accounts 10 --cents 100000 >/dev/null
"$bank" node --brokers "$brokers" --node-id "$run-bank" --data-dir "$work/bank" \
  --set "ops.http=127.0.0.1:$bank_ops" --set "group.prefix=$run-bank" \
  --set kafka.session-timeout-ms=6000 --set log.level=info --set log.format=json \
  >"$work/bank.out" 2>"$work/bank.log" &
pids[bank]=$!
ready "http://127.0.0.1:$shop_ops"
ready "http://127.0.0.1:$bank_ops"

step "Prometheus with deploy/observability/ (1 s scrapes), targets the two nodes"
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
  "$obs/prometheus.yml" >"$work/prometheus.yml"
mkdir -p "$work/targets"
cat >"$work/targets/test.yml" <<EOF
- targets: ["127.0.0.1:$shop_ops"]
  labels: {app: shop}
- targets: ["127.0.0.1:$bank_ops"]
  labels: {app: bank}
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids[prometheus]=$!
deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1; do
  ((SECONDS < deadline)) || fail "Prometheus not ready within 60 s"
  sleep 0.5
done
wait_for 'count(up{job="kastor"} == 1)' 2 60
rules=$(curl -fsS "http://127.0.0.1:$prom_port/api/v1/rules" |
  python3 -c 'import json,sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r["name"] for r in rules if r.get("health") == "err"]
print(len(rules), *bad)')
[[ $rules == 9 ]] || fail "Prometheus loaded rules: $rules (want 9, none in error)"

step "the nodes' scrapes pass promtool check metrics; every metric the rules and panels name is served"
curl -fsS "http://127.0.0.1:$shop_ops/metrics" >"$work/shop.prom"
curl -fsS "http://127.0.0.1:$bank_ops/metrics" >"$work/bank.prom"
promtool check metrics <"$work/shop.prom"
promtool check metrics <"$work/bank.prom"
grep -q '^bank_transfers_total{outcome="completed"} ' "$work/bank.prom" ||
  fail "the bank's node does not serve bank_transfers_total"
grep -q '^kastor_records_finished_total{role="transfers"} ' "$work/bank.prom" ||
  fail "the bank's node does not serve its roles' metrics"
missing=$(cat "$obs/rules.yml" "$obs/grafana-dashboard.json" |
  grep -oE '\b(kastor|shop|bank)_[a-z0-9_]+' | sed -E 's/_(bucket|count|sum)$//' | sort -u |
  while read -r name; do
    grep -q "^# TYPE $name " "$work/shop.prom" "$work/bank.prom" || echo "$name"
  done)
[[ -z $missing ]] || fail "named by a rule or panel, served by no node: $missing"

step "the shop drains what earlier runs left on the topics, then N=20 orders"
wait_for "sum(kastor_partition_lag{app=\"shop\"}) + sum(kastor_records_in_flight{app=\"shop\"})" 0 240
created='sum(kastor_turn_duration_seconds_count{app="shop",role="order",type="order_created"})'
requests='sum(kastor_turn_duration_seconds_count{app="shop",role="payment",type="payment_request"})'
pending='sum(shop_orders_total{app="shop",status="PENDING"})'
accepted='sum(kastor_http_requests_total{app="shop",route="/api/orders",code="202"}) or vector(0)'
b_created=$(q "$created") b_requests=$(q "$requests") b_pending=$(q "$pending") b_accepted=$(q "$accepted")
for i in $(seq 1 20); do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$http_port/api/orders" \
    -H 'Content-Type: application/json' -d "{\"customerId\":\"$run-c$i\",
      \"items\":[{\"productId\":\"p-1\",\"name\":\"P\",\"price\":10.5,\"quantity\":2,\"subtotal\":21.0}],
      \"totalAmount\":21.0}")
  [[ $code == 202 ]] || fail "POST /api/orders answered $code"
done
wait_for "$created - $b_created" 20 120
wait_for "$requests - $b_requests" 20 120
wait_for "$pending - $b_pending" 20 60
wait_for "($accepted) - $b_accepted" 20 30

step "one order's trace: returned, on its lines in every role, on its records in every topic"
trace=0af7651916cd43dd8448eb211c80319c
reply=$(curl -sS -D "$work/headers" -X POST "http://127.0.0.1:$http_port/api/orders" \
  -H 'Content-Type: application/json' -H "traceparent: 00-$trace-b7ad6b7169203331-01" \
  -d "{\"customerId\":\"$run-traced\",\"items\":[{\"productId\":\"p-1\",\"name\":\"P\",
      \"price\":10.5,\"quantity\":1,\"subtotal\":10.5}],\"totalAmount\":10.5}")
order=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["orderId"])' "$reply")
grep -qi "^traceparent: 00-$trace-" "$work/headers" || fail "the 202 did not return the trace: $(cat "$work/headers")"
deadline=$((SECONDS + 60))
until [[ $(curl -fsS "http://127.0.0.1:$http_port/api/orders/$order") == *'"NOTIFIED"'* ]]; do
  ((SECONDS < deadline)) || fail "order $order not NOTIFIED within 60 s"
  sleep 0.5
done
sleep 1  # (the analytics view takes its last records)
python3 - "$work/shop.log" "$work/bank.log" "$trace" <<'PY'
import json, sys
trace = sys.argv[3]
roles = set()
for path in sys.argv[1:3]:
    n = 0
    for number, line in enumerate(open(path, encoding="utf-8", errors="strict"), 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            sys.exit(f"FAIL: {path}:{number} is not JSON ({e}): {line[:200]}")
        for field in ("time", "level", "logger", "message", "node"):
            if not isinstance(o.get(field), str) or not o[field]:
                sys.exit(f"FAIL: {path}:{number} has no {field}: {line[:200]}")
        if o.get("trace_id") == trace and "role" in o:
            roles.add(o["role"])
        n += 1
    if n == 0:
        sys.exit(f"FAIL: {path} is empty")
want = {"order", "payment", "email", "analytics"}
if not want <= roles:
    sys.exit(f"FAIL: the trace {trace} is on lines of roles {sorted(roles)}, not all of {sorted(want)}")
print(f"   every line is JSON; trace {trace} on the lines of {sorted(roles)}")
PY
for topic in order-created payment-requests payment-results notification-events email-sent order-state; do
  # (read whole before grep: grep -q stopping early would fail kcat's pipe)
  kcat -C -b "$brokers" -t "$topic" -e -q -f '%k\t%h\n' >"$work/records" 2>/dev/null
  grep -q "^$order	.*traceparent=00-$trace-" "$work/records" ||
    fail "no record of order $order in $topic carries the trace $trace"
done

step "one crashed worker: its restarts rise by 1"
restarts='sum(kastor_supervisor_restarts_total{app="shop",path="root/payment/worker"}) or vector(0)'
b_restarts=$(q "$restarts")
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$shop_ops/api/admin/crash" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"path":"root/payment/worker"}')
[[ $code == 202 ]] || fail "the admin crash answered $code"
wait_for "($restarts) - $b_restarts" 1 60

step "one poison record: the payment role's dead letters rise by 1 (malformed_json), the alert fires"
dead='sum(kastor_dead_letters_total{app="shop",role="payment",reason="malformed_json"}) or vector(0)'
b_dead=$(q "$dead")
echo "$run-poison:this is not JSON" | kcat -P -b "$brokers" -t payment-requests -K: 2>/dev/null
wait_for "($dead) - $b_dead" 1 60
wait_for 'count(ALERTS{alertname="KastorDeadLetters",alertstate="firing",role="payment",reason="malformed_json"})' 1 60

step "M=20 transfers: the bank's transfers ended rise by 20"
wait_for "sum(kastor_partition_lag{app=\"bank\"}) + sum(kastor_records_in_flight{app=\"bank\"})" 0 120
ended='sum(bank_transfers_total{app="bank"})'
b_ended=$(q "$ended")
"$bank" transfers --brokers "$brokers" --accounts 10 --count 20 --max-cents 500 --seed 5 \
  --prefix "$run-t" >/dev/null
wait_for "$ended - $b_ended" 20 120

step "the nodes stop on SIGTERM"
for n in shop bank; do kill -TERM "${pids[$n]}"; done
for n in shop bank; do
  wait "${pids[$n]}" || fail "the $n node exited non-zero"
  unset "pids[$n]"
done
echo "observability: PASS"
