#!/usr/bin/env bash
# Build a separate environment with verl 0.9.1 (it needs transformers<5.11; the main environment
# has 5.24) and load ExecTune's verl adapter through verl's own get_custom_reward_fn there.
# Usage: benchmarks/compat/run_verl.sh [VENV_DIR] [-- args]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-/tmp/exectune-compat-verl}"
shift || true
[ "${1:-}" = "--" ] && shift
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
# torch 2.13.0: the CPU wheel on CPU machines (verl's torchdata/accelerate/peft need a torch).
"$venv/bin/pip" install -q "verl==0.9.1" "torch==2.13.0"
deps="$("$venv/bin/python" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
print(" ".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))
PY
)"
# shellcheck disable=SC2086
"$venv/bin/pip" install -q $deps
"$venv/bin/pip" install -q --no-deps -e "$root"
"$venv/bin/python" "$here/verl_check.py" "$@"
