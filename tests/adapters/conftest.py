"""Adapter tests score through the in-process reward and, for the remote path, a live service."""

import sys
from pathlib import Path

# The live-server helper lives with the service's tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "serve"))
