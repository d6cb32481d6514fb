# Sourced by the scripts after _venv.sh: read $REPO_ROOT/.env when it exists (KEY=VALUE lines, as
# `dagster dev` does; a variable already set in the environment wins), then fill in the defaults of the
# variables the scripts need. Values are never printed.

if [ -f "$REPO_ROOT/.env" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in '' | \#*) continue ;; esac
        key="${line%%=*}"
        value="${line#*=}"
        [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
        value="${value%\"}"; value="${value#\"}"
        [ -z "${!key+x}" ] && export "$key=$value"
    done <"$REPO_ROOT/.env"
fi

export DAGSTER_HOME="${DAGSTER_HOME:-$REPO_ROOT/.dagster_home}"
export COMPSCORE_SOURCE="${COMPSCORE_SOURCE:-data/sample}"
export COMPSCORE_WAREHOUSE="${COMPSCORE_WAREHOUSE:-data/warehouse}"
export COMPSCORE_CELERY_BROKER="${COMPSCORE_CELERY_BROKER:-pyamqp://guest:guest@127.0.0.1:5672//}"
export COMPSCORE_CELERY_BACKEND="${COMPSCORE_CELERY_BACKEND:-rpc://}"
export COMPSCORE_CELERY_QUEUE="${COMPSCORE_CELERY_QUEUE:-compscore}"
