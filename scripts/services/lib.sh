# Shared helpers for scripts/services/*.sh. Sourced, never run directly.
# Every service lives on loopback; every byte of state lives under $SERVICES_DIR (git-ignored).

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
SERVICES_DIR="${TRIBUTARY_SERVICES_DIR:-$ROOT/.services}"
mkdir -p "$SERVICES_DIR"

# Ports (loopback only). Tests read the same values from test/support/services.ts; keep both in step.
KAFKA_PORT="${TRIBUTARY_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${TRIBUTARY_KAFKA_CONTROLLER_PORT:-19093}"
REDIS_PORT="${TRIBUTARY_REDIS_PORT:-16379}"
S3_PORT="${TRIBUTARY_S3_PORT:-19000}"
POSTGRES_PORT="${TRIBUTARY_POSTGRES_PORT:-15432}"
MARIADB_PORT="${TRIBUTARY_MARIADB_PORT:-13306}"
CONNECT_PORT="${TRIBUTARY_CONNECT_PORT:-18083}"
ICEBERG_REST_PORT="${TRIBUTARY_ICEBERG_REST_PORT:-18181}"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# port_open PORT -> 0 when something accepts TCP connections on 127.0.0.1:PORT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME TIMEOUT_SECONDS COMMAND... -> polls COMMAND until it succeeds or the timeout passes
wait_for() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$name did not become ready within ${timeout}s"
      return 1
    fi
    sleep 0.5
  done
}

# pid_alive PIDFILE -> 0 when the process recorded in PIDFILE is running
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# await_started NAME PIDFILE TIMEOUT_SECONDS LOGFILE WHAT READY_COMMAND... -> polls READY_COMMAND until it succeeds;
# dies (showing the log's tail) when the process in PIDFILE exits first, or when WHAT is not ready within the timeout
await_started() {
  local name="$1" pidfile="$2" timeout="$3" logfile="$4" what="$5"; shift 5
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    pid_alive "$pidfile" || { tail -n 20 "$logfile" >&2; die "$name: the server exited during startup; see $logfile"; }
    ((SECONDS < deadline)) || die "$name: $what not ready after ${timeout}s; see $logfile"
    sleep 0.2
  done
}

# stop_pidfile NAME PIDFILE -> TERM, wait up to 30s, then KILL
stop_pidfile() {
  local name="$1" pidfile="$2"
  if pid_alive "$pidfile"; then
    local pid; pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

# apt_install PACKAGE... -> installs Debian packages that are missing; runs apt-get update once per invocation
APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]} == 0)) && return 0
  if ((APT_UPDATED == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
