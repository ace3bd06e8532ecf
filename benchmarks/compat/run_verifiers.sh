#!/usr/bin/env bash
# Build a separate environment with verifiers 0.4.0 (it needs openai<3, the main environment has
# openai 3) and run ExecTune's verifiers hooks through verifiers' own Task.score there.
# Usage: benchmarks/compat/run_verifiers.sh [VENV_DIR] [-- args]
set -euo pipefail
default_venv=/tmp/exectune-compat-verifiers
. "$(dirname "$0")/_env.sh"
"$venv/bin/pip" install -q "verifiers==0.4.0"
install_project server
"$venv/bin/pip" check
"$venv/bin/python" "$here/verifiers_check.py" "$@"
