#!/usr/bin/env bash
# Set up ./.venv if needed, run the `full_refresh` Dagster job on the bundled sample company
# (data/sample) into data/warehouse, then print a summary of what was written and where the plan review
# report and workbook of the run are.
# COMPSCORE_SOURCE / COMPSCORE_WAREHOUSE (environment or .env) override the folders.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
source "$REPO_ROOT/scripts/_env.sh"

# In the `compscore` code location of workspace.yaml, so the run shows on the job's page in the UI.
python -m pipelines.launch full_refresh -c "$REPO_ROOT/scripts/run-config.yaml"
compscore summary --warehouse "$COMPSCORE_WAREHOUSE"
report_dir="$(ls -td "$COMPSCORE_WAREHOUSE"/reports/*/ | head -n 1)"
echo "Plan review report: ${report_dir}plan_review.html"
echo "Plan review workbook: ${report_dir}plan_review.xlsx"
