# shellcheck shell=bash
# Sourced by scripts/serve, scripts/chat and scripts/test: make sure ./.venv exists, then install into it.
#
#   yoi_venv                    create .venv with Python 3.11+ (installing python3-venv
#                               with apt-get when the venv module or ensurepip is missing)
#   yoi_install SPEC [ARGS...]  pip install -e SPEC into .venv, skipped while pyproject.toml
#                               is unchanged since the last install of the same SPEC

YOI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
YOI_VENV="$YOI_ROOT/.venv"

_yoi_say() { echo "yoi: $*" >&2; }

_yoi_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The first python3 on PATH that is 3.11 or newer.
_yoi_python() {
  local candidate
  for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  _yoi_say "yoi needs Python 3.11 or newer (python3 on PATH is older or missing)"
  return 1
}

# Create .venv; on failure remove what the attempt left behind (never an older .venv).
_yoi_make_venv() {
  if "$1" -m venv "$YOI_VENV" >/dev/null 2>&1; then return 0; fi
  rm -rf "$YOI_VENV"
  return 1
}

# An existing .venv is kept; it only has to have pip.
_yoi_check_venv() {
  "$YOI_VENV/bin/python" -m pip --version >/dev/null 2>&1 && return 0
  "$YOI_VENV/bin/python" -m ensurepip --upgrade >/dev/null 2>&1 && return 0
  _yoi_say "$YOI_VENV has no pip; remove it and run this script again"
  return 1
}

yoi_venv() {
  if [ -x "$YOI_VENV/bin/python" ]; then
    _yoi_check_venv
    return
  fi
  local python version
  python="$(_yoi_python)" || return 1
  if _yoi_make_venv "$python"; then return 0; fi
  version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  _yoi_say "'$python -m venv' failed; installing python3-venv with apt-get"
  _yoi_as_root apt-get update -qq
  _yoi_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null ||
    true
  if _yoi_make_venv "$python"; then return 0; fi
  _yoi_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv" \
    >/dev/null
  if _yoi_make_venv "$python"; then return 0; fi
  _yoi_say "could not create $YOI_VENV with $python"
  return 1
}

yoi_install() {
  local spec="$1" stamp
  shift
  stamp="$YOI_VENV/.yoi-installed-$(echo "$spec" | tr -c 'A-Za-z0-9\n' '_')"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$YOI_ROOT/pyproject.toml" ]; then
    return 0
  fi
  (cd "$YOI_ROOT" &&
    "$YOI_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" "$@")
  touch "$stamp"
}

# apt-get update, then install PACKAGES (as root, else through sudo). One such job runs at a
# time: apt holds its locks exclusively, and chromium and bubblewrap may be installed at once.
_yoi_apt_install() {
  (
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    _yoi_as_root apt-get update -qq &&
      _yoi_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "$@"
  ) 9>"${TMPDIR:-/tmp}/yoi-apt.lock"
}

# Debian's Chromium, for the web console's browser tests: /usr/bin/chromium, installed with
# apt-get (as root, else through sudo) when missing. YOI_CHROMIUM names another binary.
#
#   yoi_chromium_start   begin the install in the background when it is needed
#   yoi_chromium_wait    wait for it; fails, with apt's output, when there is still no Chromium
_YOI_CHROMIUM_LOG=""
_YOI_CHROMIUM_PID=""

_yoi_chromium_present() {
  [ -x "${YOI_CHROMIUM:-/usr/bin/chromium}" ]
}

yoi_chromium_start() {
  _yoi_chromium_present && return 0
  _YOI_CHROMIUM_LOG="$(mktemp)"
  _yoi_say "installing Debian's chromium for the browser tests (apt-get, in the background)"
  _yoi_apt_install chromium fonts-dejavu-core >"$_YOI_CHROMIUM_LOG" 2>&1 &
  _YOI_CHROMIUM_PID=$!
}

yoi_chromium_wait() {
  if [ -n "$_YOI_CHROMIUM_PID" ]; then
    wait "$_YOI_CHROMIUM_PID" || true
    _YOI_CHROMIUM_PID=""
  fi
  if ! _yoi_chromium_present; then
    [ -n "$_YOI_CHROMIUM_LOG" ] && cat "$_YOI_CHROMIUM_LOG" >&2
    _yoi_say "no Chromium at ${YOI_CHROMIUM:-/usr/bin/chromium}: install Debian's chromium" \
      "(apt-get install chromium) or set YOI_CHROMIUM"
    return 1
  fi
}

# Debian's bubblewrap, the sandbox the bash tool runs commands in: `bwrap` on PATH, installed
# with apt-get (as root, else through sudo) when missing.
#
#   yoi_bwrap_start   begin the install in the background when it is needed
#   yoi_bwrap_wait    wait for it; fails, with apt's output, when there is still no bwrap
_YOI_BWRAP_LOG=""
_YOI_BWRAP_PID=""

_yoi_bwrap_present() {
  command -v bwrap >/dev/null 2>&1
}

yoi_bwrap_start() {
  _yoi_bwrap_present && return 0
  _YOI_BWRAP_LOG="$(mktemp)"
  _yoi_say "installing Debian's bubblewrap for the bash tool's sandbox (apt-get, in the background)"
  _yoi_apt_install bubblewrap >"$_YOI_BWRAP_LOG" 2>&1 &
  _YOI_BWRAP_PID=$!
}

yoi_bwrap_wait() {
  if [ -n "$_YOI_BWRAP_PID" ]; then
    wait "$_YOI_BWRAP_PID" || true
    _YOI_BWRAP_PID=""
  fi
  if ! _yoi_bwrap_present; then
    [ -n "$_YOI_BWRAP_LOG" ] && cat "$_YOI_BWRAP_LOG" >&2
    _yoi_say "no bwrap on PATH: install Debian's bubblewrap (apt-get install bubblewrap)"
    return 1
  fi
}
