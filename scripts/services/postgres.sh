# PostgreSQL (Debian's server package) on 127.0.0.1:$POSTGRES_PORT with logical replication for Debezium.
# Sourced by scripts/services.sh, which provides lib.sh's helpers.
#
# Layout under $SERVICES_DIR/postgres/ (owned by the `postgres` OS user when run as root: root may not run postgres):
#   data/          the cluster (initdb once); data/tributary.conf is rewritten from scripts/services/postgres/tributary.conf
#   run/           the unix socket directory (local admin access for the postgres OS user, peer auth)
#   postgres.log   the server log (pg_ctl -l);  postgres.stamp: checksum of the settings the server was started with
# Clients: role `tributary` / password `tributary` (LOGIN REPLICATION SUPERUSER), database `tributary`, over TCP with
# scram-sha-256. Nothing listens on other addresses.

PG_HOME="$SERVICES_DIR/postgres"
PG_DATA="$PG_HOME/data"
PG_TEMPLATE="$ROOT/scripts/services/postgres/tributary.conf"
PG_SOCKET_DIR="$PG_HOME/run"
# A unix socket path must fit in 107 bytes; a deep checkout falls back to a short directory under /tmp.
((${#PG_SOCKET_DIR} <= 80)) || PG_SOCKET_DIR="/tmp/tributary-postgres-$POSTGRES_PORT"

# The newest installed server, e.g. /usr/lib/postgresql/15/bin.
_pg_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  [[ -n "$bin" && -x "$bin/postgres" ]] || return 1
  echo "$bin"
}

# Runs a command as the OS user that owns the cluster: `postgres` when we are root, ourselves otherwise.
_pg_as_owner() {
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Lets the postgres OS user reach $PG_HOME: adds search (x) permission for others on any ancestor that lacks it.
_pg_make_traversable() {
  ((EUID == 0)) || return 0
  local dir="$PG_HOME" dirs=()
  while [[ "$dir" != "/" && -n "$dir" ]]; do dirs=("$dir" "${dirs[@]}"); dir="$(dirname "$dir")"; done
  for dir in "${dirs[@]}"; do
    [[ "$dir" == "$PG_HOME" ]] && continue
    if ! runuser -u postgres -- test -x "$dir"; then
      log "postgres: adding o+x to $dir so the postgres user can reach its data directory"
      chmod o+x "$dir"
    fi
  done
}

postgres_install() {
  if _pg_running && _pg_outdated; then
    log "postgres: scripts/services/postgres/tributary.conf changed since the server started; restarting it"
    postgres_stop
  fi
  _pg_bin >/dev/null || apt_install postgresql
  local bin; bin="$(_pg_bin)" || die "postgres: no server under /usr/lib/postgresql/*/bin after installing postgresql"
  mkdir -p "$PG_HOME" "$PG_SOCKET_DIR"
  _pg_make_traversable
  if ((EUID == 0)); then chown postgres:postgres "$PG_HOME" "$PG_SOCKET_DIR"; fi
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    log "postgres: initdb $PG_DATA"
    rm -rf "$PG_DATA"
    _pg_as_owner "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >"$PG_HOME/initdb.log" 2>&1 \
      || die "postgres: initdb failed; see $PG_HOME/initdb.log"
    echo "include 'tributary.conf'" | _pg_as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi
  local have want
  have="$(cat "$PG_DATA/PG_VERSION")"; want="$(basename "$(dirname "$bin")")"
  [[ "$have" == "$want" ]] || die "postgres: $PG_DATA was made by PostgreSQL $have but the server here is $want; delete $PG_HOME to start over"
}

_pg_write_config() {
  sed -e "s|@PORT@|$POSTGRES_PORT|g" -e "s|@SOCKET_DIR@|$PG_SOCKET_DIR|g" "$PG_TEMPLATE" \
    | _pg_as_owner tee "$PG_DATA/tributary.conf" >/dev/null
}

# What the running server was started from (config template, port, socket dir): postgres.stamp records it at start, so
# `up` restarts a server whose settings changed since (wal_level and friends need a restart, not a reload).
_pg_stamp() { { cat "$PG_TEMPLATE"; echo "$POSTGRES_PORT $PG_SOCKET_DIR"; } | sha256sum | cut -d' ' -f1; }
_pg_outdated() { [[ "$(cat "$PG_HOME/postgres.stamp" 2>/dev/null)" != "$(_pg_stamp)" ]]; }

_pg_pid() { head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null; }
_pg_running() { local pid; pid="$(_pg_pid)" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

_pg_psql() {
  _pg_as_owner "$(_pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$POSTGRES_PORT" -U postgres "$@"
}

postgres_start() {
  local bin; bin="$(_pg_bin)" || die "postgres: server not installed"
  if ! _pg_running; then
    port_open "$POSTGRES_PORT" && die "postgres: 127.0.0.1:$POSTGRES_PORT is taken by a process this script did not start"
    mkdir -p "$PG_SOCKET_DIR"
    if ((EUID == 0)); then chown postgres:postgres "$PG_SOCKET_DIR"; fi
    _pg_write_config
    _pg_stamp >"$PG_HOME/postgres.stamp"
    _pg_as_owner "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_HOME/postgres.log" -w -t 60 start >/dev/null \
      || die "postgres: pg_ctl start failed; see $PG_HOME/postgres.log"
  fi
  wait_for postgres 30 port_open "$POSTGRES_PORT" || die "postgres: port $POSTGRES_PORT not open; see $PG_HOME/postgres.log"
  # Role and database for the tests; re-applying them is cheap and keeps the password right.
  _pg_psql -d postgres <<'SQL' || die "postgres: creating role/database tributary failed"
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tributary') THEN
    CREATE ROLE tributary;
  END IF;
END $$;
ALTER ROLE tributary WITH LOGIN REPLICATION SUPERUSER PASSWORD 'tributary';
SELECT 'CREATE DATABASE tributary OWNER tributary' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tributary')
\gexec
SQL
}

postgres_status() {
  if _pg_running && _pg_outdated; then
    echo "pid $(_pg_pid) was started with an older scripts/services/postgres/tributary.conf (up restarts it)"; return 1
  elif _pg_running && port_open "$POSTGRES_PORT"; then
    echo "pid $(_pg_pid), 127.0.0.1:$POSTGRES_PORT, PostgreSQL $(cat "$PG_DATA/PG_VERSION"), wal_level=logical, db/user tributary"
  elif _pg_running; then
    echo "pid $(_pg_pid) is running but 127.0.0.1:$POSTGRES_PORT is closed (starting?)"; return 1
  else
    echo "not running"; return 1
  fi
}

postgres_stop() {
  if _pg_running; then
    _pg_as_owner "$(_pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || die "postgres: pg_ctl stop failed"
    log "postgres stopped"
  fi
}
