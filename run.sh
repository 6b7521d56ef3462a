#!/usr/bin/env bash
# Deep Playground, on a fresh machine with Python 3.11+:
#   ./run.sh app    create .venv, install (and Debian's Fashion-MNIST when root), launch the app (http://127.0.0.1:8501)
#   ./run.sh test   create .venv, install dev tools (and chromium when root), run the whole suite
# Extra arguments go to streamlit / pytest.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

ensure_venv() {
  local reqs=$1 stamp
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Deep Playground needs Python 3.11 or newer; set PYTHON=python3.11")'
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the requirement files changed since the last install.
  stamp=$(cat requirements.txt requirements-nodeps.txt "$reqs" | sha256sum | cut -c1-16)
  if [ "$(cat "$VENV/.installed-$reqs" 2>/dev/null)" != "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
    echo "$stamp" > "$VENV/.installed-$reqs"
  fi
}

ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium for the browser tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "could not install chromium: the browser tests will say they were skipped" >&2
  else
    echo "chromium is missing and this is not root: the browser tests will be skipped (apt-get install chromium)" >&2
  fi
}

ensure_fashion_mnist() {
  # Fashion-MNIST is one of the app's datasets; Debian packages it (engine/data/images.py reads it there).
  if [ -d /usr/share/datasets/fashion-mnist ] || [ -n "${DEEP_PLAYGROUND_FASHION_DIR:-}" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's dataset-fashion-mnist (the Fashion-MNIST dataset)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
      || echo "could not install dataset-fashion-mnist: Fashion-MNIST stays hidden" >&2
  else
    echo "Fashion-MNIST is not installed (as root: apt-get install dataset-fashion-mnist): it stays hidden" >&2
  fi
}

case "${1:-app}" in
  app)
    ensure_venv requirements.txt
    ensure_fashion_mnist
    exec "$VENV/bin/python" -m streamlit run app.py "${@:2}"
    ;;
  test)
    ensure_venv requirements-dev.txt
    ensure_chromium
    exec "$VENV/bin/python" -m pytest "${@:2}"
    ;;
  *)
    echo "usage: ./run.sh app | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
