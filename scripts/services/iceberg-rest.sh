# Iceberg REST catalog: Apache Iceberg's own REST server classes (RESTCatalogAdapter + RESTCatalogServlet, the ones the
# iceberg-rest-fixture image runs) over a JdbcCatalog on SQLite, on http://127.0.0.1:$ICEBERG_REST_PORT. The warehouse is
# local disk (file:// locations); tables created with an s3:// location go to the S3 service. Jars from Maven Central,
# run with the machine's Java 17. Why this shape: docs/decisions/0011-iceberg-rest-catalog-server.md.
# Sourced by scripts/services.sh, which provides lib.sh's helpers. Needs no other service to start.
#
# Layout under $SERVICES_DIR/iceberg-rest/:
#   lib/                 the jars (scripts/services/iceberg-rest/pom.xml), lib/.installed holds the pom's checksum
#   classes/             IcebergRestServer.java compiled (classes/.installed: checksum of the source and the jars)
#   catalog.properties   generated from scripts/services/iceberg-rest/catalog.properties on every start
#   catalog.db           the SQLite catalog (namespaces, table -> current metadata location)
#   warehouse/           file:// table locations: <namespace>/<table>/{metadata,data}/
#   server.log           the JVM's output (slf4j-simple);  mvn.log / javac.log: the last install
#   iceberg-rest.pid     pid of the running server;  iceberg-rest.stamp: checksum of the files it was started from

ICEBERG_REST_HOME="$SERVICES_DIR/iceberg-rest"
ICEBERG_REST_TEMPLATES="$ROOT/scripts/services/iceberg-rest"
ICEBERG_REST_PIDFILE="$ICEBERG_REST_HOME/iceberg-rest.pid"
ICEBERG_REST_URL="http://127.0.0.1:$ICEBERG_REST_PORT"
ICEBERG_REST_HEAP_OPTS="${TRIBUTARY_ICEBERG_REST_HEAP_OPTS:--Xms64m -Xmx512m}"
ICEBERG_REST_MAIN="dev.tributary.services.IcebergRestServer"

