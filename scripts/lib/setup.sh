# Shared set-up for scripts/run, scripts/test and scripts/bench. Sourced, not run.

# ensure_apt PKG...: install the Debian packages that are missing (apt-get update once).
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
      echo "midimon: please install: ${missing[*]} (apt-get install needs root)" >&2; return 1
    fi
  fi
  echo "midimon: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv [EXTRA]: create .venv and install midimon (editable) with the given extra.
ensure_venv() {
  local extra=${1:-}
  local py=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
  fi
  local spec="."
  [ -n "$extra" ] && spec=".[$extra]"
  local stamp=".venv/.midimon-installed-$extra"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
    echo "midimon: installing midimon and its Python dependencies into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # pip and setuptools are chatty; keep their output for when something fails
    if ! .venv/bin/python -m pip install -q -e "$spec" >.venv/pip-install.log 2>&1; then
      cat .venv/pip-install.log >&2
      echo "midimon: pip install failed (log above, also in .venv/pip-install.log)" >&2
      return 1
    fi
    touch "$stamp"
  fi
  ensure_typecheck_tree
}

# ensure_typecheck_tree: .venv/typecheck/midimon/<folder> -> <folder>, the mapping setup.py
# installs. pip's editable install maps the folders with an import hook that mypy cannot follow;
# directory symlinks can be followed, and a new file shows up in them without a reinstall.
ensure_typecheck_tree() {
  local tree=.venv/typecheck/midimon folder
  mkdir -p "$tree"
  for folder in config engine sandbox plugins; do
    ln -sfn "../../../$folder" "$tree/$folder"
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

free_display() {
  local n=99
  while [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
  echo "$n"
}
