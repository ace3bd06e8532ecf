"""The service's tests need the server extra; without it they skip and say so."""

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed (pip install 'exectune-rl[server]')")
pytest.importorskip("uvicorn", reason="the server extra is not installed (pip install 'exectune-rl[server]')")
pytest.importorskip("prometheus_client", reason="the server extra is not installed (pip install 'exectune-rl[server]')")
