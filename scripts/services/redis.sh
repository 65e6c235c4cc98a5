# redis: Debian's redis-server on 127.0.0.1:$REDIS_PORT (16379), AOF on (appendfsync everysec).
# Sourced by scripts/services.sh (after lib.sh).
#
#   config   scripts/services/redis/redis.conf (port, dir, pidfile, log are passed on the command line)
#   data     $SERVICES_DIR/redis/data (appendonlydir/)
#   pidfile  $SERVICES_DIR/redis/redis.pid
#   log      $SERVICES_DIR/redis/redis.log
#
# Independent of any system Redis the Debian package may run on 6379: that one is stopped and disabled right after
# this script installs the package (it is not needed), and never touched otherwise.

REDIS_DIR="$SERVICES_DIR/redis"
REDIS_CONF="$ROOT/scripts/services/redis/redis.conf"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

_redis_cli() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
_redis_ping() { [[ "$(_redis_cli ping 2>/dev/null)" == "PONG" ]]; }

redis_install() {
  if dpkg -s redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then return 0; fi
  apt_install redis-server redis-tools
  # The package enables (and, where the init system allows it, starts) a system-wide instance on 6379.
  # Nothing here uses it; stop and disable it so it does not hold memory or a port.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif [[ -f /run/redis/redis-server.pid ]] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then
    service redis-server stop >/dev/null 2>&1 || true
    update-rc.d redis-server disable >/dev/null 2>&1 || true
  fi
}

redis_start() {
  _redis_ping && return 0
  if port_open "$REDIS_PORT"; then
    die "redis: 127.0.0.1:$REDIS_PORT is taken by something that does not answer PING; free it or set TRIBUTARY_REDIS_PORT"
  fi
  mkdir -p "$REDIS_DIR/data"
  redis-server "$REDIS_CONF" \
    --port "$REDIS_PORT" \
    --bind 127.0.0.1 \
    --dir "$REDIS_DIR/data" \
    --pidfile "$REDIS_PIDFILE" \
    --logfile "$REDIS_LOG" \
    --daemonize yes
  # PING answers PONG only once the AOF is loaded (LOADING before that).
  wait_for redis 60 _redis_ping || { tail -n 20 "$REDIS_LOG" >&2 || true; return 1; }
}

redis_status() {
  if ! _redis_ping; then
    echo "no PONG on 127.0.0.1:$REDIS_PORT"; return 1
  fi
  local info version pid aof
  info="$(_redis_cli info 2>/dev/null | tr -d '\r')"
  version="$(sed -n 's/^redis_version://p' <<<"$info")"
  pid="$(sed -n 's/^process_id://p' <<<"$info")"
  aof="$(sed -n 's/^aof_enabled://p' <<<"$info")"
  echo "redis $version on 127.0.0.1:$REDIS_PORT pid $pid aof=$aof"
}

redis_stop() {
  # SIGTERM makes Redis fsync the AOF and exit cleanly.
  stop_pidfile redis "$REDIS_PIDFILE"
}
