#!/usr/bin/env bash
# Set up ./.venv if needed, run the `full_refresh` Dagster job on the bundled sample company
# (data/sample) into data/warehouse, then print a summary of what was written.
# COMPSCORE_SOURCE / COMPSCORE_WAREHOUSE (environment or .env) override the folders.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
source "$REPO_ROOT/scripts/_env.sh"

# In the `compscore` code location of workspace.yaml, so the run shows on the job's page in the UI.
python -m pipelines.launch full_refresh -c "$REPO_ROOT/scripts/run-config.yaml"
compscore summary --warehouse "$COMPSCORE_WAREHOUSE"
