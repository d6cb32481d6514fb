"""Time the sharded `full_refresh_celery` job on Celery workers: wall, and CPU and peak RSS per worker.

For each size N (statement lines) the company `CACHE/lines-N` is used (generated on first use, as in
`bench_score.py`), and for each worker count W (`--workers 1,2`: one run with 1 worker, then one with 2)
this, in a fresh folder `CACHE/celery-N-wW` (DAGSTER_HOME, warehouse, logs):

- creates a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres, trust auth) for the Dagster
  instance (`deploy/postgres/dagster.yaml` with the DAGSTER_PG_* variables, as in docs/scale-out.md);
- starts W Celery workers (`celery -A pipelines.celery_worker worker --concurrency 1`) on a queue of the
  run's own on the machine's RabbitMQ (127.0.0.1:5672, guest/guest), and waits until they are ready;
- runs, with COMPSCORE_SCORING_SHARDS set to `--shards` (default 2) and a fresh warehouse:

      python -m dagster job execute -m pipelines.definitions -j full_refresh_celery

- then stops the workers, drops the database and deletes the queue (also when the run fails or the
  benchmark is interrupted). The folder under CACHE is kept for its logs and warehouse.

While the run goes, the process tree of every worker (a main process and one pool process, which runs
the steps) is sampled from /proc every --interval s, as `bench_pipeline.py` samples the run's tree, and
once more when the run has ended (the workers still live then). Printed for each worker count: the run's
wall time (from starting `dagster job execute`, including its first connection to the fresh database, to
its exit); for each worker its CPU seconds during the run (user + system, summed over its tree) and its
peak RSS (the largest of any one process of its tree: the kernel's high-water mark VmHWM, read once the
run has ended, so a spike between samples counts too), and the steps it ran with their durations
(STEP_START to STEP_SUCCESS), from the run's event log: the engine event "Executing steps ... in celery
worker" names the worker, as in tests/test_celery_cluster.py; for `dagster job execute` (which only
orchestrates: it sends the steps and waits for them), CPU and peak RSS of its whole tree from `wait4`.
Also the shard count asked for and the `score_shard` steps that ran.

    python benchmarks/bench_celery.py --sizes 1e7 --workers 1,2 --shards 2 --cache /work/tmp-scale

The issue asks for "sharded full_refresh at 10M lines with 1 and 2 workers: wall, CPU, peak RSS per
worker". Run it alone on a quiet machine: the workers share the machine's cores with each other and with
anything else running, which skews the wall time (CPU seconds and peak RSS are the steadier figures).
Exits 2, naming what is missing, when RabbitMQ or PostgreSQL does not answer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import Tree
from bench_score import DEFAULT_CACHE, company, parse_sizes

from pipelines.executors import delete_queue

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_INSTANCE = REPO_ROOT / "deploy" / "postgres" / "dagster.yaml"
BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
JOB = "full_refresh_celery"
EXECUTE = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions", "-j", JOB]
WORKER = [sys.executable, "-m", "celery", "-A", "pipelines.celery_worker", "worker", "--loglevel", "INFO"]
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0

# Run with the run's environment: the instance's one run, its status and, for every step, the Celery
# worker that ran it (the engine event dagster_celery reports as a step starts on a worker, as
# `_workers_by_step` in tests/test_celery_cluster.py reads it) and its STEP_START / STEP_SUCCESS times.
STEPS_OF_RUN = """
import json, dagster as dg
E = dg.DagsterEventType
instance = dg.DagsterInstance.get()
(run,) = instance.get_runs()
steps = {}
kinds = {E.ENGINE_EVENT, E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE}
for record in instance.all_logs(run.run_id, of_type=kinds):
    event = record.dagster_event
    if event.step_key is None:
        continue
    step = steps.setdefault(event.step_key, {})
    if event.event_type == E.ENGINE_EVENT:
        data = event.event_specific_data
        worker = data.metadata.get("Celery worker") if data is not None else None
        if worker is not None:
            step["worker"] = worker.value
    elif event.event_type == E.STEP_START:
        step["start"] = record.timestamp
    else:
        step["end"] = record.timestamp
        step["ok"] = event.event_type == E.STEP_SUCCESS
