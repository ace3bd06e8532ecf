#!/usr/bin/env bash
# Build a separate environment with verl 0.9.1 (it needs transformers<5.11; the main environment
# has 5.24) and load ExecTune's verl adapter through verl's own get_custom_reward_fn there.
# Usage: benchmarks/compat/run_verl.sh [VENV_DIR] [-- args]
set -euo pipefail
default_venv=/tmp/exectune-compat-verl
. "$(dirname "$0")/_env.sh"
# torch 2.13.0: the CPU wheel on CPU machines (verl's torchdata/accelerate/peft need a torch).
"$venv/bin/pip" install -q "verl==0.9.1" "torch==2.13.0"
install_project
"$venv/bin/python" "$here/verl_check.py" "$@"
