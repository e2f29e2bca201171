"""The layout is the architecture: these tests read the import graph and fail when it is broken.

- `synth/` (how programs are found) never imports `verifier/` (how they are judged) nor the doors
  in `netsynth/`.
- The job service reaches the search only through `netsynth.api`: it imports neither Ray nor the
  int engine nor a search family.
- `import dsl` loads neither torch, ray nor z3; `import oracle`, `import synth`, `import verifier`
  and `import netsynth` stay as cheap.
- No module is much over 400 lines.

Imports are read with `ast` from every file (those inside functions too), so a lazy import counts.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dsl", "oracle", "synth", "verifier", "netsynth")
MAX_LINES = 420


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module name `path` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in modules(package):
        for name in sorted(imported(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


def test_the_search_never_imports_the_verifier_or_the_doors() -> None:
    assert offenders("synth", ("verifier", "netsynth")) == []


def test_the_service_reaches_the_search_only_through_the_api() -> None:
    found = []
    for path in modules("netsynth/service"):
        for name in sorted(imported(path)):
            if name.split(".")[0] == "ray" or name.startswith("synth.int_engine") \
                    or name in ("synth.search", "synth.portfolio") \
                    or name.startswith(("synth.search.", "synth.portfolio.")):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []


def test_the_lower_layers_never_import_the_doors() -> None:
    for package in ("dsl", "oracle", "verifier"):
        assert offenders(package, ("netsynth", "synth")) == [], package
    assert offenders("dsl", ("oracle", "verifier")) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_stay_cheap(package: str) -> None:
    heavy = ("torch", "ray", "z3", "onnxruntime", "numba", "hypothesis", "fastapi", "sqlalchemy")
    code = (f"import sys, json; import {package}; "
            f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


def test_the_detector_sees_lazy_imports(tmp_path: Path) -> None:
    """The check above would be empty if `imported` missed imports inside functions."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from verifier import check\n    import ray.util\n")
    assert {"verifier", "verifier.check", "ray.util"} <= imported(probe)


def test_no_module_is_much_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for pkg in PACKAGES for p in modules(pkg)
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