print(json.dumps({"status": run.status.value, "steps": steps}))
"""


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path
    tree: Tree | None = None
    cpu_before: dict[int, float] = field(default_factory=dict)
    """CPU seconds of each process of the tree when the run started (the worker's own start-up)."""

    def cpu_s(self) -> float:
        """CPU seconds (user + system) of the tree during the run."""
        assert self.tree is not None
        return sum(e.cpu_s - self.cpu_before.get(pid, 0.0) for pid, e in self.tree.seen.items())

    def peak_rss(self) -> int:
        """Largest peak RSS of one process of the tree: VmHWM while it lives, else its largest sample."""
        assert self.tree is not None
        return max((max(e.peak_rss, _high_water(pid)) for pid, e in self.tree.seen.items()), default=0)


@dataclass
class Run:
    returncode: int
    wall_s: float
    cpu_s: float
    """CPU seconds of `dagster job execute` and every process it waited for (`wait4`)."""
    peak_rss: int
    """Largest peak RSS of `dagster job execute` or one of the processes it waited for (`wait4`)."""
    log: Path


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def missing_service() -> str | None:
    """What this benchmark needs and does not find, in one line; None when everything answers."""
    if not _answers(5672):
        return "RabbitMQ does not answer on 127.0.0.1:5672 (start it with `rabbitmq-server -detached`)"
    if not _answers(5432):
        return "PostgreSQL does not answer on 127.0.0.1:5432"
    if shutil.which("psql") is None:
        return "psql (the PostgreSQL client) is not installed"
    return None


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
    )


