#!/usr/bin/env bash
# Create the project's virtual environment in .venv (if missing) and install
# softmax_nb into it in editable mode, with the extras named as arguments
# (e.g. `bash scripts/setup.sh test`). Needs only python3.
#
# The install is editable, so code changes need no reinstall: pip runs only when
# .venv is new, pyproject.toml changed, or an extra is asked for that is not yet
# installed (.venv/.softmax_nb-install records the pyproject hash and the extras).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=".venv/.softmax_nb-install"
hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
installed=""
if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$hash" ]; then
  installed="$(sed -n 2p "$stamp")"
fi
missing=0
if [ ! -f "$stamp" ] || [ "$(head -n1 "$stamp")" != "$hash" ]; then
  missing=1
fi
for extra in "$@"; do
  case " $installed " in *" $extra "*) ;; *) missing=1 ;; esac
done
if [ "$missing" = 0 ] && .venv/bin/python -c "import softmax_nb" 2>/dev/null; then
  exit 0
fi
extras=""
if [ "$#" -gt 0 ]; then
  extras="[$(IFS=,; echo "$*")]"
fi
.venv/bin/python -m pip install --quiet -e ".${extras}"
# The extras installed so far (pip never removes one), one line.
all="$(printf '%s\n' $installed "$@" | sort -u | tr '\n' ' ' | sed 's/ $//')"
printf '%s\n%s\n' "$hash" "$all" > "$stamp"
