"""The architecture holds: layers (import-linter), no streamlit in lib/, no cycles, public names only.

`.importlinter` at the repo root is the contract (DESIGN.md §2); this test runs it, so a violation fails
CI. The AST checks below cover what import-linter cannot: another package's underscore names and
submodules, imports hidden inside functions, and `__all__` that lists every public name.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
PACKAGES = sorted(p.parent.name for p in LIB.glob("*/__init__.py"))
# imports left inside functions, each with its reason (none today; keep it that way)
LAZY_OK: dict[tuple[str, str | None], str] = {}


def _lib_files() -> list[Path]:
    return sorted(LIB.rglob("*.py"))


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe), "--config", str(ROOT / ".importlinter")], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "BROKEN" not in out.stdout and out.stdout.count("KEPT") >= 3


def _package_of(path: Path) -> str | None:
    rel = path.relative_to(LIB).parts
    return rel[0] if len(rel) > 1 else None


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lib"):
            yield node


def test_other_packages_import_only_public_names():
    bad = []
    consumers = _lib_files() + sorted((ROOT / "pages").rglob("*.py")) + [ROOT / "app.py"]
    for path in consumers:
        own = _package_of(path) if path.is_relative_to(LIB) else None
        for node in _imports(path):
            parts = node.module.split(".")
            if len(parts) >= 2 and parts[1] in PACKAGES and parts[1] != own:
                if len(parts) > 2:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports submodule {node.module}")
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} imports private {node.module}.{a.name}"
                        for a in node.names if a.name.startswith("_")]
    assert not bad, "\n".join(bad)


def test_every_package_lists_its_public_names():
    for pkg in PACKAGES:
        mod = importlib.import_module(f"lib.{pkg}")
        names = getattr(mod, "__all__", None)
        assert names, f"lib.{pkg} has no __all__"
        missing = [n for n in names if not hasattr(mod, n)]
        assert not missing, f"lib.{pkg}.__all__ names missing attributes: {missing}"


def test_no_project_imports_inside_functions():
    found = []
    for path in _lib_files():
        rel = path.relative_to(ROOT).as_posix()
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("lib")):
                    if (rel, node.module) not in LAZY_OK:
                        found.append(f"{rel}:{node.lineno} from {'.' * node.level}{node.module or ''}")
    assert not found, "imports inside functions (hoist them or add a reason to LAZY_OK):\n" + "\n".join(found)
