import importlib.util
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).resolve().parent

settings.register_profile("default", max_examples=150, deadline=None)
settings.load_profile("default")


@pytest.fixture(scope="session")
def bench():
    """scripts/bench_scan.py as a module: the seeded corpora of camera frames the scanner is measured on."""
    spec = importlib.util.spec_from_file_location("bench_scan", TESTS.parent / "scripts" / "bench_scan.py")
    module = sys.modules["bench_scan"] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def emv_vectors() -> list[dict]:
    """Real payment payloads with their expected parse (a copy of shared/conformance/emv_vectors.json)."""
    return json.loads((TESTS / "conformance" / "emv_vectors.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def made_keys(tmp_path_factory) -> Path:
    """A simulator data dir's keys (the gateway's and the demo merchant's), made once a session: an RSA
    key pair takes 0.1-0.2 s of CPU to make, and most backend tests start a backend of their own."""
    from pos_sim.backend import server

    data = tmp_path_factory.mktemp("keys") / "data"
    server.open_gateway(data).store.close()
    return data / "keys"


@pytest.fixture
def keyed(made_keys) -> Callable[[Path], Path]:
    """keyed(data_dir) -> data_dir, a new simulator data dir holding the session's keys (modes kept)."""

    def seed(data_dir: Path) -> Path:
        shutil.copytree(made_keys, data_dir / "keys")
        return data_dir

    return seed
