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
