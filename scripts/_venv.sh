# Sourced by the other scripts: make sure ./.venv exists with this project installed, then activate it.
# Needs only Python 3.11 on the PATH. Re-installs when pyproject.toml changed since the last install.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
STAMP="$VENV/.compscore-installed"

find_python() {
    if command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    elif command -v python3 >/dev/null 2>&1 \
        && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo python3
    else
        echo "compscore needs Python 3.11 (python3.11 or a python3 that is 3.11) on the PATH" >&2
        return 1
    fi
}

if [ ! -x "$VENV/bin/python" ]; then
    PYTHON="$(find_python)"
    echo "Creating $VENV with $PYTHON" >&2
    "$PYTHON" -m venv "$VENV"
fi

WANT="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "Installing compscore and its dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$REPO_ROOT[dev]"
    echo "$WANT" >"$STAMP"
fi

# shellcheck disable=SC1091
source "$VENV/bin/activate"
cd "$REPO_ROOT"
