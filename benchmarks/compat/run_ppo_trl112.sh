#!/usr/bin/env bash
# Build a separate environment with trl 1.12.0 (the last release with PPOTrainer) and run the
# PPO compatibility check there. Usage: benchmarks/compat/run_ppo_trl112.sh [VENV_DIR] [-- args]
# The project is installed without its dependency list (its [train] extra asks for trl>=1.14);
# its runtime dependencies are installed explicitly, trl pinned to 1.12.0.
set -euo pipefail
default_venv=/tmp/exectune-compat-trl112
. "$(dirname "$0")/_env.sh"
# torch 2.13.0: the CPU wheel on CPU machines; trl 1.12.0 brings transformers/accelerate/datasets.
"$venv/bin/pip" install -q "trl==1.12.0" "torch==2.13.0"
install_project
"$venv/bin/python" -c "import trl, torch; print('trl', trl.__version__, 'torch', torch.__version__)"
TRL_EXPERIMENTAL_SILENCE=1 "$venv/bin/python" "$here/ppo_trl112.py" "$@"
