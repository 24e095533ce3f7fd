"""scripts/elasticsearch.sh says what is missing instead of failing obscurely."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import ES_SCRIPT


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "BIOLEAK_ES_HOME": str(tmp_path / "es"),
        "BIOLEAK_CACHE_DIR": str(tmp_path / "cache"),
        **env,
    }
    return subprocess.run(["bash", str(ES_SCRIPT), "start"], capture_output=True, text=True, env=full_env, timeout=300)


def test_missing_java_is_named(tmp_path: Path) -> None:
    result = run_script(tmp_path, ES_JAVA_HOME=str(tmp_path / "no-jdk"))
    assert result.returncode != 0
    assert "has no bin/java" in result.stderr


def test_unfetchable_distribution_is_named(tmp_path: Path) -> None:
    result = run_script(tmp_path, BIOLEAK_ES_VERSION="0.0.0-does-not-exist")
    assert result.returncode != 0
    assert (
        "could not fetch org.elasticsearch.distribution.integ-test-zip:elasticsearch:0.0.0-does-not-exist"
        in result.stderr
    )


def test_status_without_a_server_fails(tmp_path: Path) -> None:
    env = {**os.environ, "BIOLEAK_ES_HOME": str(tmp_path / "es")}
    result = subprocess.run(["bash", str(ES_SCRIPT), "status"], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "not running" in result.stderr


def test_unknown_command_shows_usage() -> None:
    result = subprocess.run(["bash", str(ES_SCRIPT), "restart-everything"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage:" in result.stderr
