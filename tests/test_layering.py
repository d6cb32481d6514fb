"""Imports run one way: compscore (the core) <- common <- assets, checks <- pipelines.

Every module's imports are read with `ast` (also imports inside functions), so a forbidden import fails
here before anyone runs it. DESIGN.md "Layers, and which way the imports run" explains the layering.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("compscore", "common", "assets", "checks", "pipelines")

FORBIDDEN: dict[str, set[str]] = {
    "compscore": {"assets", "checks", "pipelines", "common", "dagster"},
    "common": {"assets", "checks", "pipelines"},
    "assets": {"pipelines"},
    "checks": {"pipelines"},
    "pipelines": set(),
}
"""Top-level packages each package must never import."""


def imported_modules(source: str) -> set[str]:
    """Every module named by an `import` or `from ... import` in `source` (absolute imports only)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_imports() -> dict[str, dict[str, set[str]]]:
    """Per package, per module file (relative path): the top-level packages it imports."""
    result: dict[str, dict[str, set[str]]] = {}
    for package in PACKAGES:
        modules = {}
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tops = {name.split(".")[0] for name in imported_modules(path.read_text(encoding="utf-8"))}
            modules[str(path.relative_to(REPO_ROOT))] = tops
        result[package] = modules
    return result


IMPORTS = package_imports()


def test_every_package_has_modules():
    # A renamed or emptied package would make every rule below pass vacuously.
    for package in PACKAGES:
        assert IMPORTS[package], f"no modules found under {package}/"


def test_imported_modules_sees_imports_inside_functions():
    source = "import a.b\nfrom c.d import e\ndef f():\n    from g import h\nfrom . import local\n"
    assert imported_modules(source) == {"a.b", "c.d", "g"}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_downwards(package: str):
    breaches = [
        f"{module} imports {sorted(tops & FORBIDDEN[package])}"
        for module, tops in IMPORTS[package].items()
        if tops & FORBIDDEN[package]
    ]
    assert not breaches, "imports against the layering:\n" + "\n".join(breaches)


def test_assets_and_checks_do_not_import_each_other_both_ways():
    assets_to_checks = [m for m, tops in IMPORTS["assets"].items() if "checks" in tops]
    checks_to_assets = [m for m, tops in IMPORTS["checks"].items() if "assets" in tops]
    assert not (assets_to_checks and checks_to_assets), (
        f"assets import checks ({assets_to_checks}) and checks import assets ({checks_to_assets}): "
        "move what they share into common/ or compscore/"
    )


def test_importing_compscore_quality_does_not_import_great_expectations():
    # GX costs ~340 MB and seconds to import; only the GX suites import it, inside functions.
    code = (
        "import sys, compscore.quality, compscore.quality.suites, compscore.quality.report, compscore.run;"
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "False"
