"""The scripts honour `.env`: `scripts/_env.sh` reads it (the environment wins), and run-sample.sh runs the
job in the `compscore` code location and prints the summary of the warehouse the run wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = REPO_ROOT / "scripts"
SHOWN = ("COMPSCORE_SOURCE", "COMPSCORE_WAREHOUSE", "COMPSCORE_CELERY_QUEUE", "DAGSTER_HOME")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is absent")


def _sourced(root: Path, env: dict[str, str]) -> dict[str, str]:
    """The variables `_env.sh` leaves set when sourced with REPO_ROOT=`root`."""
    script = f'REPO_ROOT="{root}"; source "{SCRIPTS / "_env.sh"}"; ' + "; ".join(
        f'echo "{name}=${{{name}}}"' for name in SHOWN
    )
    base = {k: v for k, v in os.environ.items() if k not in SHOWN and not k.startswith("COMPSCORE_")}
    done = subprocess.run(
        ["bash", "-c", script], env={**base, **env}, capture_output=True, text=True, check=True
    )
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def test_env_file_sets_source_and_warehouse_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        '# a comment\n\nCOMPSCORE_SOURCE=/data/acme\nCOMPSCORE_WAREHOUSE="/srv/wh"\nnot a line\n'
        "COMPSCORE_CELERY_QUEUE=from-file\n"
    )
    values = _sourced(tmp_path, {"COMPSCORE_CELERY_QUEUE": "from-env"})

    assert values["COMPSCORE_SOURCE"] == "/data/acme"
    assert values["COMPSCORE_WAREHOUSE"] == "/srv/wh"  # quotes stripped
    assert values["COMPSCORE_CELERY_QUEUE"] == "from-env"  # already set: the environment wins
    assert values["DAGSTER_HOME"] == f"{tmp_path}/.dagster_home"


def test_without_env_file_the_defaults_apply(tmp_path: Path) -> None:
    values = _sourced(tmp_path, {})
    assert (values["COMPSCORE_SOURCE"], values["COMPSCORE_WAREHOUSE"]) == ("data/sample", "data/warehouse")


def test_run_sample_launches_in_the_code_location_and_summarises_the_configured_warehouse() -> None:
    lines = [
        line.strip()
        for line in (SCRIPTS / "run-sample.sh").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    launch = lines.index('python -m pipelines.launch full_refresh -c "$REPO_ROOT/scripts/run-config.yaml"')
    assert lines[launch + 1] == 'compscore summary --warehouse "$COMPSCORE_WAREHOUSE"'
    assert not any("dagster job execute" in line for line in lines)
    assert 'source "$REPO_ROOT/scripts/_env.sh"' in lines
