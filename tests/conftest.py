import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_textual_snapshot
from hypothesis import settings

TESTS = Path(__file__).resolve().parent

settings.register_profile("default", max_examples=150, deadline=None)
settings.load_profile("default")

# pytest-textual-snapshot 1.0 names its files' extension in syrupy's old attribute; syrupy 7 (the lock's)
# reads file_extension, and without this looks for .raw files and never compares the .svg snapshots
pytest_textual_snapshot.SVGImageExtension.file_extension = "svg"


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
