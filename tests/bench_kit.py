"""Modules of bench/ for the tests that use the benchmarks' task definitions (no tests here).

The benchmark folders are scripts, not packages, and several hold a module of the same plain name
(`tasks.py` in bench/mips and in bench/hackers_delight). `bench_module(folder, name)` loads one
with its folder first on the path, then keeps every plain-named module that folder loaded under
`bench_<folder>_<name>` only, so the next folder's `tasks` is its own.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_module(folder: str, name: str) -> ModuleType:
    key = f"bench_{folder}_{name}"
    if key in sys.modules:
        return sys.modules[key]
    path = BENCH / folder
    _hide_plain_bench_modules()
    sys.path.insert(0, str(path))
    try:
        importlib.import_module(name)
    finally:
        sys.path.remove(str(path))
        _hide_plain_bench_modules()
    return sys.modules[key]


def _hide_plain_bench_modules() -> None:
    """Move every module loaded from a bench folder under its plain name to `bench_<folder>_<name>`."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and "." not in name and not name.startswith("bench_") \
                and Path(file).resolve().parent.parent == BENCH:
            sys.modules[f"bench_{Path(file).resolve().parent.name}_{name}"] = sys.modules.pop(name)
