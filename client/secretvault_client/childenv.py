"""What ``run`` hands its child: the rule for building a child's environment from secrets.

One rule for both runners (the client's ``secretvault run`` and ``manage.py
secretvault run``), kept here so that they cannot drift apart:

1. The child starts from a *base* environment: the runner's own. For
   ``manage.py secretvault run`` that is the environment the process was started
   with (before the project's settings loaded a ``.env`` into ``os.environ``),
   minus every ``SECRETVAULT_*`` variable (the vault's own configuration).
2. Each secret becomes the variable ``prefix + KEY``, unless that variable is
   already in the base: variables already set win (SPEC §5).
3. A secret whose variable name changes how a program *starts* — a dynamic
   loader, a shell, an interpreter (``LD_PRELOAD``, ``BASH_ENV``,
   ``PYTHONSTARTUP``, ``NODE_OPTIONS``, ``PATH`` …, see ``LAUNCH_NAMES`` and
   ``LAUNCH_PREFIXES``) — or that is ``SECRETVAULT_*`` (it would redirect a nested
   ``secretvault`` call, service token included) is not injected unless the
   caller allows that exact name (``--allow-name NAME``). Anyone with write
   access to a workspace can create such a secret; without this rule, writing
   ``BASH_ENV=/tmp/x.sh`` would make every ``run -- bash …`` execute a file of
   the writer's choice (issue #17.2). ``--prefix APP_`` keeps every secret out of
   these namespaces and is the safe default for new deployments.

Nothing here sees or logs a value: the report names variables only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: The vault's own namespace: its configuration (master keys, URL, token, workspace).
VAULT_PREFIX = "SECRETVAULT_"

#: Exact names that change how a loader, shell or interpreter starts or finds code.
LAUNCH_NAMES = frozenset(
    {
        # where programs and shared objects are found; which iconv modules glibc loads
        "PATH",
        "GCONV_PATH",
        "HOME",  # startup files: ~/.bashrc, Python's user site-packages (.pth files run code)
        # shells: files sourced at startup, code run before each prompt or trace line
        "BASH_ENV",
        "ENV",
        "ZDOTDIR",
        "PROMPT_COMMAND",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
        "IFS",
        "CDPATH",
        "GLOBIGNORE",
        # Node.js, Perl, Ruby, Java, PHP, Lua, Erlang, .NET, R
        "NODE_OPTIONS",
        "NODE_PATH",
        "PERL5OPT",
        "PERL5LIB",
        "PERLLIB",
        "PERL5DB",
        "RUBYOPT",
        "RUBYLIB",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "PHPRC",
        "PHP_INI_SCAN_DIR",
        "LUA_INIT",
        "LUA_PATH",
        "LUA_CPATH",
        "ERL_FLAGS",
        "ERL_AFLAGS",
        "ERL_ZFLAGS",
        "DOTNET_STARTUP_HOOKS",
        "R_PROFILE",
        "R_PROFILE_USER",
        "R_ENVIRON",
        "R_ENVIRON_USER",
    }
)

#: Name prefixes of whole families of such variables.
LAUNCH_PREFIXES = (
    "LD_",  # glibc's dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT ...
    "DYLD_",  # macOS's: DYLD_INSERT_LIBRARIES ...
    "PYTHON",  # PYTHONSTARTUP, PYTHONPATH, PYTHONHOME, PYTHONWARNINGS (imports modules) ...
    "BASH_FUNC_",  # exported bash functions replace commands in every bash child
    "LUA_INIT_",
    "CORECLR_",  # .NET profilers
    "COR_PROFILER",
)


def is_refused(name: str) -> bool:
    """True when a secret named ``name`` must not be injected into a child without an opt-in."""
    return name.startswith(VAULT_PREFIX) or name in LAUNCH_NAMES or name.startswith(LAUNCH_PREFIXES)


@dataclass(frozen=True)
class ChildEnvironment:
    """A child's environment and how it was made (names only, never values)."""

    environ: dict[str, str] = field(repr=False)
    injected: tuple[str, ...]  # variables that came from secrets
    kept: tuple[str, ...]  # secrets not injected: the variable was already set
    refused: tuple[str, ...]  # secrets not injected: see ``is_refused``; allow each by name


def child_environment(
    secrets: Mapping[str, str],
    base: Mapping[str, str],
    *,
    prefix: str = "",
    allow: Iterable[str] = (),
) -> ChildEnvironment:
    """``base`` plus each secret as ``prefix + KEY``, by the rule in this module's docstring.

    ``allow`` names variables (after the prefix) that may be injected although
    ``is_refused`` says otherwise. A variable already in ``base`` always wins.
    """
    allowed = frozenset(allow)
    environ = dict(base)
    injected, kept, refused = [], [], []
    for key, value in secrets.items():
        name = prefix + key
        if name in environ:
            kept.append(name)
        elif is_refused(name) and name not in allowed:
            refused.append(name)
        else:
            environ[name] = str(value)
            injected.append(name)
    return ChildEnvironment(environ, tuple(injected), tuple(sorted(kept)), tuple(sorted(refused)))


def refusal_message(refused: Iterable[str]) -> str:
    """The one-line stderr warning that names refused variables (never their values)."""
    names = ", ".join(refused)
    return (
        f"not injected, as they change how programs start or redirect secretvault itself: {names} "
        "(allow each with --allow-name NAME, or use --prefix)"
    )


def start_environment() -> dict[str, str] | None:
    """The environment this process was started with, or ``None`` where it cannot be known.

    Read from ``/proc/self/environ`` (Linux and other systems with procfs), which
    keeps the environment the process was executed with, whatever the process
    later put into ``os.environ`` (django-environ's ``read_env`` adds a ``.env``
    file's variables there).
    """
    try:
        with open("/proc/self/environ", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    environ: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            environ[os.fsdecode(name)] = os.fsdecode(value)
    return environ


def without_vault_configuration(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` minus every ``SECRETVAULT_*`` variable."""
    return {name: value for name, value in environ.items() if not name.startswith(VAULT_PREFIX)}
