"""Prints the digest of what requirements.lock is made from: pyproject.toml's Python version, build
system, dependencies and extras. scripts/lock writes it into the lock's first line; scripts/setup
compares the two and refuses a lock made from other dependencies. Runs on the system's Python 3.11+."""

import hashlib
import json
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
inputs = {
    "build-system": project["build-system"]["requires"],
    "requires-python": project["project"]["requires-python"],
    "dependencies": project["project"]["dependencies"],
    "optional-dependencies": project["project"].get("optional-dependencies", {}),
}
print(hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16])
