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
