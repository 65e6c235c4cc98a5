# s3: Versity S3 Gateway (versitygw) with its POSIX backend on 127.0.0.1:$S3_PORT (19000).
# Sourced by scripts/services.sh (after lib.sh). Why this server: docs/decisions/0002-s3-compatible-server.md.
#
#   binary   $SERVICES_DIR/s3/bin/versitygw, built once with `go install` from the Go module proxy (pinned below)
#   data     $SERVICES_DIR/s3/data: one directory per bucket, one file per object, metadata in xattrs
#   pidfile  $SERVICES_DIR/s3/s3.pid
#   log      $SERVICES_DIR/s3/s3.log (build output: $SERVICES_DIR/s3/install.log)
#
# Credentials (test only): access key "tributary", secret "tributary-secret", region us-east-1; path-style works.
# Needs a Go toolchain >= 1.25 on PATH (or in /usr/local/go/bin) for the one-time build.

S3_VERSITYGW_MODULE="github.com/versity/versitygw"
S3_VERSITYGW_VERSION="v1.8.0"
S3_ACCESS_KEY="tributary"
S3_SECRET_KEY="tributary-secret"
S3_REGION="us-east-1"
# A path no bucket can shadow (bucket names cannot contain '_').
S3_HEALTH_PATH="/_health"

S3_DIR="$SERVICES_DIR/s3"
S3_BIN="$S3_DIR/bin/versitygw"
S3_PIDFILE="$S3_DIR/s3.pid"
S3_LOG="$S3_DIR/s3.log"

_s3_installed_version() { cat "$S3_DIR/bin/versitygw.version" 2>/dev/null || true; }

# 0 when GET $S3_HEALTH_PATH answers 200 (plain bash; no curl needed).
_s3_healthy() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
    IFS= read -r line <&3 && [[ "$line" == "HTTP/1."?" 200"* ]]
  ' _ "$S3_PORT" "$S3_HEALTH_PATH" 2>/dev/null
}

_s3_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else return 1
  fi
}

s3_install() {
  [[ -x "$S3_BIN" && "$(_s3_installed_version)" == "$S3_VERSITYGW_VERSION" ]] && return 0
  local go; go="$(_s3_go)" || die "s3: building versitygw needs a Go toolchain (>= 1.25) on PATH"
  log "s3: building versitygw $S3_VERSITYGW_VERSION with $("$go" version | cut -d' ' -f3) (one time, ~2-3 min)"
  local build="$S3_DIR/build"
  rm -rf "$build" && mkdir -p "$build/bin" "$S3_DIR/bin"
  # Module and build caches live under $SERVICES_DIR (removed after the build) so the build is the same on a
  # fresh machine and leaves nothing in ~/go. -modcacherw keeps the module cache deletable.
  (
    export GOBIN="$build/bin" GOMODCACHE="$build/mod" GOCACHE="$build/cache" GOPATH="$build/gopath"
    export GOFLAGS="-modcacherw -buildvcs=false"
    "$go" install -trimpath \
      -ldflags "-s -w -X main.Version=$S3_VERSITYGW_VERSION -X main.Build=go-install" \
      "$S3_VERSITYGW_MODULE/cmd/versitygw@$S3_VERSITYGW_VERSION"
  ) >"$S3_DIR/install.log" 2>&1 || { tail -n 20 "$S3_DIR/install.log" >&2; die "s3: versitygw build failed; see $S3_DIR/install.log"; }
  mv -f "$build/bin/versitygw" "$S3_BIN"
  echo "$S3_VERSITYGW_VERSION" >"$S3_DIR/bin/versitygw.version"
  rm -rf "$build"
}

s3_start() {
  # A server still running from an older pinned version is replaced.
  pid_alive "$S3_PIDFILE" && s3_stop
  if port_open "$S3_PORT"; then
    die "s3: 127.0.0.1:$S3_PORT is taken by another process; free it or set TRIBUTARY_S3_PORT"
  fi
  mkdir -p "$S3_DIR/data"
  # Credentials go through the environment, not argv. setsid: the server leaves this shell's process group and
  # outlives it; the inner shell records its own pid and then becomes the server (exec), so the pidfile is exact.
  ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$S3_PIDFILE" \
    "$S3_BIN" \
    --port "127.0.0.1:$S3_PORT" \
    --region "$S3_REGION" \
    --health "$S3_HEALTH_PATH" \
    --quiet \
    posix "$S3_DIR/data" \
    >>"$S3_LOG" 2>&1 </dev/null &
  wait_for s3 30 _s3_healthy || { tail -n 20 "$S3_LOG" >&2 || true; return 1; }
}

s3_status() {
  if ! pid_alive "$S3_PIDFILE"; then
    echo "not running (no live pid in $S3_PIDFILE)"; return 1
  fi
  if ! _s3_healthy; then
    echo "pid $(cat "$S3_PIDFILE") does not answer GET $S3_HEALTH_PATH on 127.0.0.1:$S3_PORT"; return 1
  fi
  local v; v="$(_s3_installed_version)"
  if [[ "$v" != "$S3_VERSITYGW_VERSION" ]]; then
    echo "running versitygw ${v:-?}, pinned $S3_VERSITYGW_VERSION"; return 1
  fi
  echo "versitygw $v on 127.0.0.1:$S3_PORT pid $(cat "$S3_PIDFILE") data $S3_DIR/data"
}

s3_stop() {
  stop_pidfile s3 "$S3_PIDFILE"
}