_iceberg_rest_java() { if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/$1"; else echo "$1"; fi; }
_iceberg_rest_version() { sed -n 's:.*<iceberg.version>\(.*\)</iceberg.version>.*:\1:p' "$ICEBERG_REST_TEMPLATES/pom.xml"; }
_iceberg_rest_pom_sum() { sha256sum "$ICEBERG_REST_TEMPLATES/pom.xml" | cut -d' ' -f1; }
_iceberg_rest_classes_sum() {
  { cat "$ICEBERG_REST_TEMPLATES/IcebergRestServer.java"; _iceberg_rest_pom_sum; } | sha256sum | cut -d' ' -f1
}
# What a running server was started from (jars pin, launcher, config template, ports): iceberg-rest.stamp records it at
# launch, so `up` restarts a server whose pins or templates changed since.
_iceberg_rest_stamp() {
  { cat "$ICEBERG_REST_TEMPLATES/pom.xml" "$ICEBERG_REST_TEMPLATES/IcebergRestServer.java" \
      "$ICEBERG_REST_TEMPLATES/catalog.properties"
    echo "$ICEBERG_REST_PORT $S3_PORT $ICEBERG_REST_HEAP_OPTS"; } | sha256sum | cut -d' ' -f1
}
_iceberg_rest_outdated() { [[ "$(cat "$ICEBERG_REST_HOME/iceberg-rest.stamp" 2>/dev/null)" != "$(_iceberg_rest_stamp)" ]]; }

iceberg-rest_install() {
  mkdir -p "$ICEBERG_REST_HOME/warehouse"
  if pid_alive "$ICEBERG_REST_PIDFILE" && _iceberg_rest_outdated; then
    log "iceberg-rest: scripts/services/iceberg-rest/ changed since the server started; restarting it"
    iceberg-rest_stop
  fi
  command -v curl >/dev/null || apt_install curl ca-certificates
  command -v "$(_iceberg_rest_java javac)" >/dev/null || apt_install openjdk-17-jdk-headless
  if [[ "$(cat "$ICEBERG_REST_HOME/lib/.installed" 2>/dev/null)" != "$(_iceberg_rest_pom_sum)" ]]; then
    command -v mvn >/dev/null || die "iceberg-rest: Maven (mvn) is needed to fetch Iceberg's jars"
    log "iceberg-rest: fetching Apache Iceberg $(_iceberg_rest_version) REST server jars from Maven Central"
    rm -rf "$ICEBERG_REST_HOME/lib.tmp"
    mvn -q -B -Dstyle.color=never -f "$ICEBERG_REST_TEMPLATES/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$ICEBERG_REST_HOME/lib.tmp" >"$ICEBERG_REST_HOME/mvn.log" 2>&1 \
      || { tail -n 30 "$ICEBERG_REST_HOME/mvn.log" >&2; die "iceberg-rest: mvn dependency:copy-dependencies failed; see $ICEBERG_REST_HOME/mvn.log"; }
    _iceberg_rest_pom_sum >"$ICEBERG_REST_HOME/lib.tmp/.installed"
    rm -rf "$ICEBERG_REST_HOME/lib" && mv "$ICEBERG_REST_HOME/lib.tmp" "$ICEBERG_REST_HOME/lib"
  fi
  if [[ "$(cat "$ICEBERG_REST_HOME/classes/.installed" 2>/dev/null)" != "$(_iceberg_rest_classes_sum)" ]]; then
    rm -rf "$ICEBERG_REST_HOME/classes.tmp"
    "$(_iceberg_rest_java javac)" -nowarn -d "$ICEBERG_REST_HOME/classes.tmp" -cp "$ICEBERG_REST_HOME/lib/*" \
      "$ICEBERG_REST_TEMPLATES/IcebergRestServer.java" >"$ICEBERG_REST_HOME/javac.log" 2>&1 \
      || { cat "$ICEBERG_REST_HOME/javac.log" >&2; die "iceberg-rest: javac IcebergRestServer.java failed"; }
    _iceberg_rest_classes_sum >"$ICEBERG_REST_HOME/classes.tmp/.installed"
    rm -rf "$ICEBERG_REST_HOME/classes" && mv "$ICEBERG_REST_HOME/classes.tmp" "$ICEBERG_REST_HOME/classes"
  fi
}

_iceberg_rest_write_config() {
  sed -e "s|@PORT@|$ICEBERG_REST_PORT|g" -e "s|@S3_PORT@|$S3_PORT|g" -e "s|@HOME@|$ICEBERG_REST_HOME|g" \
    "$ICEBERG_REST_TEMPLATES/catalog.properties" >"$ICEBERG_REST_HOME/catalog.properties"
}

# Ready = our process is alive and GET /v1/config answers with the list of endpoints.
_iceberg_rest_ready() {
  pid_alive "$ICEBERG_REST_PIDFILE" || return 1
  local config; config="$(curl -fsS --max-time 3 "$ICEBERG_REST_URL/v1/config" 2>/dev/null)" || return 1
  [[ "$config" == *'"endpoints"'* ]]
}

iceberg-rest_start() {
  _iceberg_rest_ready && return 0
  if ! pid_alive "$ICEBERG_REST_PIDFILE"; then
    port_open "$ICEBERG_REST_PORT" && die "iceberg-rest: 127.0.0.1:$ICEBERG_REST_PORT is taken by a process this script did not start"
    _iceberg_rest_write_config
    rm -f "$ICEBERG_REST_PIDFILE"
    _iceberg_rest_stamp >"$ICEBERG_REST_HOME/iceberg-rest.stamp"
    local java; java="$(_iceberg_rest_java java)"
    # setsid: the server outlives this script and its terminal; the child writes its own pid, then becomes the JVM.
    # shellcheck disable=SC2086
    ICEBERG_REST_PIDFILE="$ICEBERG_REST_PIDFILE" setsid bash -c 'echo $$ >"$ICEBERG_REST_PIDFILE"; exec "$@"' iceberg-rest \
      "$java" -server $ICEBERG_REST_HEAP_OPTS -XX:+UseSerialGC -Djava.awt.headless=true \
      -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd\'T\'HH:mm:ss.SSS \
      -cp "$ICEBERG_REST_HOME/classes:$ICEBERG_REST_HOME/lib/*" "$ICEBERG_REST_MAIN" "$ICEBERG_REST_HOME/catalog.properties" \
      </dev/null >>"$ICEBERG_REST_HOME/server.log" 2>&1 &
    for _ in $(seq 1 50); do [[ -s "$ICEBERG_REST_PIDFILE" ]] && break; sleep 0.1; done
  fi
  await_started iceberg-rest "$ICEBERG_REST_PIDFILE" 60 "$ICEBERG_REST_HOME/server.log" "GET $ICEBERG_REST_URL/v1/config" _iceberg_rest_ready
}

iceberg-rest_status() {
  if _iceberg_rest_ready && _iceberg_rest_outdated; then
    echo "pid $(cat "$ICEBERG_REST_PIDFILE") was started from older scripts/services/iceberg-rest/ files (up restarts it)"; return 1
  elif _iceberg_rest_ready; then
    echo "pid $(cat "$ICEBERG_REST_PIDFILE"), $ICEBERG_REST_URL, Iceberg $(_iceberg_rest_version) REST (JdbcCatalog on SQLite), warehouse file://$ICEBERG_REST_HOME/warehouse"
  elif pid_alive "$ICEBERG_REST_PIDFILE"; then
    echo "pid $(cat "$ICEBERG_REST_PIDFILE") is running but $ICEBERG_REST_URL/v1/config does not answer (starting?)"; return 1
  else
    echo "not running"; return 1
  fi
}

iceberg-rest_stop() {
  stop_pidfile iceberg-rest "$ICEBERG_REST_PIDFILE"
}
