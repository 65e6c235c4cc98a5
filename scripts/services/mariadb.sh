# MariaDB (Debian's mariadb-server) on 127.0.0.1:$MARIADB_PORT with a row-based binlog, for the Debezium MariaDB
# connector. Sourced by scripts/services.sh, which provides lib.sh's helpers.
#
# Layout under $SERVICES_DIR/mariadb/ (owned by the `mysql` OS user when run as root):
#   my.cnf         generated on every start from the settings below; mariadb.stamp: checksum of the one running
#   data/          the server's data directory (mariadb-install-db once) and its binlogs (mariadb-bin.*)
#   run/           unix socket and pid file (local admin access as the OS user that runs this script)
#   mariadb.log    the server's error log
# Clients: user `tributary` / password `tributary` (all privileges, replication included), database `tributary`, over
# TCP on 127.0.0.1 only. Binlog: ROW format, FULL row images, GTIDs (always on in MariaDB), kept one day.

MARIADB_PORT="${TRIBUTARY_MARIADB_PORT:-13306}"
MDB_HOME="$SERVICES_DIR/mariadb"
MDB_DATA="$MDB_HOME/data"
MDB_RUN="$MDB_HOME/run"
# A unix socket path must fit in 107 bytes; a deep checkout falls back to a short directory under /tmp.
((${#MDB_RUN} <= 80)) || MDB_RUN="/tmp/tributary-mariadb-$MARIADB_PORT"
MDB_CNF="$MDB_HOME/my.cnf"
MDB_PIDFILE="$MDB_RUN/mariadb.pid"
MDB_SOCKET="$MDB_RUN/mariadb.sock"

# The OS user the server runs as: `mysql` when we are root (mariadbd refuses root), ourselves otherwise.
_mdb_user() { if ((EUID == 0)); then echo mysql; else id -un; fi; }

_mdb_config() {
  cat <<CNF
[mariadbd]
user=$(_mdb_user)
datadir=$MDB_DATA
socket=$MDB_SOCKET
pid-file=$MDB_PIDFILE
port=$MARIADB_PORT
bind-address=127.0.0.1
skip-name-resolve
log-error=$MDB_HOME/mariadb.log
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
# What Debezium needs: a binlog with full row images.
server-id=1
log-bin=mariadb-bin
binlog-format=ROW
binlog-row-image=FULL
binlog-expire-logs-seconds=86400
max-binlog-size=64M
# A test server: small memory footprint.
innodb-buffer-pool-size=64M
performance-schema=OFF
max-connections=100

[client]
socket=$MDB_SOCKET
CNF
}

_mdb_stamp() { { _mdb_config; echo "$MARIADB_PORT"; } | sha256sum | cut -d' ' -f1; }
_mdb_outdated() { [[ "$(cat "$MDB_HOME/mariadb.stamp" 2>/dev/null)" != "$(_mdb_stamp)" ]]; }
_mdb_running() { pid_alive "$MDB_PIDFILE"; }

_mdb_as_owner() {
  if ((EUID == 0)); then (cd / && runuser -u mysql -- "$@"); else "$@"; fi
}

# Lets the mysql OS user reach $MDB_HOME: adds search (x) permission for others on any ancestor that lacks it.
_mdb_make_traversable() {
  ((EUID == 0)) || return 0
  local dir="$MDB_HOME" dirs=()
  while [[ "$dir" != "/" && -n "$dir" ]]; do dirs=("$dir" "${dirs[@]}"); dir="$(dirname "$dir")"; done
  for dir in "${dirs[@]}"; do
    [[ "$dir" == "$MDB_HOME" ]] && continue
    if ! runuser -u mysql -- test -x "$dir"; then
      log "mariadb: adding o+x to $dir so the mysql user can reach its data directory"
      chmod o+x "$dir"
    fi
  done
}

# Runs SQL as the server's superuser over the unix socket (unix_socket authentication of the OS user).
_mdb_sql() {
  if ((EUID == 0)); then mariadb --defaults-file="$MDB_CNF" -uroot "$@"; else mariadb --defaults-file="$MDB_CNF" -u"$(id -un)" "$@"; fi
}

mariadb_install() {
  if _mdb_running && _mdb_outdated; then
    log "mariadb: its settings changed since the server started; restarting it"
    mariadb_stop
  fi
  command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] || apt_install mariadb-server mariadb-client
  command -v mariadb >/dev/null 2>&1 || apt_install mariadb-client
  mkdir -p "$MDB_HOME" "$MDB_DATA" "$MDB_RUN"
  _mdb_make_traversable
  if ((EUID == 0)); then chown mysql:mysql "$MDB_HOME" "$MDB_DATA" "$MDB_RUN"; fi
  _mdb_config >"$MDB_CNF"
  if [[ ! -d "$MDB_DATA/mysql" ]]; then
    log "mariadb: mariadb-install-db $MDB_DATA"
    _mdb_as_owner mariadb-install-db --defaults-file="$MDB_CNF" --auth-root-authentication-method=socket \
      --auth-root-socket-user="$(id -un)" --skip-test-db >"$MDB_HOME/install-db.log" 2>&1 \
      || die "mariadb: mariadb-install-db failed; see $MDB_HOME/install-db.log"
  fi
}

mariadb_start() {
  if ! _mdb_running; then
    port_open "$MARIADB_PORT" && die "mariadb: 127.0.0.1:$MARIADB_PORT is taken by a process this script did not start"
    mkdir -p "$MDB_RUN"
    if ((EUID == 0)); then chown mysql:mysql "$MDB_RUN"; fi
    _mdb_config >"$MDB_CNF"
    _mdb_stamp >"$MDB_HOME/mariadb.stamp"
    # setsid: the server outlives this script and its terminal. mariadbd drops to `user=` itself.
    setsid "$(command -v mariadbd || echo /usr/sbin/mariadbd)" --defaults-file="$MDB_CNF" </dev/null >>"$MDB_HOME/mariadb.out" 2>&1 &
    local deadline=$((SECONDS + 60))
    until _mdb_running && port_open "$MARIADB_PORT"; do
      ((SECONDS < deadline)) || die "mariadb: not up on 127.0.0.1:$MARIADB_PORT after 60s; see $MDB_HOME/mariadb.log"
      sleep 0.5
    done
  fi
  wait_for mariadb 30 _mdb_sql -e 'SELECT 1' || die "mariadb: the server does not answer on $MDB_SOCKET; see $MDB_HOME/mariadb.log"
  # User and database for the tests; re-applying them is cheap and keeps the password right.
  _mdb_sql <<'SQL' || die "mariadb: creating user/database tributary failed"
CREATE DATABASE IF NOT EXISTS tributary;
CREATE USER IF NOT EXISTS 'tributary'@'127.0.0.1' IDENTIFIED BY 'tributary';
CREATE USER IF NOT EXISTS 'tributary'@'localhost' IDENTIFIED BY 'tributary';
ALTER USER 'tributary'@'127.0.0.1' IDENTIFIED BY 'tributary';
ALTER USER 'tributary'@'localhost' IDENTIFIED BY 'tributary';
-- Tests create and drop their own databases; Debezium needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE,
-- REPLICATION CLIENT (BINLOG MONITOR): all included.
GRANT ALL PRIVILEGES ON *.* TO 'tributary'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'tributary'@'localhost' WITH GRANT OPTION;
SQL
}

mariadb_status() {
  if _mdb_running && _mdb_outdated; then
    echo "pid $(cat "$MDB_PIDFILE") was started with older settings (up restarts it)"; return 1
  elif _mdb_running && port_open "$MARIADB_PORT"; then
    local version format
    version="$(_mdb_sql -N -e 'SELECT VERSION()' 2>/dev/null)" || { echo "pid $(cat "$MDB_PIDFILE") does not answer SQL (starting?)"; return 1; }
    format="$(_mdb_sql -N -e 'SELECT @@binlog_format' 2>/dev/null)"
    echo "pid $(cat "$MDB_PIDFILE"), 127.0.0.1:$MARIADB_PORT, MariaDB $version, binlog_format=$format, db/user tributary"
  elif _mdb_running; then
    echo "pid $(cat "$MDB_PIDFILE") is running but 127.0.0.1:$MARIADB_PORT is closed (starting?)"; return 1
  else
    echo "not running"; return 1
  fi
}

mariadb_stop() {
  stop_pidfile mariadb "$MDB_PIDFILE"
}
