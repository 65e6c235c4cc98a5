# python: a project-local virtualenv with pyiceberg + pyarrow, the independent Iceberg reader used by the tests.
# Sourced by scripts/services.sh (after lib.sh). Nothing runs in the background: "start" and "stop" are no-ops.
#
#   venv          $SERVICES_DIR/python/venv      (tests use venv/bin/python; see test/support/services.ts)
#   requirements  scripts/services/python/requirements.txt   (every package pinned)
#   stamp         $SERVICES_DIR/python/requirements.sha256   (hash of the requirements the venv was built from)
#   log           $SERVICES_DIR/python/install.log
#
# The venv is rebuilt from scratch only when the requirements file changes (or a previous install did not finish).
# Base interpreter: $TRIBUTARY_BASE_PYTHON, else python3 from PATH (needs >= 3.10 for pyarrow 26).

PYTHON_DIR="$SERVICES_DIR/python"
PYTHON_VENV="$PYTHON_DIR/venv"
PYTHON_REQUIREMENTS="$ROOT/scripts/services/python/requirements.txt"
PYTHON_STAMP="$PYTHON_DIR/requirements.sha256"

_python_req_hash() { sha256sum "$PYTHON_REQUIREMENTS" | cut -d' ' -f1; }

# 0 when the venv was built from the current requirements file (cheap: no interpreter start).
_python_venv_current() {
  [[ -x "$PYTHON_VENV/bin/python" && -f "$PYTHON_STAMP" ]] && [[ "$(cat "$PYTHON_STAMP")" == "$(_python_req_hash)" ]]
}

_python_base() {
  local py="${TRIBUTARY_BASE_PYTHON:-python3}"
  command -v "$py" >/dev/null 2>&1 || { apt_install python3 python3-venv; py=python3; }
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "python: $py is $("$py" --version 2>&1); pyarrow 26 needs Python >= 3.10 (set TRIBUTARY_BASE_PYTHON)"
  # Debian's python3 ships venv/ensurepip separately.
  if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  printf '%s' "$py"
}

python_install() {
  _python_venv_current && return 0
  mkdir -p "$PYTHON_DIR"
  local py; py="$(_python_base)"
  log "python: building venv at $PYTHON_VENV from $(basename "$PYTHON_REQUIREMENTS") ($("$py" --version 2>&1))"
  rm -rf "$PYTHON_VENV" "$PYTHON_STAMP"
  : >"$PYTHON_DIR/install.log"
  {
    "$py" -m venv "$PYTHON_VENV" &&
      "$PYTHON_VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$PYTHON_REQUIREMENTS" &&
      "$PYTHON_VENV/bin/python" -m pip check
  } >>"$PYTHON_DIR/install.log" 2>&1 || { tail -n 20 "$PYTHON_DIR/install.log" >&2; die "python: venv install failed; see $PYTHON_DIR/install.log"; }
  # The stamp is written last: an interrupted install leaves no stamp and is redone from scratch next time.
  _python_req_hash >"$PYTHON_STAMP"
}

python_start() { :; }
python_stop() { :; }

python_status() {
  if [[ ! -x "$PYTHON_VENV/bin/python" ]]; then
    echo "no venv at $PYTHON_VENV"; return 1
  fi
  if ! _python_venv_current; then
    echo "venv is stale: $PYTHON_REQUIREMENTS changed since it was built"; return 1
  fi
  "$PYTHON_VENV/bin/python" -c 'import sys, pyiceberg, pyarrow; print(f"pyiceberg {pyiceberg.__version__}, pyarrow {pyarrow.__version__}, python {sys.version.split()[0]}")' 2>&1
}
