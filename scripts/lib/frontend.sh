# The web UI's front end: built into engine/ui/static (committed), rebuilt here only when the
# sources changed since the build (frontend/stamp.py compares a hash of them). Needs Node only
# then; Debian's nodejs and npm are installed where there is no node. Sourced by scripts/run and
# scripts/test after scripts/lib/setup.sh.
ensure_frontend() {
  if python3 frontend/stamp.py check 2>/dev/null; then
    return 0
  fi
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    ensure_apt nodejs npm
  fi
  echo "midimon: building the web UI (frontend/ -> engine/ui/static)" >&2
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent) >&2
}
