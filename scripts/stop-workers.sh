#!/usr/bin/env bash
# Stop the Celery workers that scripts/start-workers.sh started (warm shutdown: running steps finish).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${COMPSCORE_WORKER_DIR:-$REPO_ROOT/.workers}"
for pidfile in "$dir"/w*.pid; do
    [ -e "$pidfile" ] || { echo "no workers running (no pid file in $dir)"; exit 0; }
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null && echo "stopping worker $(basename "$pidfile" .pid) (pid $pid)"
done
