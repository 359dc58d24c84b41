# shellcheck shell=bash
# Shared bootstrap for scripts/demo and scripts/test; source it, don't run it.
#
# Leaves the shell in the repository root with .venv/ created and the project
# installed into it (editable, with the dev extra). The install reruns only when
# .venv is new or pyproject.toml is newer than the stamp .venv/.installed.
# Set PYTHON to choose the interpreter that creates the virtualenv (default python3).

SV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$SV_ROOT"

SV_VENV=".venv"
SV_STAMP="$SV_VENV/.installed"

sv_bootstrap_venv() {
    local python="${PYTHON:-python3}"

    if [ ! -x "$SV_VENV/bin/python" ]; then
        if ! command -v "$python" >/dev/null 2>&1; then
            echo "error: '$python' not found; install Python 3.10+ or set PYTHON=/path/to/python3" >&2
            return 1
        fi
        local recent
        recent="$("$python" -c 'import sys; print(int(sys.version_info >= (3, 10)))' 2>/dev/null || true)"
        if [ "$recent" != 1 ]; then
            if [ -z "$recent" ]; then
                echo "error: '$python' does not run." >&2
            else
                echo "error: secretvault needs Python 3.10 or newer; '$python' is $("$python" -V 2>&1)." >&2
            fi
            echo "       Set PYTHON=/path/to/python3.x to pick another interpreter." >&2
            return 1
        fi
        echo "==> Creating $SV_VENV with $("$python" -V 2>&1)"
        if ! "$python" -m venv "$SV_VENV"; then
            echo "error: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
            return 1
        fi
        "$SV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    fi

    if [ ! -f "$SV_STAMP" ] || [ pyproject.toml -nt "$SV_STAMP" ]; then
        echo "==> Installing secretvault and its dev dependencies into $SV_VENV"
        "$SV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
        touch "$SV_STAMP"
    fi
}

sv_bootstrap_venv
