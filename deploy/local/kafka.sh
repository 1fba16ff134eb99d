#!/usr/bin/env bash
# Runs a real Apache Kafka (KRaft, no ZooKeeper) on 127.0.0.1, from jars that
# Maven fetches from Maven Central. See deploy/local/README.md and `kafka.sh --help`.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
POM="$SCRIPT_DIR/pom.xml"
PROG=kafka.sh

# The pinned version lives in pom.xml (<kafka.version>); KASTOR_KAFKA_VERSION overrides it.
pom_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)
KAFKA_VERSION=${KASTOR_KAFKA_VERSION:-$pom_version}
CACHE_ROOT=${KASTOR_CACHE:-${HOME:-/root}/.cache/kastor}
KAFKA_HOME_DIR="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME_DIR/libs"
LIBS_MARKER="$LIBS/.kastor-complete"
STATE_FILE=${KASTOR_KAFKA_STATE:-/tmp/kastor-kafka.current}
RUN_MARKER=kastor-kafka.run          # file that identifies a run folder made by this script

DEFAULT_PORT_BASE=19092
DEFAULT_TIMEOUT=${KASTOR_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KASTOR_KAFKA_STOP_TIMEOUT:-20}
JVM_HEAP=${KASTOR_KAFKA_HEAP:--Xms256m -Xmx512m}

