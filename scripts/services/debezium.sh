# Debezium: a Kafka Connect worker in distributed mode with the Debezium PostgreSQL and MariaDB connector plugins, REST API on
# 127.0.0.1:$CONNECT_PORT, writing to the Kafka broker of scripts/services/kafka.sh. Tests register their own connectors
# over REST (POST /connectors) and delete them afterwards. Why this shape: docs/decisions/0004-debezium-runtime.md.
# Sourced by scripts/services.sh, which provides lib.sh's helpers. Needs kafka up (postgres only when a connector runs).
#
# Layout under $SERVICES_DIR/debezium/:
#   lib/                                   Connect worker jars (scripts/services/debezium/connect-pom.xml)
#   plugins/debezium-connector-postgres/   the connector and its own dependencies (plugin-pom.xml), on plugin.path
#   plugins/debezium-connector-mariadb/    the MariaDB connector and its dependencies (mariadb-plugin-pom.xml): its own
#                                          class loader, so it may be a different Debezium version than the Postgres one
#   connect-distributed.properties         generated from scripts/services/debezium/ on every start
#   connect.log                            the worker's log4j output;  connect.out: the JVM's stdout/stderr
#   connect.pid, connect.stamp             pid of the running worker; checksum of the files it was started from

DBZ_HOME="$SERVICES_DIR/debezium"
DBZ_TEMPLATES="$ROOT/scripts/services/debezium"
DBZ_PIDFILE="$DBZ_HOME/connect.pid"
DBZ_PLUGIN_DIR="$DBZ_HOME/plugins/debezium-connector-postgres"
DBZ_MARIADB_PLUGIN_DIR="$DBZ_HOME/plugins/debezium-connector-mariadb"
DBZ_CONNECT_URL="http://127.0.0.1:$CONNECT_PORT"
DBZ_HEAP_OPTS="${TRIBUTARY_CONNECT_HEAP_OPTS:--Xms256m -Xmx512m}"
DBZ_POSTGRES_CONNECTOR="io.debezium.connector.postgresql.PostgresConnector"
DBZ_MARIADB_CONNECTOR="io.debezium.connector.mariadb.MariaDbConnector"

_dbz_java() { if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi; }
# What a running worker was started from (both poms, worker config and logging templates, ports): connect.stamp records
# it at launch, so `up` restarts a worker whose pins or templates changed since.
_dbz_stamp() {
  { cat "$DBZ_TEMPLATES/connect-pom.xml" "$DBZ_TEMPLATES/plugin-pom.xml" "$DBZ_TEMPLATES/mariadb-plugin-pom.xml" \
      "$DBZ_TEMPLATES/connect-distributed.properties" \
      "$DBZ_TEMPLATES/log4j2.properties"
    echo "$KAFKA_PORT $CONNECT_PORT $DBZ_HEAP_OPTS"; } | sha256sum | cut -d' ' -f1
}
_dbz_outdated() { [[ "$(cat "$DBZ_HOME/connect.stamp" 2>/dev/null)" != "$(_dbz_stamp)" ]]; }
_dbz_versions() {
  local k d m
  k="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$DBZ_TEMPLATES/connect-pom.xml")"
  d="$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$DBZ_TEMPLATES/plugin-pom.xml")"
  m="$(sed -n 's:.*<debezium.version>\(.*\)</debezium.version>.*:\1:p' "$DBZ_TEMPLATES/mariadb-plugin-pom.xml")"
  echo "Debezium $d (postgres) and $m (mariadb) on Kafka Connect $k"
}

# _dbz_copy_deps POM DEST [mvn args...]: copies the pom's runtime dependencies into DEST, unless DEST/.installed shows
# it was made from this very pom and these arguments.
_dbz_copy_deps() {
  local pom="$1" dest="$2"; shift 2
  local sum; sum="$({ cat "$pom"; echo "$*"; } | sha256sum | cut -d' ' -f1)"
  [[ "$(cat "$dest/.installed" 2>/dev/null)" == "$sum" ]] && return 0
  command -v mvn >/dev/null || die "debezium: Maven (mvn) is needed to fetch jars"
  log "debezium: fetching $(basename "$pom") dependencies from Maven Central"
  rm -rf "$dest.tmp"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest.tmp" "$@" \
    >"$DBZ_HOME/mvn.log" 2>&1 \
    || { tail -n 30 "$DBZ_HOME/mvn.log" >&2; die "debezium: mvn dependency:copy-dependencies -f $pom failed; see $DBZ_HOME/mvn.log"; }
  echo "$sum" >"$dest.tmp/.installed"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
}

