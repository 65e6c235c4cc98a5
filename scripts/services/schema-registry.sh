# Schema registry: Apicurio Registry (its Confluent-compatible API under /apis/ccompat/v7), re-augmented into a runnable
# Quarkus application from its Maven Central artifacts by scripts/services/schema-registry/pom.xml, on
# http://127.0.0.1:$SCHEMA_REGISTRY_PORT with in-memory (H2) storage and no authentication. Runs on the machine's Java 17.
# Why this shape and this version: docs/decisions/0016-schema-registry-service.md
# Sourced by scripts/services.sh, which provides lib.sh's helpers. Needs no other service to start.
#
# Layout under $SERVICES_DIR/schema-registry/:
#   project/             the pom copied from scripts/services/schema-registry/ and its `mvn package` output:
#                        project/target/schema-registry-0-runner.jar + project/target/lib/ (the runnable application)
#   project/.installed   checksum of the pom and settings it was built from
#   server.log           the JVM's output;  mvn.log: the last build
#   schema-registry.pid  pid of the running server;  schema-registry.stamp: checksum of what it was started from
# Storage is in memory: every start is an empty registry (schema ids restart at 1), which is what tests want.

# Port default here (not lib.sh) so this service is one file; test/support/services.ts reads the same variable.
SCHEMA_REGISTRY_PORT="${TRIBUTARY_SCHEMA_REGISTRY_PORT:-18081}"
SCHEMA_REGISTRY_HOME="$SERVICES_DIR/schema-registry"
SCHEMA_REGISTRY_TEMPLATES="$ROOT/scripts/services/schema-registry"
SCHEMA_REGISTRY_PIDFILE="$SCHEMA_REGISTRY_HOME/schema-registry.pid"
SCHEMA_REGISTRY_URL="http://127.0.0.1:$SCHEMA_REGISTRY_PORT"
SCHEMA_REGISTRY_HEAP_OPTS="${TRIBUTARY_SCHEMA_REGISTRY_HEAP_OPTS:--Xms64m -Xmx512m}"
SCHEMA_REGISTRY_RUNNER="$SCHEMA_REGISTRY_HOME/project/target/schema-registry-0-runner.jar"

