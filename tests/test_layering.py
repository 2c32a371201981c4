"""The layers hold: the core imports no feature app, and no two packages import each other.

Read from the source (ast), not from what happens to be loaded, so an import
inside a function or under TYPE_CHECKING counts like any other.

- **core**: portal/crypto, portal/fhir, portal/access.py (with portal/policy.py),
  portal/net.py, portal/throttle.py, portal/models.py, audit/, patients/.
  ``portal/crypto/signing.py`` (Ed25519 for the audit chain, no Django) is its
  own node: audit signs with it, and the rest of portal/crypto records its
  failures through audit.
- **features**: accounts/ records/ messaging/ appointments/ billing/ refills/
  assistant/.
- **shell**: the rest of portal/ (settings, urls, wsgi, middleware, admin,
  views, checks, apps, context processors, management commands), and the
  tools beside the project (bench/, ehr/, manage.py, gunicorn.conf.py).

Arrows point down only (shell → features → core), and the packages (the
nodes above) form no cycle. A new top-level package must be placed in a layer
here before it passes.
"""

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {"tests", "migrations", ".venv", "node_modules", "var", "static", "templates"}

CORE, FEATURE, SHELL = 0, 1, 2
LAYER_NAMES = {CORE: "core", FEATURE: "feature", SHELL: "shell"}
# Modules of portal/ that are core, each its own node; all other portal modules are the shell.
PORTAL_CORE = (
    "portal.crypto.signing",
    "portal.crypto",
    "portal.fhir",
    "portal.access",
    "portal.policy",
    "portal.net",
    "portal.throttle",
    "portal.models",
)
LAYERS = {
    **dict.fromkeys(PORTAL_CORE, CORE),
    "audit": CORE,
    "patients": CORE,
    "accounts": FEATURE,
    "records": FEATURE,
    "invitations": FEATURE,
    "messaging": FEATURE,
    "appointments": FEATURE,
    "billing": FEATURE,
    "refills": FEATURE,
    "assistant": FEATURE,
    "portal": SHELL,
    "bench": SHELL,
    "ehr": SHELL,
    "manage": SHELL,
    "gunicorn": SHELL,  # gunicorn.conf.py, the server's settings (a dotted file name)
}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository root
    line: int
    source: str  # the importing module
    target: str  # the project module (or package) imported

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def node_of(module: str) -> str:
    """The package a module belongs to: a core part of portal, or its top-level package."""
    for part in PORTAL_CORE:
        if module == part or module.startswith(part + "."):
            return part
    return module.split(".")[0]


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if SKIPPED_DIRS & set(relative.parts[:-1]):
            continue
        if len(relative.parts) > 1 and not (root / relative.parts[0] / "__init__.py").exists():
            continue  # scripts/ and other folders of loose files are not importable
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, known: set[str], root: Path = ROOT) -> list[Import]:
    """The project modules ``module`` imports, with their lines."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from portal import throttle` imports the module portal.throttle.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target.split(".")[0] in {name.split(".")[0] for name in known}:
                relative = str(path.relative_to(root))
                found.append(Import(relative, node.lineno, module, target))
    return found


def project_imports(root: Path = ROOT) -> list[Import]:
    modules = project_modules(root)
    known = set(modules)
    return [
        imp for module, path in modules.items() for imp in imports_of(module, path, known, root)
    ]


def layer_violations(imports: list[Import]) -> list[str]:
    """Imports that point up (core → feature or shell, feature → shell), and unplaced packages."""
    problems = []
    for imp in imports:
        source, target = node_of(imp.source), node_of(imp.target)
        for node in (source, target):
            if node not in LAYERS:
                problems.append(f"{imp}: package {node!r} has no layer in tests/test_layering.py")
        if source in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[source]:
            problems.append(
                f"{imp} ({LAYER_NAMES[LAYERS[source]]} {source} → "
                f"{LAYER_NAMES[LAYERS[target]]} {target})"
            )
    return sorted(set(problems))


def package_cycles(imports: list[Import]) -> list[list[Import]]:
    """One cycle per group of packages that import each other, each edge an example import."""
    edges: dict[str, dict[str, Import]] = defaultdict(dict)
    for imp in sorted(imports, key=lambda i: (i.path, i.line)):
        source, target = node_of(imp.source), node_of(imp.target)
        if source != target:
            edges[source].setdefault(target, imp)
    cycles = []
    for group in _strongly_connected(edges):
        if len(group) > 1:
            cycles.append(_cycle_within(min(group), group, edges))
    return cycles


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm (the graph has a few dozen nodes: recursion is fine)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(set(edges) | {t for targets in edges.values() for t in targets}):
        if node not in index:
            visit(node)
    return groups


def _cycle_within(start: str, group: set[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """A path from ``start`` back to itself through ``group`` (breadth first: a short one)."""
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt, imp in sorted(edges[node].items()):
            if nxt == start:
                return [*paths[node], imp]
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], imp]
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start} in {group}")


def describe(cycle: list[Import]) -> str:
    nodes = " → ".join([node_of(cycle[0].source), *(node_of(imp.target) for imp in cycle)])
    return nodes + "\n" + "\n".join(f"    {imp}" for imp in cycle)


# --- The rules, on the project ------------------------------------------------------


def test_it_finds_the_modules_it_judges():
    modules = project_modules()
    assert {"portal.access", "portal.crypto.fields", "patients.models", "records.sync"} <= set(
        modules
    )
    assert not any(".migrations." in name or name.startswith("tests") for name in modules)


def test_it_finds_no_import_pointing_up_a_layer():
    problems = layer_violations(project_imports())
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_it_finds_no_import_cycle_between_packages():
    cycles = package_cycles(project_imports())
    assert not cycles, "packages that import each other:\n" + "\n".join(map(describe, cycles))


# --- The checks themselves fail when they should ------------------------------------


def fake(source: str, target: str, line: int = 1) -> Import:
    return Import(source.replace(".", "/") + ".py", line, source, target)


def test_it_names_a_core_import_of_a_feature_by_file_and_line():
    problems = layer_violations([fake("portal.access", "records.models", line=19)])
    assert problems == [
        "portal/access.py:19 imports records.models (core portal.access → feature records)"
    ]


def test_it_refuses_core_and_features_importing_the_shell():
    problems = layer_violations(
        [fake("audit.views", "portal.middleware"), fake("records.views", "portal.urls")]
    )
    assert len(problems) == 2
    assert "(core audit → shell portal)" in problems[0]
    assert "(feature records → shell portal)" in problems[1]


def test_it_lets_arrows_point_down():
    imports = [
        fake("portal.urls", "records.urls"),
        fake("records.models", "patients.models"),
        fake("patients.models", "portal.crypto.fields"),
        fake("portal.crypto.services", "audit.services"),
        fake("audit.services", "portal.crypto.signing"),
    ]
    assert layer_violations(imports) == []
    assert package_cycles(imports) == []


def test_it_wants_a_layer_for_a_new_package():
    problems = layer_violations([fake("pharmacy.views", "patients.models")])
    assert problems == [
        "pharmacy/views.py:1 imports patients.models: package 'pharmacy' has no layer "
        "in tests/test_layering.py"
    ]


def test_it_finds_a_cycle_and_names_each_import():
    imports = [
        fake("accounts.services", "records.sync", line=44),
        fake("records.services", "accounts.models", line=7),
        fake("records.views", "patients.models", line=3),
    ]
    (cycle,) = package_cycles(imports)
    assert describe(cycle) == (
        "accounts → records → accounts\n"
        "    accounts/services.py:44 imports records.sync\n"
        "    records/services.py:7 imports accounts.models"
    )


def test_it_finds_a_longer_cycle_through_core_parts_of_portal():
    imports = [
        fake("accounts.models", "portal.access"),
        fake("portal.access", "records.models"),
        fake("records.models", "portal.crypto.fields"),
        fake("portal.crypto.services", "accounts.models"),
        fake("portal.fhir.client", "portal.fhir.errors"),  # inside one node: no edge
    ]
    (cycle,) = package_cycles(imports)
    assert [node_of(imp.target) for imp in cycle] == [
        "portal.access",
        "records",
        "portal.crypto",
        "accounts",
    ]


def test_it_reads_imports_of_every_form(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "sub.py").write_text("")
    (tmp_path / "app" / "one.py").write_text(
        "import os\n"
        "from app import sub\n"
        "from . import sub as again\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import app.sub\n"
        "def f():\n"
        "    from app.sub import thing\n"
    )
    modules = project_modules(tmp_path)
    found = imports_of("app.one", modules["app.one"], set(modules), tmp_path)
    assert [(imp.line, imp.target) for imp in found] == [
        (2, "app.sub"),
        (3, "app.sub"),
        (6, "app.sub"),
        (8, "app.sub"),
    ]
