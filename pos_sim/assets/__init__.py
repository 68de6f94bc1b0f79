"""The data pos-sim ships inside its package, read where the package is installed (a checkout, a wheel
in a venv, pipx, uv tool): the demo catalogues, the scenario library (``scenarios/``: demo, qa,
training, with the images they scan), the transit fare networks (``transit/``: GTFS-Fares v2).

``ASSETS`` is a real folder: pip, pipx and uv install a wheel unpacked, so importlib.resources
hands back a path on disk that the readers of folders (fare networks, scenario libraries) can walk.
"""

from importlib.resources import files
from pathlib import Path

ASSETS = Path(str(files(__name__)))
CATALOGUE = ASSETS / "catalogue.json"
"""The demo catalogue (a Singapore kopitiam and minimart, GST included)."""
SCENARIOS = ASSETS / "scenarios"
"""The scenario library: ``demo/``, ``qa/``, ``training/`` (``pos-sim scenario list`` names them)."""
METRO = ASSETS / "transit" / "metro"
"""The example metro network: the gate's and the backend's default fare network."""