debezium_install() {
  if pid_alive "$DBZ_PIDFILE" && _dbz_outdated; then
    log "debezium: scripts/services/debezium/ changed since the worker started; restarting it"
    debezium_stop
  fi
  command -v curl >/dev/null || apt_install curl ca-certificates
  mkdir -p "$DBZ_HOME/plugins"
  _dbz_copy_deps "$DBZ_TEMPLATES/connect-pom.xml" "$DBZ_HOME/lib"
  # The plugin gets its own class loader: leave out what the worker provides (Kafka APIs, slf4j, jackson core/databind:
  # Debezium's CloudEventsConverter calls JsonConverter with jackson types, which must be the worker's own classes).
  _dbz_copy_deps "$DBZ_TEMPLATES/plugin-pom.xml" "$DBZ_PLUGIN_DIR" \
    -DexcludeScope=provided -DexcludeGroupIds=org.apache.kafka,com.fasterxml.jackson.core -DexcludeArtifactIds=slf4j-api
  _dbz_copy_deps "$DBZ_TEMPLATES/mariadb-plugin-pom.xml" "$DBZ_MARIADB_PLUGIN_DIR" \
    -DexcludeScope=provided -DexcludeGroupIds=org.apache.kafka,com.fasterxml.jackson.core -DexcludeArtifactIds=slf4j-api
}

_dbz_write_config() {
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONNECT_PORT@|$CONNECT_PORT|g" -e "s|@PLUGIN_PATH@|$DBZ_HOME/plugins|g" \
    "$DBZ_TEMPLATES/connect-distributed.properties" >"$DBZ_HOME/connect-distributed.properties"
}

_dbz_get() { curl -fsS --max-time 3 "$DBZ_CONNECT_URL$1"; }

# Ready = our worker is alive, its REST API lists the Postgres connector plugin and the herder answers GET /connectors
# (that one only succeeds once the worker has joined its group and read the config topic).
_dbz_ready() {
  pid_alive "$DBZ_PIDFILE" || return 1
  local plugins; plugins="$(_dbz_get /connector-plugins 2>/dev/null)" || return 1
  [[ "$plugins" == *"\"$DBZ_POSTGRES_CONNECTOR\""* && "$plugins" == *"\"$DBZ_MARIADB_CONNECTOR\""* ]] || return 1
  _dbz_get /connectors >/dev/null 2>&1
}

debezium_start() {
  _dbz_ready && return 0
  port_open "$KAFKA_PORT" || die "debezium: Kafka is not up on 127.0.0.1:$KAFKA_PORT (start it first: scripts/services.sh up kafka)"
  if ! pid_alive "$DBZ_PIDFILE"; then
    port_open "$CONNECT_PORT" && die "debezium: 127.0.0.1:$CONNECT_PORT is taken by a process this script did not start"
    _dbz_write_config
    rm -f "$DBZ_PIDFILE"
    _dbz_stamp >"$DBZ_HOME/connect.stamp"
    local java; java="$(_dbz_java)"
    # setsid: the worker outlives this script and its terminal; the child writes its own pid, then becomes the JVM.
    # shellcheck disable=SC2086
    DBZ_PIDFILE="$DBZ_PIDFILE" setsid bash -c 'echo $$ >"$DBZ_PIDFILE"; exec "$@"' connect \
      "$java" -server $DBZ_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -Dkafka.logs.dir="$DBZ_HOME" -Dlog4j2.configurationFile="$DBZ_TEMPLATES/log4j2.properties" \
      -cp "$DBZ_HOME/lib/*" org.apache.kafka.connect.cli.ConnectDistributed "$DBZ_HOME/connect-distributed.properties" \
      </dev/null >"$DBZ_HOME/connect.out" 2>&1 &
    for _ in $(seq 1 50); do [[ -s "$DBZ_PIDFILE" ]] && break; sleep 0.1; done
  fi
  await_started debezium "$DBZ_PIDFILE" 180 "$DBZ_HOME/connect.log" "Connect REST" _dbz_ready
}

debezium_status() {
  local info
  if pid_alive "$DBZ_PIDFILE" && _dbz_outdated; then
    echo "pid $(cat "$DBZ_PIDFILE") was started from older scripts/services/debezium/ files (up restarts it)"; return 1
  elif pid_alive "$DBZ_PIDFILE" && info="$(_dbz_get / 2>/dev/null)"; then
    local connectors; connectors="$(_dbz_get /connectors 2>/dev/null)" || { echo "REST up but the worker is not ready (starting?)"; return 1; }
    echo "pid $(cat "$DBZ_PIDFILE"), REST $DBZ_CONNECT_URL, $(_dbz_versions), connectors: ${connectors}"
    [[ "$info" == *'"version"'* ]]
  elif pid_alive "$DBZ_PIDFILE"; then
    echo "pid $(cat "$DBZ_PIDFILE") is running but REST $DBZ_CONNECT_URL does not answer (starting?)"; return 1
  else
    echo "not running"; return 1
  fi
}

debezium_stop() {
  stop_pidfile debezium "$DBZ_PIDFILE"
}
