#!/usr/bin/env bash
# Build a separate environment with verifiers 0.4.0 (it needs openai<3, the main environment has
# openai 3) and run ExecTune's verifiers hooks through verifiers' own Task.score there.
# Usage: benchmarks/compat/run_verifiers.sh [VENV_DIR] [-- args]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-/tmp/exectune-compat-verifiers}"
shift || true
[ "${1:-}" = "--" ] && shift
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
"$venv/bin/pip" install -q "verifiers==0.4.0"
deps="$("$venv/bin/python" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
data = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(" ".join(data["dependencies"] + data["optional-dependencies"]["server"]))
PY
)"
# shellcheck disable=SC2086
"$venv/bin/pip" install -q $deps
"$venv/bin/pip" install -q --no-deps -e "$root"
"$venv/bin/pip" check
"$venv/bin/python" "$here/verifiers_check.py" "$@"
