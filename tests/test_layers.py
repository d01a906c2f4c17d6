"""The floors, read from the code's own imports (docs/architecture.md): each package imports only the floors below
it, at module level or inside a function, so the house reads from the bottom up and no import cycle can form.

    common  ←  regions  ←  products  ←  enterprises  ←  inspections  ←  jiaxing_qs (settings, urls, pipeline, demo)
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("common", "regions", "products", "enterprises", "inspections", "jiaxing_qs")
OURS = {*FLOORS, "bench", "tests"}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """Our top-level packages that ``path`` imports (absolute imports; relative ones stay inside the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(name.split(".")[0], node.lineno) for name in names if name.split(".")[0] in OURS}
    return found


def upward_imports(package: str, root: Path = ROOT) -> list[str]:
    allowed = set(FLOORS[: FLOORS.index(package) + 1])
    return [
        f"{path.relative_to(root)}:{line} imports {target}"
        for path in sorted((root / package).rglob("*.py"))
        for target, line in sorted(imported_packages(path))
        if target not in allowed
    ]


@pytest.mark.parametrize("package", FLOORS)
def test_each_floor_imports_only_the_floors_below_it(package):
    assert upward_imports(package) == []


def test_the_check_sees_an_upward_import_even_inside_a_function(tmp_path):
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "probe.py").write_text("def f():\n    from inspections.models import InspectionTask\n", encoding="utf-8")
    assert upward_imports("regions", root=tmp_path) == ["regions/probe.py:2 imports inspections"]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each of our modules → our modules it imports (anywhere in it), relative imports resolved."""
    paths = [path for package in FLOORS for path in (root / package).rglob("*.py") if "migrations" not in path.parts]
    modules = {module_name(path, root): path for path in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *([base] if base else [])])
                candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            targets |= {candidate for candidate in candidates if candidate in modules and candidate != name}
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_modules_import_each_other_even_through_an_import_inside_a_function():
    assert cycles(import_graph()) == []


# Inside inspections the domains stand in a row too: the shared base (models, the sampling statistics, the
# notification channels and DingTalk's API), then one package per step of the loop, each importing only the steps before it; the
# app's wiring (admin, API, URLs, Celery tasks, commands) sits on top and may import any of them.
INSPECTIONS_BASE = ("models", "sampling", "notifications", "dingtalk")
INSPECTIONS_DOMAINS = ("spotchecks", "scoring", "planning", "rectification", "fieldwork", "evaluation")


def domain_of(module: str) -> str | None:
    """The inspections domain a module belongs to: 'base', one of INSPECTIONS_DOMAINS, or None for the wiring."""
    parts = module.split(".")
    if parts[0] != "inspections" or len(parts) < 2:
        return None
    if parts[1] in INSPECTIONS_BASE:
        return "base"
    return parts[1] if parts[1] in INSPECTIONS_DOMAINS else None


def upward_domain_imports(graph: dict[str, set[str]]) -> list[str]:
    rank = {"base": 0, **{domain: i + 1 for i, domain in enumerate(INSPECTIONS_DOMAINS)}}
    found = []
    for module, targets in sorted(graph.items()):
        here = domain_of(module)
        if here is None:
            continue
        for target in sorted(targets - {"inspections"}):  # `from . import x` names the (empty) package too
            there = domain_of(target)
            if target.startswith("inspections") and (there is None or rank[there] > rank[here]):
                found.append(f"{module} imports {target}")
    return found


def test_each_inspections_domain_imports_only_the_base_and_the_steps_before_it():
    assert upward_domain_imports(import_graph()) == []


def test_the_domain_check_sees_a_step_importing_a_later_one():
    graph = {"inspections.planning.services": {"inspections.fieldwork.services", "inspections.models"}}
    assert upward_domain_imports(graph) == ["inspections.planning.services imports inspections.fieldwork.services"]
    assert upward_domain_imports({"inspections.models": {"inspections.planning.draw"}}) == [
        "inspections.models imports inspections.planning.draw"
    ]
