"""The core imports only downward, and no module of the package sits in an import cycle.

Layers (docs/architecture.md): the doors (admin, API, CLI) call ``services``,
which calls ``audit``, ``access``, the models and managers, which call
``crypto``, ``validators`` and ``conf``. A lower module never imports a higher
one, not even inside a function to clear a cache (STYLE rule 15): each cache
subscribes to ``setting_changed`` itself.

Two checks, standard library only: the imports read from the source with
``ast`` (function-level imports included, ``if TYPE_CHECKING:`` blocks
excluded, since they never run), and each core module imported alone in a
fresh interpreter, which must not pull in a module above it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "secretvault"
ROOT = PACKAGE.parent

#: Core modules by layer, lowest first. A module may import only from its own
#: layer or those before it (and, within a layer, without a cycle).
LAYERS: list[tuple[str, ...]] = [
    ("errors", "conf", "durations", "dotenv", "signals", "debug", "network", "redaction"),
    ("crypto", "validators"),
    ("managers",),
    ("models",),
    ("access", "audit"),
    (
        "reads",
        "workspaces",
    ),  # the read path of values, workspace and environment writes; re-exported by services
    ("services",),
    ("members",),  # membership writes, built on the services' helpers
    ("bulk",),  # batched jobs built on the services
]
RANK = {f"secretvault.{name}": rank for rank, names in enumerate(LAYERS) for name in names}

#: Modules that need the app registry (``django.setup()``) before they import.
NEEDS_APPS = {
    "secretvault.models",
    "secretvault.access",
    "secretvault.audit",
    "secretvault.reads",
    "secretvault.workspaces",
    "secretvault.services",
    "secretvault.members",
    "secretvault.bulk",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports when it runs (anywhere in it)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from secretvault import crypto`` imports the module secretvault.crypto.
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return {target for target in found if target in modules and target != name}


def import_graph() -> dict[str, set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    modules = {module_name(p) for p in paths}
    return {module_name(p): runtime_imports(p, modules) for p in paths}


def test_the_layer_table_names_real_modules() -> None:
    graph = import_graph()
    missing = sorted(name for name in RANK if name not in graph and name != "secretvault.access")
    assert not missing, f"LAYERS names modules that do not exist: {missing}"


def test_core_modules_import_only_downward() -> None:
    upward = [
        f"{source} (layer {RANK[source]}) imports {target} (layer {RANK[target]})"
        for source, targets in sorted(import_graph().items())
        if source in RANK
        for target in sorted(targets)
        if target in RANK and RANK[target] > RANK[source]
    ]
    assert not upward, "upward imports in the core:\n" + "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = walk(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_core_modules() -> None:
    graph = import_graph()
    core = {name: {t for t in targets if t in RANK} for name, targets in graph.items() if name in RANK}
    cycle = find_cycle(core)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


PROBE = """
import json, sys
name, setup = sys.argv[1], sys.argv[2] == "1"
if setup:
    import django
    django.setup()
before = {m for m in sys.modules if m.startswith("secretvault.")}
__import__(name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("secretvault.") and m not in before)))
"""


@pytest.mark.parametrize("name", sorted(RANK, key=lambda name: (RANK[name], name)))
def test_each_core_module_imports_alone_in_a_fresh_interpreter(name: str) -> None:
    if not (PACKAGE / f"{name.rpartition('.')[2]}.py").exists():
        pytest.skip(f"{name} does not exist yet")
    setup = name in NEEDS_APPS
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, name, "1" if setup else "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    higher = [module for module in loaded if RANK.get(module, -1) > RANK[name]]
    assert not higher, f"importing {name} loaded modules above it: {higher}"


# ----------------------------------------------------------------------------------
# Each cache owns its reset (STYLE rule 15)


def test_conf_reload_touches_only_its_own_cache() -> None:
    source = (PACKAGE / "conf.py").read_text(encoding="utf-8")
    assert runtime_imports(PACKAGE / "conf.py", set(import_graph())) == set()
    assert "reset_caches" not in source


@pytest.mark.django_db
def test_a_settings_change_resets_every_cache_through_its_owner(workspace) -> None:
    from django.test import override_settings

    from secretvault import audit, crypto, services
    from tests.settings import TEST_MASTER_KEY, TEST_MASTER_KEY_2

    services.create_secret(workspace, key="CACHED", value="v")  # unwraps a key, appends events
    assert crypto.get_keyring().active.key_id == "test-1"
    assert crypto._unwrapped
    audit._chain_heads[workspace.pk] = (1, "x")  # as an on_commit callback leaves it

    with override_settings(SECRETVAULT={"MASTER_KEYS": [TEST_MASTER_KEY_2, TEST_MASTER_KEY]}):
        assert crypto.get_keyring().active.key_id == "test-2"
        assert not crypto._unwrapped
        assert audit._chain_heads == {}
    assert crypto.get_keyring().active.key_id == "test-1"


def test_an_unrelated_setting_change_keeps_the_caches() -> None:
    from django.test import override_settings

    from secretvault import crypto

    keyring = crypto.get_keyring()
    with override_settings(USE_TZ=True):
        assert crypto.get_keyring() is keyring