usage() {
  cat <<EOF
Usage: $PROG COMMAND [OPTIONS]

Runs Apache Kafka $KAFKA_VERSION (KRaft: every node is broker+controller) on 127.0.0.1
from jars fetched by Maven into $LIBS.

Commands:
  fetch
      Materialise the Kafka jars (mvn dependency:copy-dependencies, deploy/local/pom.xml).
      Idempotent: once the cache is complete, nothing is downloaded and mvn is not run.
      Prints the libs folder.
  start [--brokers 1|3] [--port-base N] [--dir DIR] [--timeout S] [--config KEY=VALUE]...
        [--no-topics]
      Start 1 or 3 nodes in the background and wait until all are ready; then create
      the topics (see create-topics). Last line on stdout:
          bootstrap.servers=127.0.0.1:P1[,127.0.0.1:P2,...]
      Refuses to start if the state file already names a running cluster.
  stop [--dir DIR] [--keep]
      Stop exactly the JVMs this script started (recorded pids): SIGTERM, after
      ${STOP_TIMEOUT}s SIGKILL. Then delete the run folder unless --keep.
  status [--dir DIR]
      Print the state of each node and the bootstrap string.
      Exit 0: all nodes up; 1: some down; 3: not running / no cluster.
  run [--brokers 1|3] [--port-base N] [--dir DIR] [--timeout S] [--config KEY=VALUE]...
      [--no-topics] [--keep] -- CMD [ARGS...]
      Start, run CMD with KASTOR_BROKERS=<bootstrap>, KASTOR_KAFKA_DIR=<run folder>,
      KASTOR_KAFKA_BROKER_COUNT=<n> in its environment, then always stop (also on
      failure, Ctrl-C, SIGTERM). Exits with CMD's exit code (128+n on signal n).
      A watchdog stops the nodes if this process is killed with SIGKILL.
  kill-broker N [--dir DIR]
      kill -9 node N (1..count) of a running cluster (for fault tests).
  start-broker N [--dir DIR] [--timeout S]
      Restart node N with its previous config and data; wait until it is ready.
  create-topics [--dir DIR]
      Run "\$KASTOR_BIN topics create --brokers <bootstrap> --replication <nodes>" (the kastor binary owns the
      topic list). KASTOR_BIN defaults to $REPO_ROOT/build/bin/kastor;
      KASTOR_BIN= (empty) disables it. A missing binary is reported on stderr and is
      not an error; a failing one is.
  -h, --help
      This text.

Options:
  --brokers 1|3     Number of nodes (default 1). With 3: default.replication.factor=3,
                    min.insync.replicas=2, offsets/transaction logs RF 3, min ISR 2.
                    With 1: all of those 1.
  --port-base N     Default $DEFAULT_PORT_BASE. Node i (1-based) listens on
                      PLAINTEXT  127.0.0.1:N+2*(i-1)      (clients: bootstrap.servers)
                      CONTROLLER 127.0.0.1:N+2*(i-1)+1    (KRaft quorum only)
                    so 1 node: 19092/19093; 3 nodes: 19092,19094,19096 / 19093,19095,19097.
  --dir DIR         Run folder (data, logs, pids). Default: a fresh
                    mktemp -d /tmp/kastor-kafka.XXXXXX. Must be new, empty, or a folder
                    of an earlier run kept with --keep (its data and cluster id are
                    reused). For stop/status/kill-broker/start-broker/create-topics the
                    default is \$KASTOR_KAFKA_DIR if set, else the folder named in the
                    state file $STATE_FILE.
  --timeout S       Readiness deadline in seconds (default $DEFAULT_TIMEOUT).
  --config K=V      Extra server.properties line for every node (repeatable).
  --no-topics       Do not run create-topics after start.
  --keep            Keep the run folder after stopping.

Environment:
  KASTOR_CACHE                 jar cache root (default \$HOME/.cache/kastor)
  KASTOR_KAFKA_VERSION         Kafka version (default $pom_version, from pom.xml)
  KASTOR_KAFKA_STATE           state file (default /tmp/kastor-kafka.current)
  KASTOR_KAFKA_START_TIMEOUT   default --timeout (90)
  KASTOR_KAFKA_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL (20)
  KASTOR_KAFKA_HEAP            JVM heap options (default "-Xms256m -Xmx512m")
  KASTOR_KAFKA_JVM_OPTS        extra JVM options
  KASTOR_BIN                   kastor binary used by create-topics
  KASTOR_TOPIC_PARTITIONS      partitions of each topic create-topics makes (default 6)

Run folder layout: $RUN_MARKER, cluster.id, bootstrap, broker-count, log4j.properties,
broker-N/{server.properties,pid,data/,logs/server.log,logs/controller.log,stdout.log}.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "Try '$PROG --help'." >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

need_value() { # option, remaining-arg-count
  [[ $2 -ge 2 ]] || usage_error "option $1 needs a value"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------
libs_ready() {
  [[ -f $LIBS_MARKER && -f $LIBS/kafka_2.13-$KAFKA_VERSION.jar ]]
}

do_fetch() {
  libs_ready && return 0
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$KAFKA_HOME_DIR"
  # One fetch at a time; the lock fd is only open inside this subshell, so no broker
  # JVM ever inherits it.
  (
    flock 9
    libs_ready && exit 0
    tmp=$(mktemp -d "$KAFKA_HOME_DIR/libs.tmp.XXXXXX")
    note "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS ..."
    # Debian's mvn prints bare ANSI resets even with -q/-B: strip them and blank lines.
    if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 |
        sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
      rm -rf "$tmp"
      echo "$PROG: mvn failed to fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION" >&2
      exit 1
    fi
    [[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || { rm -rf "$tmp"; echo "$PROG: kafka_2.13-$KAFKA_VERSION.jar missing after mvn" >&2; exit 1; }
    echo "kafka_2.13:$KAFKA_VERSION fetched $(date -u +%FT%TZ)" > "$tmp/.kastor-complete"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
  ) 9>"$KAFKA_HOME_DIR/.fetch.lock"
}

# ---------------------------------------------------------------------------------
# run-folder helpers
# ---------------------------------------------------------------------------------
# Resolve the run folder for commands acting on an existing cluster.
resolve_dir() { # [explicit dir]
  local d=${1:-}
  if [[ -z $d && -n ${KASTOR_KAFKA_DIR:-} ]]; then d=$KASTOR_KAFKA_DIR; fi
  if [[ -z $d && -f $STATE_FILE ]]; then d=$(<"$STATE_FILE"); fi
  [[ -n $d ]] || return 1
  [[ -f $d/$RUN_MARKER ]] || return 1
  (cd "$d" && pwd)
}

broker_count() { cat "$1/broker-count"; }
port_base_of() { sed -n 's/^port_base=//p' "$1/$RUN_MARKER"; }
plain_port() { echo $(( $1 + 2 * ($2 - 1) )); }       # base, node
ctrl_port() { echo $(( $1 + 2 * ($2 - 1) + 1 )); }     # base, node

# The pid of node N if it is alive and really is our JVM (cmdline carries the marker).
node_pid() { # dir node
  local f="$1/broker-$2/pid" pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  is_uint "$pid" || return 1
  pid_is_ours "$pid" "-Dkastor.kafka.node=$1/broker-$2 " || return 1
  echo "$pid"
}

pid_is_ours() { # pid marker-substring
  [[ -r /proc/$1/cmdline ]] || return 1
  local cmd
  # args joined by spaces; the process may vanish between the test above and the read
  cmd=$( { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null) || return 1
  [[ $cmd == *"$2"* ]] || return 1
  # A zombie is as good as dead.
  [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

java_cmd() { # dir node -> prints nothing, fills array JAVA_ARGS
  local dir=$1 n=$2
  # shellcheck disable=SC2206
  local heap=($JVM_HEAP) extra=(${KASTOR_KAFKA_JVM_OPTS:-})
  JAVA_ARGS=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    "-Dkastor.kafka.node=$dir/broker-$n"
    "-Dlog4j.configuration=file:$dir/log4j.properties"
    "-Dkafka.logs.dir=$dir/broker-$n/logs"
    "${extra[@]}"
    -cp "$LIBS/*" kafka.Kafka "$dir/broker-$n/server.properties")
}

launch_node() { # dir node
  local dir=$1 n=$2
  java_cmd "$dir" "$n"
  # setsid: own session, so a terminal's Ctrl-C/hangup does not reach the JVM; the
  # script stops it. In a non-interactive shell the background child is not a group
  # leader, so setsid execs in place and $! is the JVM's pid.
  setsid "${JAVA_ARGS[@]}" </dev/null >"$dir/broker-$n/stdout.log" 2>&1 &
  local pid=$! until=$((SECONDS + 20))
  echo "$pid" > "$dir/broker-$n/pid"
  disown "$pid"   # no "Killed" job notice from bash after kill-broker
  # Until the forked child has exec'd the JVM, /proc shows this script's command
  # line, without the marker node_pid looks for: on a busy machine that took long
  # enough for wait_ready to take a starting broker for one that had exited.
  while kill -0 "$pid" 2>/dev/null && ! pid_is_ours "$pid" "-Dkastor.kafka.node=$dir/broker-$n " \
    && ((SECONDS < until)); do sleep 0.05; done
}

started_count() { # dir node
  local f="$1/broker-$2/logs/server.log"
  [[ -f $f ]] || { echo 0; return; }
  grep -c 'Kafka Server started' "$f" || true
}

# Metadata from node N's own port lists all expected nodes?
metadata_ok() { # dir node expect-all(1/0)
  local dir=$1 n=$2 all=$3 base count out i
  base=$(port_base_of "$dir"); count=$(broker_count "$dir")
  out=$(kcat -b "127.0.0.1:$(plain_port "$base" "$n")" -L -m 3 2>/dev/null) || return 1
  if [[ $all == 1 ]]; then
    for ((i = 1; i <= count; i++)); do
      grep -q "broker $i at 127.0.0.1:$(plain_port "$base" "$i")" <<<"$out" || return 1
    done
  else
    grep -q "broker $n at 127.0.0.1:$(plain_port "$base" "$n")" <<<"$out" || return 1
  fi
}

tail_logs() { # dir node...
  local dir=$1; shift
  local n
  for n in "$@"; do
    echo "---- node $n: tail of $dir/broker-$n/logs/server.log ----" >&2
    tail -n 30 "$dir/broker-$n/logs/server.log" >&2 2>/dev/null || echo "(no server.log)" >&2
    if [[ -s $dir/broker-$n/stdout.log ]]; then
      echo "---- node $n: tail of $dir/broker-$n/stdout.log ----" >&2
      tail -n 15 "$dir/broker-$n/stdout.log" >&2
    fi
  done
}

# Wait until each listed node logged one more "Kafka Server started" than before and
# its metadata lists every node (all=1) or at least itself (all=0).
wait_ready() { # dir timeout all "node:before"...
  local dir=$1 timeout=$2 all=$3; shift 3
  local deadline=$((SECONDS + timeout)) spec n before pending
  while :; do
    pending=()
    for spec in "$@"; do
      n=${spec%%:*}; before=${spec#*:}
      if ! node_pid "$dir" "$n" >/dev/null; then
        note "node $n exited during startup"
        tail_logs "$dir" "$n"
        return 1
      fi
      local c
      c=$(started_count "$dir" "$n" 2>/dev/null) || c=0
      if is_uint "$c" && ((c > before)) && metadata_ok "$dir" "$n" "$all"; then
        continue
      fi
      pending+=("$n")
    done
    ((${#pending[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      note "timeout after ${timeout}s waiting for node(s) ${pending[*]} to become ready"
      tail_logs "$dir" "${pending[@]}"
      return 1
    fi
    sleep 0.5
  done
}

write_log4j() { # dir
  cat >"$1/log4j.properties" <<'EOF'
# Broker logs go to files under ${kafka.logs.dir} (broker-N/logs), never to the terminal.
log4j.rootLogger=INFO, kafkaAppender

log4j.appender.kafkaAppender=org.apache.log4j.FileAppender
log4j.appender.kafkaAppender.File=${kafka.logs.dir}/server.log
log4j.appender.kafkaAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.kafkaAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.stateChangeAppender=org.apache.log4j.FileAppender
log4j.appender.stateChangeAppender.File=${kafka.logs.dir}/state-change.log
log4j.appender.stateChangeAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.stateChangeAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.requestAppender=org.apache.log4j.FileAppender
log4j.appender.requestAppender.File=${kafka.logs.dir}/kafka-request.log
log4j.appender.requestAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.requestAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.cleanerAppender=org.apache.log4j.FileAppender
log4j.appender.cleanerAppender.File=${kafka.logs.dir}/log-cleaner.log
log4j.appender.cleanerAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.cleanerAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.controllerAppender=org.apache.log4j.FileAppender
log4j.appender.controllerAppender.File=${kafka.logs.dir}/controller.log
log4j.appender.controllerAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.controllerAppender.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka=INFO
log4j.logger.kafka.request.logger=WARN, requestAppender
log4j.additivity.kafka.request.logger=false
log4j.logger.kafka.network.RequestChannel$=WARN, requestAppender
log4j.additivity.kafka.network.RequestChannel$=false
log4j.logger.kafka.log.LogCleaner=INFO, cleanerAppender
log4j.additivity.kafka.log.LogCleaner=false
log4j.logger.kafka.controller=INFO, controllerAppender
log4j.additivity.kafka.controller=false
log4j.logger.org.apache.kafka.controller=INFO, controllerAppender
log4j.additivity.org.apache.kafka.controller=false
log4j.logger.state.change.logger=INFO, stateChangeAppender
log4j.additivity.state.change.logger=false
EOF
  cat >"$1/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

write_server_properties() { # dir node count base extra-configs...
  local dir=$1 n=$2 count=$3 base=$4; shift 4
  local voters="" i rf misr
  for ((i = 1; i <= count; i++)); do
    voters+="${voters:+,}$i@127.0.0.1:$(ctrl_port "$base" "$i")"
  done
  if ((count >= 3)); then rf=3; misr=2; else rf=1; misr=1; fi
  {
    echo "# Generated by deploy/local/kafka.sh; node $n of $count."
    echo "process.roles=broker,controller"
    echo "node.id=$n"
    echo "controller.quorum.voters=$voters"
    echo "listeners=PLAINTEXT://127.0.0.1:$(plain_port "$base" "$n"),CONTROLLER://127.0.0.1:$(ctrl_port "$base" "$n")"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$(plain_port "$base" "$n")"
    echo "controller.listener.names=CONTROLLER"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "log.dirs=$dir/broker-$n/data"
    echo "num.network.threads=2"
    echo "num.io.threads=2"
    echo "num.recovery.threads.per.data.dir=1"
    echo "background.threads=2"
    echo "num.partitions=1"
    echo "auto.create.topics.enable=false"
    echo "default.replication.factor=$rf"
    echo "min.insync.replicas=$misr"
    echo "offsets.topic.num.partitions=6"
    echo "offsets.topic.replication.factor=$rf"
    echo "transaction.state.log.num.partitions=6"
    echo "transaction.state.log.replication.factor=$rf"
    echo "transaction.state.log.min.isr=$misr"
    echo "group.initial.rebalance.delay.ms=0"
    # A killed broker is fenced (its partitions and groups move) after 4 s
    # without a heartbeat, not the default 9 s.
    echo "broker.session.timeout.ms=4000"
    echo "broker.heartbeat.interval.ms=1000"
    echo "share.coordinator.state.topic.replication.factor=$rf"
    echo "share.coordinator.state.topic.min.isr=$misr"
    if (($# > 0)); then
      echo "# --config"
      printf '%s\n' "$@"
    fi
  } >"$dir/broker-$n/server.properties"
}

storage_tool() { # dir args...
  local dir=$1; shift
  java -Xmx256m -XX:TieredStopAtLevel=1 "-Dlog4j.configuration=file:$dir/tools-log4j.properties" \
    -cp "$LIBS/*" kafka.tools.StorageTool "$@"
}

# ---------------------------------------------------------------------------------
# watchdog: stops the cluster when its owner process disappears (e.g. SIGKILL).
# ---------------------------------------------------------------------------------
proc_start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

start_watchdog() { # dir owner-pid
  local dir=$1 owner=$2 st
  st=$(proc_start_time "$owner")
  echo "$owner $st" > "$dir/watchdog.owner"
  setsid bash "$SELF" __watchdog "$dir" "$owner" "$st" </dev/null >>"$dir/watchdog.log" 2>&1 &
  echo $! > "$dir/watchdog.pid"
  disown $!
}

do_watchdog() { # dir owner start-time
  local dir=$1 owner=$2 st=$3
  trap '' INT HUP
  while :; do
    [[ -f $dir/watchdog.owner ]] || exit 0          # disarmed (start finished) or stopped
    if [[ $(proc_start_time "$owner") != "$st" ]]; then
      echo "$(date -u +%FT%TZ) owner pid $owner is gone; stopping the cluster in $dir"
      rm -f "$dir/watchdog.pid"
      local keep=()
      [[ -f $dir/keep ]] && keep=(--keep)
      exec bash "$SELF" stop --dir "$dir" "${keep[@]}"
    fi
    sleep 1
  done
}

stop_watchdog() { # dir
  local dir=$1 pid
  rm -f "$dir/watchdog.owner"
  [[ -f $dir/watchdog.pid ]] || return 0
  pid=$(<"$dir/watchdog.pid")
  if is_uint "$pid" && pid_is_ours "$pid" "__watchdog $dir "; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/watchdog.pid"
}

# ---------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------
stop_cluster() { # dir keep(0/1)
  local dir=$1 keep=$2 count n pid pids=() deadline
  stop_watchdog "$dir"
  count=$(broker_count "$dir" 2>/dev/null || echo 0)
  for ((n = 1; n <= count; n++)); do
    if pid=$(node_pid "$dir" "$n"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$n:$pid")
    fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  local spec alive
  while :; do
    alive=()
    for spec in "${pids[@]}"; do
      n=${spec%%:*}
      node_pid "$dir" "$n" >/dev/null && alive+=("$spec")
    done
    ((${#alive[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for spec in "${alive[@]}"; do
        n=${spec%%:*}
        if pid=$(node_pid "$dir" "$n"); then
          note "node $n (pid $pid) still running after ${STOP_TIMEOUT}s; SIGKILL"
          kill -KILL "$pid" 2>/dev/null || true
        fi
      done
      sleep 0.2
      deadline=$((SECONDS + 5))   # SIGKILL is final; just wait for the kernel
      STOP_TIMEOUT=5
      continue
    fi
    sleep 0.2
  done
  for ((n = 1; n <= count; n++)); do rm -f "$dir/broker-$n/pid"; done
  if [[ -f $STATE_FILE && $(<"$STATE_FILE") == "$dir" ]]; then rm -f "$STATE_FILE"; fi
  if [[ $keep == 1 ]]; then
    note "stopped; kept $dir"
  else
    rm -rf -- "$dir"
  fi
}

# ---------------------------------------------------------------------------------
# create-topics
# ---------------------------------------------------------------------------------
create_topics() { # bootstrap broker-count (the topics' replication factor)
  local bin rf=${2:-1}
  if [[ -n ${KASTOR_BIN+set} ]]; then
    bin=$KASTOR_BIN
    [[ -n $bin ]] || { note "KASTOR_BIN is empty: not creating topics"; return 0; }
  else
    bin="$REPO_ROOT/build/bin/kastor"
  fi
  if [[ ! -x $bin || -d $bin ]]; then
    note "kastor binary '$bin' not found or not executable: topics not created (build it, or set KASTOR_BIN)"
    return 0
  fi
  local parts=${KASTOR_TOPIC_PARTITIONS:-6}
  note "creating topics: $bin topics create --brokers $1 --replication $rf --partitions $parts"
  if ! "$bin" topics create --brokers "$1" --replication "$rf" --partitions "$parts" >&2; then
    note "'$bin topics create --brokers $1 --replication $rf --partitions $parts' failed"
    return 1
  fi
}

# ---------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------
# Parsed options (shared by start and run).
OPT_BROKERS=1 OPT_PORT_BASE=$DEFAULT_PORT_BASE OPT_DIR="" OPT_TIMEOUT=$DEFAULT_TIMEOUT
OPT_KEEP=0 OPT_TOPICS=1 OPT_CONFIGS=()

parse_start_opts() { # sets OPT_* and REST (args after --)
  REST=()
  while (($# > 0)); do
    case $1 in
      --brokers) need_value "$1" $#; OPT_BROKERS=$2; shift 2 ;;
      --brokers=*) OPT_BROKERS=${1#*=}; shift ;;
      --port-base) need_value "$1" $#; OPT_PORT_BASE=$2; shift 2 ;;
      --port-base=*) OPT_PORT_BASE=${1#*=}; shift ;;
      --dir) need_value "$1" $#; OPT_DIR=$2; shift 2 ;;
      --dir=*) OPT_DIR=${1#*=}; shift ;;
      --timeout) need_value "$1" $#; OPT_TIMEOUT=$2; shift 2 ;;
      --timeout=*) OPT_TIMEOUT=${1#*=}; shift ;;
      --config) need_value "$1" $#; OPT_CONFIGS+=("$2"); shift 2 ;;
      --config=*) OPT_CONFIGS+=("${1#*=}"); shift ;;
      --no-topics) OPT_TOPICS=0; shift ;;
      --keep) [[ $CMD == run ]] || usage_error "$CMD: unknown option --keep"; OPT_KEEP=1; shift ;;
      --) [[ $CMD == run ]] || usage_error "$CMD: unexpected '--'"; shift; REST=("$@"); return 0 ;;
      -h|--help) usage; exit 0 ;;
      *) usage_error "$CMD: unknown argument '$1'" ;;
    esac
  done
  [[ $CMD != run ]] || usage_error "run: missing '-- CMD [ARGS...]'"
}

validate_start_opts() {
  [[ $OPT_BROKERS == 1 || $OPT_BROKERS == 3 ]] || usage_error "--brokers must be 1 or 3, not '$OPT_BROKERS'"
  is_uint "$OPT_PORT_BASE" || usage_error "--port-base must be a number, not '$OPT_PORT_BASE'"
  ((10#$OPT_PORT_BASE >= 1024 && 10#$OPT_PORT_BASE + 2 * OPT_BROKERS - 1 <= 65535)) ||
    usage_error "--port-base $OPT_PORT_BASE: ports must lie within 1024..65535"
  OPT_PORT_BASE=$((10#$OPT_PORT_BASE))
  is_uint "$OPT_TIMEOUT" && ((OPT_TIMEOUT > 0)) || usage_error "--timeout must be a positive number of seconds, not '$OPT_TIMEOUT'"
  local c
  for c in "${OPT_CONFIGS[@]}"; do
    [[ $c =~ ^[A-Za-z0-9._-]+=.*$ ]] || usage_error "--config expects KEY=VALUE, not '$c'"
  done
  if [[ -n $OPT_DIR && -e $OPT_DIR ]]; then
    [[ -d $OPT_DIR ]] || usage_error "--dir $OPT_DIR is not a directory"
    if [[ ! -f $OPT_DIR/$RUN_MARKER ]] && [[ -n $(ls -A "$OPT_DIR") ]]; then
      usage_error "--dir $OPT_DIR is neither empty nor a run folder of $PROG (refusing to use it: stop deletes the run folder)"
    fi
  fi
}

# Globals set by start_cluster: RUN_DIR, BOOTSTRAP.
start_cluster() { # owner-pid
  local owner=$1 n base=$OPT_PORT_BASE count=$OPT_BROKERS
  command -v java >/dev/null || die "java not found (Java 17 is required)"
  command -v kcat >/dev/null || die "kcat not found (apt-get install kcat)"

  # A cluster already recorded and alive?
  local cur
  if cur=$(resolve_dir_state_only) && cluster_alive "$cur"; then
    if [[ $CMD == start ]]; then
      die "a cluster is already running in $cur ($(cat "$cur/bootstrap")); '$PROG stop' first, or use another KASTOR_KAFKA_STATE"
    fi
  fi

  for ((n = 1; n <= count; n++)); do
    for p in $(plain_port "$base" "$n") $(ctrl_port "$base" "$n"); do
      port_in_use "$p" && die "port $p on 127.0.0.1 is already in use (choose another --port-base)"
    done
  done

  do_fetch

  local dir
  if [[ -n $OPT_DIR ]]; then
    mkdir -p "$OPT_DIR"
    dir=$(cd "$OPT_DIR" && pwd)
    if [[ -f $dir/$RUN_MARKER ]]; then
      cluster_alive "$dir" && die "$dir belongs to a running cluster"
      [[ $(broker_count "$dir") == "$count" ]] ||
        usage_error "--dir $dir holds a $(broker_count "$dir")-node cluster, not $count"
    fi
  else
    dir=$(mktemp -d /tmp/kastor-kafka.XXXXXX)
  fi
  chmod 755 "$dir"

  # From here on the folder is ours: a failure must stop whatever was started.
  RUN_DIR=$dir
  STARTING_DIR=$dir
  printf 'version=%s\nbrokers=%s\nport_base=%s\n' "$KAFKA_VERSION" "$count" "$base" >"$RUN_DIR/$RUN_MARKER"
  echo "$count" >"$RUN_DIR/broker-count"
  rm -f "$RUN_DIR/keep"
  if [[ $OPT_KEEP == 1 ]]; then touch "$RUN_DIR/keep"; fi     # read by the watchdog
  write_log4j "$RUN_DIR"
  local bootstrap=""
  for ((n = 1; n <= count; n++)); do
    bootstrap+="${bootstrap:+,}127.0.0.1:$(plain_port "$base" "$n")"
  done
  echo "$bootstrap" >"$RUN_DIR/bootstrap"

  local cid
  if [[ -s $RUN_DIR/cluster.id ]]; then
    cid=$(<"$RUN_DIR/cluster.id")
  else
    cid=$(storage_tool "$RUN_DIR" random-uuid) || die "StorageTool random-uuid failed"
    echo "$cid" >"$RUN_DIR/cluster.id"
  fi

  # Format all nodes (in parallel: each is a JVM start), then launch them.
  local fpids=()
  for ((n = 1; n <= count; n++)); do
    mkdir -p "$RUN_DIR/broker-$n/data" "$RUN_DIR/broker-$n/logs"
    write_server_properties "$RUN_DIR" "$n" "$count" "$base" "${OPT_CONFIGS[@]}"
    storage_tool "$RUN_DIR" format -t "$cid" -c "$RUN_DIR/broker-$n/server.properties" --ignore-formatted \
      >"$RUN_DIR/broker-$n/format.log" 2>&1 &
    fpids+=($!)
  done
  for ((n = 1; n <= count; n++)); do
    if ! wait "${fpids[n - 1]}"; then
      cat "$RUN_DIR/broker-$n/format.log" >&2
      die "formatting the storage of node $n failed (see above)"
    fi
  done

  start_watchdog "$RUN_DIR" "$owner"
  local t0=$EPOCHREALTIME specs=()
  for ((n = 1; n <= count; n++)); do
    specs+=("$n:$(started_count "$RUN_DIR" "$n")")
    launch_node "$RUN_DIR" "$n"
  done
  note "started $count node(s) in $RUN_DIR; waiting for readiness (deadline ${OPT_TIMEOUT}s)"
  wait_ready "$RUN_DIR" "$OPT_TIMEOUT" 1 "${specs[@]}" || die "Kafka did not become ready"
  note "ready after $(elapsed "$t0")s: $bootstrap"

  if [[ $CMD == start ]] || ! cluster_alive_state; then
    echo "$RUN_DIR" >"$STATE_FILE"
  else
    note "state file $STATE_FILE names another running cluster; left unchanged"
  fi
  BOOTSTRAP=$bootstrap

  if [[ $OPT_TOPICS == 1 ]]; then
    create_topics "$bootstrap" "$OPT_BROKERS" || die "topic creation failed (start with --no-topics or KASTOR_BIN= to skip it)"
  fi
  STARTING_DIR=""
}

resolve_dir_state_only() {
  [[ -f $STATE_FILE ]] || return 1
  local d
  d=$(<"$STATE_FILE")
  [[ -n $d && -f $d/$RUN_MARKER ]] || return 1
  echo "$d"
}

cluster_alive() { # dir: any node alive?
  local dir=$1 n count
  count=$(broker_count "$dir" 2>/dev/null) || return 1
  for ((n = 1; n <= count; n++)); do
    node_pid "$dir" "$n" >/dev/null && return 0
  done
  return 1
}

cluster_alive_state() {
  local d
  d=$(resolve_dir_state_only) && [[ $d != "$RUN_DIR" ]] && cluster_alive "$d"
}

# Cleanup if start fails half-way (used by start and run).
STARTING_DIR=""
cleanup_failed_start() {
  if [[ -n $STARTING_DIR && -d $STARTING_DIR ]]; then
    local keep=0
    [[ -n $OPT_DIR ]] && keep=1    # never delete a folder the user named
    stop_cluster "$STARTING_DIR" "$keep" || true
  fi
}

# ---------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------
cmd_start() {
  parse_start_opts "$@"
  validate_start_opts
  trap 'rc=$?; trap "" INT TERM; cleanup_failed_start; exit $rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_cluster $$
  # Started: disarm the watchdog (a detached cluster lives until `stop`).
  stop_watchdog "$RUN_DIR"
  trap - EXIT INT TERM
  echo "bootstrap.servers=$BOOTSTRAP"
}

RUN_RC=0
run_cleanup() {
  trap '' INT TERM
  if [[ -n $STARTING_DIR ]]; then
    cleanup_failed_start
  elif [[ -n ${RUN_DIR:-} && -d $RUN_DIR ]]; then
    stop_cluster "$RUN_DIR" "$OPT_KEEP" || true
  fi
}

RUN_CHILD="" RUN_SIGNAL=0
run_on_signal() { # name number
  if [[ -z $RUN_CHILD ]]; then exit $((128 + $2)); fi   # still starting: EXIT trap cleans up
  RUN_SIGNAL=$2
  # Forward to CMD (after Ctrl-C it already has SIGINT from the terminal; again is harmless).
  kill -"$1" "$RUN_CHILD" 2>/dev/null || true
}

cmd_run() {
  parse_start_opts "$@"
  validate_start_opts
  local cmd=("${REST[@]}")
  ((${#cmd[@]} > 0)) || usage_error "run: no command after '--'"
  RUN_DIR=""
  trap 'RUN_RC=$?; run_cleanup; exit $RUN_RC' EXIT
  trap 'run_on_signal INT 2' INT
  trap 'run_on_signal TERM 15' TERM
  trap 'run_on_signal HUP 1' HUP
  start_cluster $$
  note "bootstrap.servers=$BOOTSTRAP"   # stderr: stdout belongs to CMD
  # CMD runs in the background so that a signal to this script is handled at once
  # (bash defers traps while a foreground child runs). <&0 keeps stdin (bash would give
  # an async command /dev/null); trap - restores SIGINT/SIGQUIT to their defaults.
  export KASTOR_BROKERS=$BOOTSTRAP KASTOR_KAFKA_DIR=$RUN_DIR KASTOR_KAFKA_BROKER_COUNT=$OPT_BROKERS
  ( trap - INT QUIT TERM HUP; exec "${cmd[@]}" ) <&0 &
  RUN_CHILD=$!
  local rc
  while :; do
    rc=0
    wait "$RUN_CHILD" || rc=$?
    # wait returns early when a trapped signal arrives; go on waiting while CMD lives.
    kill -0 "$RUN_CHILD" 2>/dev/null || break
  done
  if ((rc == 0 && RUN_SIGNAL != 0)); then rc=$((128 + RUN_SIGNAL)); fi
  exit "$rc"
}

parse_dir_opts() { # [--dir DIR] [--keep if allowed] ; sets OPT_DIR OPT_KEEP; POS (positional)
  local allow_keep=$1; shift
  POS=()
  while (($# > 0)); do
    case $1 in
      --dir) need_value "$1" $#; OPT_DIR=$2; shift 2 ;;
      --dir=*) OPT_DIR=${1#*=}; shift ;;
      --keep) [[ $allow_keep == 1 ]] || usage_error "$CMD: unknown option --keep"; OPT_KEEP=1; shift ;;
      --timeout) [[ $CMD == start-broker ]] || usage_error "$CMD: unknown option --timeout"
                 need_value "$1" $#; OPT_TIMEOUT=$2; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      -*) usage_error "$CMD: unknown option '$1'" ;;
      *) POS+=("$1"); shift ;;
    esac
  done
}

find_cluster() { # -> RUN_DIR or exit 3
  if ! RUN_DIR=$(resolve_dir "$OPT_DIR"); then
    if [[ -n $OPT_DIR ]]; then
      echo "$PROG: $OPT_DIR is not a run folder of $PROG" >&2
    else
      echo "$PROG: no cluster recorded (state file $STATE_FILE)" >&2
    fi
    exit 3
  fi
}

cmd_stop() {
  parse_dir_opts 1 "$@"
  ((${#POS[@]} == 0)) || usage_error "stop: unexpected argument '${POS[0]}'"
  find_cluster
  stop_cluster "$RUN_DIR" "$OPT_KEEP"
}

cmd_status() {
  parse_dir_opts 0 "$@"
  ((${#POS[@]} == 0)) || usage_error "status: unexpected argument '${POS[0]}'"
  if ! RUN_DIR=$(resolve_dir "$OPT_DIR"); then
    echo "not running"
    exit 3
  fi
  local count n up=0 pid base
  count=$(broker_count "$RUN_DIR"); base=$(port_base_of "$RUN_DIR")
  for ((n = 1; n <= count; n++)); do
    if pid=$(node_pid "$RUN_DIR" "$n"); then
      echo "node $n: up (pid $pid, 127.0.0.1:$(plain_port "$base" "$n"))"
      up=$((up + 1))
    else
      echo "node $n: down (127.0.0.1:$(plain_port "$base" "$n"))"
    fi
  done
  if ((up == 0)); then
    echo "not running (dir $RUN_DIR)"
    exit 3
  fi
  echo "running: $up/$count node(s), dir $RUN_DIR"
  echo "bootstrap.servers=$(cat "$RUN_DIR/bootstrap")"
  ((up == count)) || exit 1
}

node_arg() { # validates POS[0] against the cluster -> NODE
  ((${#POS[@]} == 1)) || usage_error "$CMD: expected exactly one node number"
  is_uint "${POS[0]}" || usage_error "$CMD: node must be a number, not '${POS[0]}'"
  find_cluster
  local count
  count=$(broker_count "$RUN_DIR")
  NODE=$((10#${POS[0]}))
  ((NODE >= 1 && NODE <= count)) || usage_error "$CMD: node must be within 1..$count, not '${POS[0]}'"
}

cmd_kill_broker() {
  parse_dir_opts 0 "$@"
  node_arg
  local pid i
  pid=$(node_pid "$RUN_DIR" "$NODE") || die "node $NODE is not running"
  kill -KILL "$pid"
  for ((i = 0; i < 100; i++)); do
    node_pid "$RUN_DIR" "$NODE" >/dev/null || break
    sleep 0.1
  done
  rm -f "$RUN_DIR/broker-$NODE/pid"
  note "node $NODE (pid $pid) killed with SIGKILL"
}

cmd_start_broker() {
  parse_dir_opts 0 "$@"
  node_arg
  is_uint "$OPT_TIMEOUT" && ((OPT_TIMEOUT > 0)) || usage_error "--timeout must be a positive number, not '$OPT_TIMEOUT'"
  node_pid "$RUN_DIR" "$NODE" >/dev/null && die "node $NODE is already running"
  local before t0=$EPOCHREALTIME
  before=$(started_count "$RUN_DIR" "$NODE")
  launch_node "$RUN_DIR" "$NODE"
  # Another node may be down (fault tests), so only require the node to list itself.
  wait_ready "$RUN_DIR" "$OPT_TIMEOUT" 0 "$NODE:$before" || die "node $NODE did not become ready"
  note "node $NODE ready after $(elapsed "$t0")s"
}

cmd_create_topics() {
  parse_dir_opts 0 "$@"
  ((${#POS[@]} == 0)) || usage_error "create-topics: unexpected argument '${POS[0]}'"
  find_cluster
  create_topics "$(cat "$RUN_DIR/bootstrap")" "$(cat "$RUN_DIR/broker-count")"
}

cmd_fetch() {
  (($# == 0)) || { [[ $1 == -h || $1 == --help ]] && { usage; exit 0; }; usage_error "fetch: unexpected argument '$1'"; }
  [[ -n $KAFKA_VERSION ]] || die "cannot read <kafka.version> from $POM"
  do_fetch
  echo "$LIBS"
}

(($# > 0)) || usage_error "missing command"
CMD=$1; shift
case $CMD in
  fetch) cmd_fetch "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  run) cmd_run "$@" ;;
  kill-broker) cmd_kill_broker "$@" ;;
  start-broker) cmd_start_broker "$@" ;;
  create-topics) cmd_create_topics "$@" ;;
  __watchdog) do_watchdog "$@" ;;
  -h|--help|help) usage ;;
  *) usage_error "unknown command '$CMD'" ;;
esac