_schema_registry_java() { if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/$1"; else echo "$1"; fi; }
_schema_registry_version() { sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$SCHEMA_REGISTRY_TEMPLATES/pom.xml"; }
_schema_registry_build_sum() {
  cat "$SCHEMA_REGISTRY_TEMPLATES/pom.xml" "$SCHEMA_REGISTRY_TEMPLATES/settings.xml" | sha256sum | cut -d' ' -f1
}
# What a running server was started from (the build inputs, port, heap): `up` restarts a server whose inputs changed.
_schema_registry_stamp() {
  { _schema_registry_build_sum; echo "$SCHEMA_REGISTRY_PORT $SCHEMA_REGISTRY_HEAP_OPTS"; } | sha256sum | cut -d' ' -f1
}
_schema_registry_outdated() {
  [[ "$(cat "$SCHEMA_REGISTRY_HOME/schema-registry.stamp" 2>/dev/null)" != "$(_schema_registry_stamp)" ]]
}

schema-registry_install() {
  mkdir -p "$SCHEMA_REGISTRY_HOME"
  if pid_alive "$SCHEMA_REGISTRY_PIDFILE" && _schema_registry_outdated; then
    log "schema-registry: scripts/services/schema-registry/ changed since the server started; restarting it"
    schema-registry_stop
  fi
  command -v curl >/dev/null || apt_install curl ca-certificates
  command -v "$(_schema_registry_java java)" >/dev/null || apt_install openjdk-17-jdk-headless
  if [[ "$(cat "$SCHEMA_REGISTRY_HOME/project/.installed" 2>/dev/null)" != "$(_schema_registry_build_sum)" \
        || ! -f "$SCHEMA_REGISTRY_RUNNER" ]]; then
    command -v mvn >/dev/null || die "schema-registry: Maven (mvn) is needed to build Apicurio Registry from its jars"
    log "schema-registry: building Apicurio Registry $(_schema_registry_version) from Maven Central (quarkus:build)"
    rm -rf "$SCHEMA_REGISTRY_HOME/project"
    mkdir -p "$SCHEMA_REGISTRY_HOME/project"
    cp "$SCHEMA_REGISTRY_TEMPLATES/pom.xml" "$SCHEMA_REGISTRY_HOME/project/pom.xml"
    mvn -B -Dstyle.color=never -s "$SCHEMA_REGISTRY_TEMPLATES/settings.xml" -f "$SCHEMA_REGISTRY_HOME/project/pom.xml" \
      package >"$SCHEMA_REGISTRY_HOME/mvn.log" 2>&1 \
      || { tail -n 30 "$SCHEMA_REGISTRY_HOME/mvn.log" >&2; die "schema-registry: mvn package failed; see $SCHEMA_REGISTRY_HOME/mvn.log"; }
    [[ -f "$SCHEMA_REGISTRY_RUNNER" ]] || die "schema-registry: the build made no $SCHEMA_REGISTRY_RUNNER; see $SCHEMA_REGISTRY_HOME/mvn.log"
    _schema_registry_build_sum >"$SCHEMA_REGISTRY_HOME/project/.installed"
  fi
}

# Ready = our process is alive and the Confluent-compatible API lists subjects.
_schema_registry_ready() {
  pid_alive "$SCHEMA_REGISTRY_PIDFILE" || return 1
  local subjects; subjects="$(curl -fsS --max-time 3 "$SCHEMA_REGISTRY_URL/apis/ccompat/v7/subjects" 2>/dev/null)" || return 1
  [[ "$subjects" == '['* ]]
}

schema-registry_start() {
  _schema_registry_ready && return 0
  if ! pid_alive "$SCHEMA_REGISTRY_PIDFILE"; then
    port_open "$SCHEMA_REGISTRY_PORT" && die "schema-registry: 127.0.0.1:$SCHEMA_REGISTRY_PORT is taken by a process this script did not start"
    rm -f "$SCHEMA_REGISTRY_PIDFILE"
    _schema_registry_stamp >"$SCHEMA_REGISTRY_HOME/schema-registry.stamp"
    local java; java="$(_schema_registry_java java)"
    # setsid: the server outlives this script and its terminal; the child writes its own pid, then becomes the JVM.
    # Quarkus reads these -D properties at run time over the application.properties baked into the build.
    # shellcheck disable=SC2086
    SCHEMA_REGISTRY_PIDFILE="$SCHEMA_REGISTRY_PIDFILE" setsid bash -c 'echo $$ >"$SCHEMA_REGISTRY_PIDFILE"; exec "$@"' schema-registry \
      "$java" -server $SCHEMA_REGISTRY_HEAP_OPTS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$SCHEMA_REGISTRY_PORT" \
      -Dregistry.auth.enabled=false -Dquarkus.oidc.tenant-enabled=false \
      -Dquarkus.datasource.jdbc.url="jdbc:h2:mem:registry_db" \
      -jar "$SCHEMA_REGISTRY_RUNNER" \
      </dev/null >>"$SCHEMA_REGISTRY_HOME/server.log" 2>&1 &
    for _ in $(seq 1 50); do [[ -s "$SCHEMA_REGISTRY_PIDFILE" ]] && break; sleep 0.1; done
  fi
  await_started schema-registry "$SCHEMA_REGISTRY_PIDFILE" 90 "$SCHEMA_REGISTRY_HOME/server.log" "GET $SCHEMA_REGISTRY_URL/apis/ccompat/v7/subjects" _schema_registry_ready
}

schema-registry_status() {
  if _schema_registry_ready && _schema_registry_outdated; then
    echo "pid $(cat "$SCHEMA_REGISTRY_PIDFILE") was started from older scripts/services/schema-registry/ files (up restarts it)"; return 1
  elif _schema_registry_ready; then
    echo "pid $(cat "$SCHEMA_REGISTRY_PIDFILE"), $SCHEMA_REGISTRY_URL/apis/ccompat/v7, Apicurio Registry $(_schema_registry_version) (in-memory H2, no auth)"
  elif pid_alive "$SCHEMA_REGISTRY_PIDFILE"; then
    echo "pid $(cat "$SCHEMA_REGISTRY_PIDFILE") is running but $SCHEMA_REGISTRY_URL/apis/ccompat/v7/subjects does not answer (starting?)"; return 1
  else
    echo "not running"; return 1
  fi
}

schema-registry_stop() {
  stop_pidfile schema-registry "$SCHEMA_REGISTRY_PIDFILE"
}
