# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings below are used by the scripts that source this file.
# Shared settings and helpers for deploy/setup.sh and deploy/local/{start,stop,status}. Sourced, not run.
#
# Settings (environment):
#   ANFANG_DATA_DIR                 data folder (default: data under the repo root; relative = to the repo root)
#   ANFANG_KAFKA_VERSION            Apache Kafka broker version resolved from Maven Central (default 4.1.1)
#   ANFANG_KAFKA_PORT               broker listener on 127.0.0.1 (default 9092)
#   ANFANG_KAFKA_CONTROLLER_PORT    KRaft controller listener on 127.0.0.1 (default 9093)
#   ANFANG_KAFKA_HEAP_OPTS          JVM heap flags (default "-Xms128m -Xmx512m")
#   ANFANG_CLICKHOUSE_PORT          ClickHouse native port on 127.0.0.1 (default 9000)
#   ANFANG_CLICKHOUSE_HTTP_PORT     ClickHouse HTTP port on 127.0.0.1 (default 8123; 0 disables it)
#   ANFANG_START_TIMEOUT_S          seconds start waits for each server to be ready (default 60)
#   ANFANG_STOP_TIMEOUT_S           seconds stop waits after SIGTERM before SIGKILL (default 30)

ANFANG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"

_data="${ANFANG_DATA_DIR:-data}"
case "$_data" in
  /*) ;;
  *) _data="$ANFANG_ROOT/$_data" ;;
esac
DATA_DIR="$_data"
unset _data

KAFKA_VERSION="${ANFANG_KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${ANFANG_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${ANFANG_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${ANFANG_KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
CLICKHOUSE_PORT="${ANFANG_CLICKHOUSE_PORT:-9000}"
CLICKHOUSE_HTTP_PORT="${ANFANG_CLICKHOUSE_HTTP_PORT:-8123}"
START_TIMEOUT_S="${ANFANG_START_TIMEOUT_S:-60}"
STOP_TIMEOUT_S="${ANFANG_STOP_TIMEOUT_S:-30}"

KAFKA_DIR="$DATA_DIR/kafka"
KAFKA_LIBS_DIR="$KAFKA_DIR/libs"
KAFKA_LIBS_STAMP="$KAFKA_LIBS_DIR/.anfang-kafka-libs"
# Kafka's "log dir" holds its data: KRaft metadata and topic partitions (not text logs: those go to LOG_DIR).
KAFKA_LOG_DIR="$KAFKA_DIR/logs"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
KAFKA_POM="$ANFANG_ROOT/deploy/local/kafka/pom.xml"
KAFKA_LOG4J_CONFIG="$ANFANG_ROOT/deploy/local/kafka/log4j2.properties"
KAFKA_TOOLS_LOG4J_CONFIG="$ANFANG_ROOT/deploy/local/kafka/log4j2-tools.properties"
KAFKA_READY_TOPIC="_anfang_ready"

CLICKHOUSE_DIR="$DATA_DIR/clickhouse"
CLICKHOUSE_CONFIG="$CLICKHOUSE_DIR/etc/config.xml"
CLICKHOUSE_TEMPLATES="$ANFANG_ROOT/deploy/local/clickhouse"

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"

SERVERS=(kafka clickhouse)

die() {
  printf '[local] ERROR: %s\n' "$*" >&2
  exit 1
}

say() {
  printf '[local] %s\n' "$*"
}

is_uint() {
  [[ "$1" =~ ^[0-9]+$ ]]
}

check_settings() {
  local name value
  for name in KAFKA_PORT KAFKA_CONTROLLER_PORT CLICKHOUSE_PORT CLICKHOUSE_HTTP_PORT START_TIMEOUT_S STOP_TIMEOUT_S; do
    value="${!name}"
    is_uint "$value" || die "ANFANG_$name must be a non-negative integer, got '$value'"
  done
  case "$DATA_DIR" in
    *[\&\<\>\"\'\|]*) die "ANFANG_DATA_DIR must not contain & < > \" ' or |: '$DATA_DIR'" ;;
  esac
}

# Sets TARGETS to the servers named on the command line (default: all).
parse_servers() {
  TARGETS=()
  local arg
  for arg in "$@"; do
    case "$arg" in
      kafka | clickhouse) TARGETS+=("$arg") ;;
      *) die "unknown argument '$arg' (expected: kafka, clickhouse; none means both)" ;;
    esac
  done
  ((${#TARGETS[@]} > 0)) || TARGETS=("${SERVERS[@]}")
}

pid_file() {
  printf '%s/%s.pid' "$RUN_DIR" "$1"
}

# What the server's command line must contain: its config file, so a recycled pid or a server of
# another data folder is never mistaken for ours.
cmdline_marker() {
  case "$1" in
    kafka) printf '%s' "$KAFKA_CONFIG" ;;
    clickhouse) printf '%s' "$CLICKHOUSE_CONFIG" ;;
  esac
}

# Prints the pid of the named server if it runs, else nothing (and drops a stale pid file).
server_pid() {
  local name="$1" file pid
  file="$(pid_file "$name")"
  [[ -f "$file" ]] || return 0
  pid="$(<"$file")"
  if is_uint "$pid" && [[ -r "/proc/$pid/cmdline" ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(cmdline_marker "$name")"; then
    printf '%s' "$pid"
  else
    rm -f "$file"
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# One line naming who holds a port (best effort: needs ss from iproute2).
port_holder() {
  local port="$1" line
  if command -v ss >/dev/null 2>&1; then
    line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1 | tr -s ' ')"
    [[ -n "$line" ]] && printf '%s' "$line" && return
  fi
  printf 'unknown process (install iproute2 for details)'
}

server_ports() {
  case "$1" in
    kafka) printf '%s %s' "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" ;;
    clickhouse)
      if ((CLICKHOUSE_HTTP_PORT > 0)); then
        printf '%s %s' "$CLICKHOUSE_PORT" "$CLICKHOUSE_HTTP_PORT"
      else
        printf '%s' "$CLICKHOUSE_PORT"
      fi
      ;;
  esac
}

log_file() {
  case "$1" in
    kafka) printf '%s/kafka.log' "$LOG_DIR" ;;
    clickhouse) printf '%s/clickhouse-server.log' "$LOG_DIR" ;;
  esac
}

# The last lines of the server's logs (only from its latest start where the log marks starts), to stderr.
show_log_tail() {
  local name="$1" file
  local -a files
  case "$name" in
    kafka) files=("$LOG_DIR/kafka.log") ;;
    clickhouse) files=("$LOG_DIR/clickhouse.stdout.log" "$LOG_DIR/clickhouse-server.err.log") ;;
  esac
  for file in "${files[@]}"; do
    [[ -s "$file" ]] || continue
    printf '[local] ---- last lines of %s ----\n' "$file" >&2
    tac "$file" | sed '/^==== .*: starting ====$/q' | tac | tail -n 30 >&2
  done
}

# Serialises start/stop runs on one data folder (waits up to the start timeout for another run).
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  if ! flock -w "$START_TIMEOUT_S" 9; then
    die "another deploy/local/start or stop holds $RUN_DIR/.lock for more than ${START_TIMEOUT_S} s"
  fi
}

now_ms() {
  local s
  s="$(date +%s%N)"
  printf '%s' "$((s / 1000000))"
}

kafka_jvm() {
  local -a heap
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  printf '%s\n' "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
}

kafka_libs_ready() {
  [[ -f "$KAFKA_LIBS_STAMP" ]] && [[ "$(<"$KAFKA_LIBS_STAMP")" == "$(kafka_libs_stamp_value)" ]]
}

kafka_libs_stamp_value() {
  printf 'kafka=%s pom=%s' "$KAFKA_VERSION" "$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
}
