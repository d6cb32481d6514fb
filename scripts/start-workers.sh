#!/usr/bin/env bash
# Start N Celery workers for compscore's `full_refresh_celery` job on this machine (default 2), each
# running one step at a time, in the background; their logs and pid files go to $COMPSCORE_WORKER_DIR
# (default .workers/). Stop them with scripts/stop-workers.sh. Start workers on other machines the same
# way: every worker needs the same COMPSCORE_CELERY_* variables, DAGSTER_HOME (an instance on PostgreSQL)
# and a COMPSCORE_WAREHOUSE every machine can reach. See docs/scale-out.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
source "$REPO_ROOT/scripts/_env.sh"

count="${1:-2}"
case "$count" in ''|*[!0-9]*) echo "usage: $0 [number of workers]" >&2; exit 2;; esac
dir="${COMPSCORE_WORKER_DIR:-$REPO_ROOT/.workers}"
mkdir -p "$dir"
for i in $(seq 1 "$count"); do
    celery -A pipelines.celery_worker worker --detach \
        -n "compscore-w$i@%h" -Q "$COMPSCORE_CELERY_QUEUE" --concurrency 1 --loglevel INFO \
        --pidfile "$dir/w$i.pid" --logfile "$dir/w$i.log"
    echo "started worker compscore-w$i (log $dir/w$i.log)"
done
