# Apache Kafka: one KRaft node (broker + controller in one JVM) on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT).
# Runs with the machine's Java from Apache Kafka's jars on Maven Central (scripts/services/kafka/pom.xml pins the version;
# see docs/decisions/0003-kafka-version.md). Sourced by scripts/services.sh, which provides lib.sh's helpers.
#
# Layout under $SERVICES_DIR/kafka/:
#   lib/               the jars (copied by `mvn dependency:copy-dependencies`), lib/.installed holds the pom's checksum
#   data/              the log dirs, formatted once by kafka.tools.StorageTool
#   server.properties  generated from scripts/services/kafka/server.properties on every start
#   server.log         the broker's log4j output;  kafka.out: the JVM's stdout/stderr (crashes, GC warnings)
#   kafka.pid, ready   pid of the running broker; `ready` holds that pid once "Kafka Server started" was logged
#   kafka.stamp        checksum of the templates/pins the running broker was started from

KAFKA_HOME="$SERVICES_DIR/kafka"
KAFKA_TEMPLATES="$ROOT/scripts/services/kafka"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
KAFKA_HEAP_OPTS="${TRIBUTARY_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

_kafka_java() { if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi; }
_kafka_pom_sum() { sha256sum "$KAFKA_TEMPLATES/pom.xml" | cut -d' ' -f1; }
_kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_TEMPLATES/pom.xml"; }
# What a running broker was started from (jars pin, config and logging templates, ports): kafka.stamp records it at launch,
# so `up` restarts a broker whose pins or templates changed since.
_kafka_stamp() {
  { cat "$KAFKA_TEMPLATES/pom.xml" "$KAFKA_TEMPLATES/server.properties" "$KAFKA_TEMPLATES/log4j2.properties"
    echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT $KAFKA_HEAP_OPTS"; } | sha256sum | cut -d' ' -f1
}
_kafka_outdated() { [[ "$(cat "$KAFKA_HOME/kafka.stamp" 2>/dev/null)" != "$(_kafka_stamp)" ]]; }

kafka_install() {
  mkdir -p "$KAFKA_HOME"
  if pid_alive "$KAFKA_PIDFILE" && _kafka_outdated; then
    log "kafka: scripts/services/kafka/ changed since the broker started; restarting it"
    kafka_stop
  fi
  if [[ "$(cat "$KAFKA_HOME/lib/.installed" 2>/dev/null)" != "$(_kafka_pom_sum)" ]]; then
    command -v mvn >/dev/null || die "kafka: Maven (mvn) is needed to fetch Kafka's jars"
    log "kafka: fetching Apache Kafka $(_kafka_version) jars from Maven Central"
    rm -rf "$KAFKA_HOME/lib.tmp"
    mvn -q -B -Dstyle.color=never -f "$KAFKA_TEMPLATES/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/lib.tmp" >"$KAFKA_HOME/mvn.log" 2>&1 \
      || { tail -n 30 "$KAFKA_HOME/mvn.log" >&2; die "kafka: mvn dependency:copy-dependencies failed; see $KAFKA_HOME/mvn.log"; }
    _kafka_pom_sum >"$KAFKA_HOME/lib.tmp/.installed"
    rm -rf "$KAFKA_HOME/lib" && mv "$KAFKA_HOME/lib.tmp" "$KAFKA_HOME/lib"
  fi
  _kafka_write_config
  if [[ ! -f "$KAFKA_HOME/data/meta.properties" ]]; then
    local java cluster_id
    java="$(_kafka_java)"
    mkdir -p "$KAFKA_HOME/data"
    cluster_id="$("$java" -cp "$KAFKA_HOME/lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    [[ -n "$cluster_id" ]] || die "kafka: StorageTool random-uuid failed"
    log "kafka: formatting storage (cluster id $cluster_id)"
    "$java" -Dlog4j2.configurationFile="$KAFKA_TEMPLATES/log4j2.properties" -Dkafka.logs.dir="$KAFKA_HOME" \
      -cp "$KAFKA_HOME/lib/*" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$KAFKA_HOME/server.properties" --ignore-formatted >"$KAFKA_HOME/format.log" 2>&1 \
      || die "kafka: StorageTool format failed; see $KAFKA_HOME/format.log"
  fi
}

_kafka_write_config() {
  sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@DATA_DIR@|$KAFKA_HOME/data|g" \
    "$KAFKA_TEMPLATES/server.properties" >"$KAFKA_HOME/server.properties"
}

# Ready = our process is alive, the client port accepts connections and this very process logged "Kafka Server started".
_kafka_ready() {
  pid_alive "$KAFKA_PIDFILE" && port_open "$KAFKA_PORT" || return 1
  [[ -f "$KAFKA_HOME/ready" && "$(cat "$KAFKA_HOME/ready")" == "$(cat "$KAFKA_PIDFILE")" ]] && return 0
  local offset; offset="$(cat "$KAFKA_HOME/start.offset" 2>/dev/null || echo 0)"
  if tail -c +"$((offset + 1))" "$KAFKA_HOME/server.log" 2>/dev/null | grep -q 'Kafka Server started'; then
    cat "$KAFKA_PIDFILE" >"$KAFKA_HOME/ready"
    return 0
  fi
  return 1
}

kafka_start() {
  _kafka_ready && return 0
  if ! pid_alive "$KAFKA_PIDFILE"; then
    port_open "$KAFKA_PORT" && die "kafka: 127.0.0.1:$KAFKA_PORT is taken by a process this script did not start"
    port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: 127.0.0.1:$KAFKA_CONTROLLER_PORT is taken by a process this script did not start"
    _kafka_write_config
    rm -f "$KAFKA_HOME/ready" "$KAFKA_PIDFILE"
    _kafka_stamp >"$KAFKA_HOME/kafka.stamp"
    stat -c %s "$KAFKA_HOME/server.log" 2>/dev/null >"$KAFKA_HOME/start.offset" || echo 0 >"$KAFKA_HOME/start.offset"
    local java; java="$(_kafka_java)"
    # setsid: the broker outlives this script and its terminal; the child writes its own pid, then becomes the JVM.
    # shellcheck disable=SC2086
    KAFKA_PIDFILE="$KAFKA_PIDFILE" setsid bash -c 'echo $$ >"$KAFKA_PIDFILE"; exec "$@"' kafka \
      "$java" -server $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      -Dkafka.logs.dir="$KAFKA_HOME" -Dlog4j2.configurationFile="$KAFKA_TEMPLATES/log4j2.properties" \
      -cp "$KAFKA_HOME/lib/*" kafka.Kafka "$KAFKA_HOME/server.properties" \
      </dev/null >"$KAFKA_HOME/kafka.out" 2>&1 &
    for _ in $(seq 1 50); do [[ -s "$KAFKA_PIDFILE" ]] && break; sleep 0.1; done
  fi
  await_started kafka "$KAFKA_PIDFILE" 120 "$KAFKA_HOME/server.log" "the broker" _kafka_ready
}

kafka_status() {
  if _kafka_ready && _kafka_outdated; then
    echo "pid $(cat "$KAFKA_PIDFILE") was started from older scripts/services/kafka/ files (up restarts it)"; return 1
  elif _kafka_ready; then
    echo "pid $(cat "$KAFKA_PIDFILE"), 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT), Kafka $(_kafka_version) KRaft"
  elif pid_alive "$KAFKA_PIDFILE"; then
    echo "pid $(cat "$KAFKA_PIDFILE") is running but not ready (starting?)"; return 1
  else
    echo "not running"; return 1
  fi
}

kafka_stop() {
  stop_pidfile kafka "$KAFKA_PIDFILE"
  rm -f "$KAFKA_HOME/ready"
}
