#!/usr/bin/env bash
# Build a separate environment with trl 1.12.0 (the last release with PPOTrainer) and run the
# PPO compatibility check there. Usage: benchmarks/compat/run_ppo_trl112.sh [VENV_DIR] [-- args]
# The project is installed without its dependency list (its [train] extra asks for trl>=1.14);
# its runtime dependencies are installed explicitly below, trl pinned to 1.12.0.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-/tmp/exectune-compat-trl112}"
shift || true
[ "${1:-}" = "--" ] && shift
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
# torch 2.13.0: the CPU wheel on CPU machines; trl 1.12.0 brings transformers/accelerate/datasets.
"$venv/bin/pip" install -q "trl==1.12.0" "torch==2.13.0"
deps="$("$venv/bin/python" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print(" ".join(d for d in deps))
PY
)"
# shellcheck disable=SC2086
"$venv/bin/pip" install -q $deps
"$venv/bin/pip" install -q --no-deps -e "$root"
"$venv/bin/python" -c "import trl, torch; print('trl', trl.__version__, 'torch', torch.__version__)"
TRL_EXPERIMENTAL_SILENCE=1 "$venv/bin/python" "$here/ppo_trl112.py" "$@"
