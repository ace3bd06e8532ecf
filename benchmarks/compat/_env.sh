# Sourced by the run_*.sh scripts here: the separate environment each compatibility check runs in.
# Set default_venv before sourcing. Reads the script's arguments: [VENV_DIR] [-- args]; sets
# here, root, venv and python, leaves the args after "--" in "$@", and makes the venv if needed.
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-$default_venv}"
shift || true
[ "${1:-}" = "--" ] && shift
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi

# install_project [EXTRA ...]: the project's runtime dependencies (and those of the extras named),
# then the project itself without its dependency list (its [train] extra pins what a check replaces).
install_project() {
  local -a deps
  # One requirement per line: a requirement with an environment marker holds spaces.
  mapfile -t deps < <("$venv/bin/python" - "$root/pyproject.toml" "$@" <<'PY'
import sys, tomllib
data = tomllib.load(open(sys.argv[1], "rb"))["project"]
deps = list(data["dependencies"])
for extra in sys.argv[2:]:
    deps += data["optional-dependencies"][extra]
print("\n".join(deps))
PY
)
  "$venv/bin/pip" install -q "${deps[@]}"
  "$venv/bin/pip" install -q --no-deps -e "$root"
}
