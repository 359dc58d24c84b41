# shellcheck shell=bash
# Shared bootstrap for scripts/demo and scripts/test; source it, don't run it.
#
# Leaves the shell in the repository root with .venv/ created and both distributions
# installed into it, editable: secretvault-client (./client) first, then secretvault
# with the dev extra. The install reruns only when .venv is new or a pyproject.toml is
# newer than the stamp .venv/.installed.
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

    if [ ! -f "$SV_STAMP" ] || [ pyproject.toml -nt "$SV_STAMP" ] || [ client/pyproject.toml -nt "$SV_STAMP" ]; then
        echo "==> Installing secretvault-client, secretvault and its dev dependencies into $SV_VENV"
        # The client first, from this checkout: secretvault depends on secretvault-client,
        # which pip must never look for on an index (it would take whatever is published there).
        "$SV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ./client
        "$SV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
        if [ ! -x "$SV_VENV/bin/secretvault" ]; then
            # A .venv made before the split: replacing the old secretvault removed the
            # console script it used to own, which secretvault-client now provides.
            "$SV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
                --no-deps --force-reinstall -e ./client
        fi
        touch "$SV_STAMP"
    fi
}

sv_bootstrap_venv
