"""The layer rules of DESIGN.md hold: import-linter's contracts in pyproject.toml pass."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OVER_HTTP_ONLY = ("terminal", "scenarios", "tui", "web")
"""The packages that reach the backend over HTTP only, never by import."""


def test_imports_point_down_only():
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 3 kept, 0 broken" in run.stdout


def test_every_package_that_exists_is_held_to_http_only():
    """A ``.**`` wildcard misses the package's own ``__init__``: once the package exists, name it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    forbidden = [c for c in contracts if c["type"] == "forbidden" and c["forbidden_modules"] == ["pos_sim.backend"]]
    assert len(forbidden) == 1
    sources = set(forbidden[0]["source_modules"])
    for package in OVER_HTTP_ONLY:
        name = f"pos_sim.{package}"
        exists = (ROOT / "pos_sim" / package).is_dir() or (ROOT / "pos_sim" / f"{package}.py").is_file()
        assert (name in sources) if exists else (f"{name}.**" in sources or name in sources), (
            f"{name}: list it in the forbidden contract's source_modules in pyproject.toml")
