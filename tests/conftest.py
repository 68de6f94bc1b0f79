import json
from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).resolve().parent

settings.register_profile("default", max_examples=150, deadline=None)
settings.load_profile("default")


@pytest.fixture(scope="session")
def emv_vectors() -> list[dict]:
    """Real payment payloads with their expected parse (a copy of shared/conformance/emv_vectors.json)."""
    return json.loads((TESTS / "conformance" / "emv_vectors.json").read_text(encoding="utf-8"))
