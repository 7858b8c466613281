#!/usr/bin/env bash
# The project's run command (README quick start): sets up .venv (python3 -m venv,
# pip install -e ".[workflow]") when needed, runs the default workflow (config/config.yaml:
# digits, four models) with the local profile, then builds the self-contained
# report results/report.html. Extra arguments go to snakemake, e.g.
#   bash scripts/run.sh --cores 4
#   bash scripts/run.sh --configfile my_config.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh workflow
# One numba cache for every job and every run: only the first job ever compiles.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.numba_cache}"
export PATH="$PWD/.venv/bin:$PATH"

start=$(date +%s)
# profiles/default is found without a flag (Snakemake looks for profiles/default beside the Snakefile).
snakemake "$@"
# No profile for the report (--workflow-profile none): it adds nothing there, and Snakemake then
# skips resource evaluation.
snakemake --workflow-profile none --report results/report.html "$@"
echo "workflow finished in $(( $(date +%s) - start )) s"
echo "results:  results/summary.csv (all models; best by validation loss marked)"
echo "report:   results/report.html (open it in a browser)"