def _high_water(pid: int) -> int:
    """VmHWM (peak RSS) of a living process in bytes; 0 when it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def start_workers(workers: list[Worker], count: int, env: dict[str, str], work: Path) -> None:
    """`count` workers on the run's queue, one step at a time each, appended to `workers` as they start
    (so that the caller can stop them whatever happens); returns once every one is ready."""
    host = socket.gethostname()
    for i in range(1, count + 1):
        name = f"compscore-bench-w{i}@{host}"
        log = work / f"worker-{i}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [*WORKER, "-n", name, "-Q", env["COMPSCORE_CELERY_QUEUE"], "--concurrency", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        workers.append(Worker(name, process, log))
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = list(workers)
    while waiting:
        for worker in list(waiting):
            if worker.process.poll() is not None:
                code = worker.process.returncode
                raise RuntimeError(f"worker {worker.name} exited ({code}); see {worker.log}")
            if f"{worker.name} ready." in worker.log.read_text(errors="replace"):
                waiting.remove(worker)
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after {READY_TIMEOUT_S:.0f} s; see {waiting[0].log}")
        time.sleep(0.2)


def stop_workers(workers: list[Worker]) -> None:
    """Warm shutdown (SIGTERM to each worker's process group), SIGKILL after STOP_TIMEOUT_S."""
    for worker in workers:
        if worker.process.poll() is None:
            os.killpg(worker.process.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()


def run_job(env: dict[str, str], work: Path, workers: list[Worker], interval: float) -> Run:
    """`dagster job execute` of the job, the worker trees sampled meanwhile and once more at its end; its
    own tree's CPU and peak RSS come from `wait4` (every process of the tree that it waited for)."""
    started = time.perf_counter()
    for worker in workers:
        worker.tree = Tree(worker.process.pid, started)
        worker.tree.sample()
        worker.cpu_before = {pid: e.cpu_s for pid, e in worker.tree.seen.items()}
    log = work / "dagster.log"
    with log.open("w") as out:
        child = subprocess.Popen(EXECUTE, env=env, stdout=out, stderr=out, start_new_session=True)
    finished = False
    try:
        while True:
            finished, status, usage = os.wait4(child.pid, os.WNOHANG)
            if finished:
                break
            for worker in workers:
                assert worker.tree is not None
                worker.tree.sample()
            time.sleep(interval)
    finally:
        if not finished:  # interrupted while the run went on: end it (its steps end with the workers)
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    for worker in workers:
        assert worker.tree is not None
        worker.tree.sample()
    cpu = usage.ru_utime + usage.ru_stime
    return Run(child.returncode, wall, cpu, usage.ru_maxrss * 1024, log)


def steps_of_run(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", STEPS_OF_RUN], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"could not read the run's steps from the instance: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(folder: Path, lines: int, count: int, shards: int, cache: Path, interval: float) -> dict:
    work = cache / f"celery-{lines}-w{count}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    shutil.copy(POSTGRES_INSTANCE, work / "home" / "dagster.yaml")
    token = uuid.uuid4().hex[:10]
    database, queue = f"compscore_bench_{token}", f"compscore-bench-{token}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
        "DAGSTER_HOME": str(work / "home"),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database,
        "COMPSCORE_CELERY_BROKER": BROKER,
        "COMPSCORE_CELERY_BACKEND": "rpc://",
        "COMPSCORE_CELERY_QUEUE": queue,
        "COMPSCORE_SOURCE": str(folder),
        "COMPSCORE_WAREHOUSE": str(work / "warehouse"),
        "COMPSCORE_SCORING_SHARDS": str(shards),
    }
    print(
        f"\n{JOB} on {folder}: {count} worker(s), {shards} shards, database {database}, queue {queue}, "
        f"files under {work} ...",
        flush=True,
    )
    psql(f'CREATE DATABASE "{database}"')
    workers: list[Worker] = []
    try:
        start_workers(workers, count, env, work)
        run = run_job(env, work, workers, interval)
        stop_workers(workers)
        try:
            steps = steps_of_run(env)
        except RuntimeError as exc:
            print(f"  {exc}")
            steps = {"status": "?", "steps": {}}
    finally:
        stop_workers(workers)
        psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        delete_queue(BROKER, queue)
    return report(lines, count, shards, run, workers, steps)


def _step_text(key: str, step: dict) -> str:
    if "start" not in step or "end" not in step:
        return f"{key} (not finished)"
    return f"{key} {step['end'] - step['start']:.1f} s" + ("" if step.get("ok") else " FAILED")


def _wrapped(items: list[str], indent: int = 6, width: int = 108) -> str:
    """`items` joined by commas in lines of at most `width` characters, never breaking an item."""
    lines, line = [], ""
    for item in items:
        if line and indent + len(line) + 2 + len(item) > width:
            lines.append(line + ",")
            line = item
        else:
            line = f"{line}, {item}" if line else item
    return "\n".join(" " * indent + text for text in [*lines, line])


def report(lines: int, count: int, shards: int, run: Run, workers: list[Worker], found: dict) -> dict:
    steps: dict[str, dict] = found["steps"]
    order = sorted(steps, key=lambda key: steps[key].get("start", float("inf")))
    shard_steps = [key for key in order if ".score_shard[" in key]
    status = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode}, see {run.log})"
    print(
        f"lines={lines:,}, {count} worker(s): {JOB} {status}, run status {found['status']}: "
        f"wall {run.wall_s:.1f} s; shards {shards} (COMPSCORE_SCORING_SHARDS), "
        f"{len(shard_steps)} score_shard steps ran"
    )
    print(f"  {'process tree':<40} {'CPU s':>7} {'peak GiB':>9} {'steps':>6}")
    for worker in workers:
        ran = [key for key in order if steps[key].get("worker") == worker.name]
        cpu, peak = worker.cpu_s(), worker.peak_rss() / 2**30
        print(f"  {'worker ' + worker.name:<40} {cpu:>7.1f} {peak:>9.2f} {len(ran):>6}")
        if ran:
            print(_wrapped([_step_text(key, steps[key]) for key in ran]))
    print(f"  {'dagster job execute':<40} {run.cpu_s:>7.1f} {run.peak_rss / 2**30:>9.2f}")
    elsewhere = [key for key in order if steps[key].get("worker") not in {w.name for w in workers}]
    if elsewhere:
        print(_wrapped(["steps no worker of this run reported", *elsewhere], indent=2))
    return {
        "lines": lines,
        "workers": count,
        "shards": shards,
        "shard_steps": len(shard_steps),
        "returncode": run.returncode,
        "wall_s": round(run.wall_s, 1),
        "worker_cpu_s": [round(w.cpu_s(), 1) for w in workers],
        "worker_peak_rss_gib": [round(w.peak_rss() / 2**30, 2) for w in workers],
        "dagster_cpu_s": round(run.cpu_s, 1),
        "dagster_peak_rss_gib": round(run.peak_rss / 2**30, 2),
    }


def parse_counts(text: str) -> list[int]:
    """`1,2` → [1, 2]."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive worker counts, got {text!r}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e7"), help="statement lines")
    parser.add_argument("--workers", type=parse_counts, default=parse_counts("1,2"), help="worker counts")
    parser.add_argument("--shards", type=int, default=2, help="COMPSCORE_SCORING_SHARDS of the runs")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between samples of /proc")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    missing = missing_service()
    if missing is not None:
        print(f"bench_celery skipped: {missing}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = []
    for lines in args.sizes:
        folder = company(args.cache, lines)
        for count in args.workers:
            results.append(bench(folder, lines, count, args.shards, args.cache, args.interval))
    print("\nsummary (CPU: user + system during the run; peak: largest RSS of one process of the tree)")
    for r in results:
        print(json.dumps(r))
    print(f"\nbenchmark finished in {time.perf_counter() - started:.0f} s")
    return 0 if all(r["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the workers, database and queue of the interrupted run are already gone
        print("bench_celery interrupted", file=sys.stderr)
        sys.exit(130)
