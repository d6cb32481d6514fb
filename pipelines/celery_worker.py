"""The Celery app that compscore's workers run (`celery -A pipelines.celery_worker worker ...`).

It is Dagster's own worker app (`dagster_celery.app`), built with the broker and backend from the same
environment variables the executor reads, so a worker and the runs it serves can never disagree and no
URL is written to a file. Started by `scripts/start-workers.sh`; see docs/scale-out.md.
"""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from pipelines.executors import BACKEND_ENV_VAR, BROKER_ENV_VAR, WORKER_INCLUDES, celery_queue, required_env

app = make_app(
    CeleryExecutor.for_cli(
        broker=required_env(BROKER_ENV_VAR),
        backend=required_env(BACKEND_ENV_VAR),
        include=WORKER_INCLUDES,
        config_source={"task_default_queue": celery_queue()},
    ).app_args()
)
execute_plan = create_task(app)
