"""The layering the project promises: shared/ knows no service and no shell, services never
import each other or the shell."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("detector", "incidents", "notifier", "capa", "console")


def imports_of(package: str) -> dict[str, set[str]]:
    """module file → top-level dotted names it imports (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{module} imports {name}" for module, names in imports_of(package).items()
                  for name in names if name.startswith(forbidden))


def test_shared_knows_no_service_and_no_shell():
    assert offenders("shared", ("services", "closedloop")) == []


def test_services_import_neither_each_other_nor_the_shell():
    for service in SERVICES:
        others = tuple(f"services.{s}" for s in SERVICES if s != service)
        assert offenders(f"services/{service}", others + ("closedloop",)) == []
