"""The benchmarks still run: a tiny submit run on SQLite, every request answered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The machine's jitter line is checked for, not its figure: measured briefly.
ENV = {**os.environ, "ONETHING_BENCH_JITTER_SECONDS": "0.2"}


def test_the_submit_benchmark_runs_and_every_submit_succeeds(tmp_path):
    # Its figures are not checked here (timed assertions do not belong in tests), only
    # that it runs and that its submits succeed: a failed submit makes it exit 1.
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "submit.py"), "--only", "sqlite",
         "--submissions", "20", "--clients", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failures 0" in result.stdout
    assert "[sqlite] ratio" in result.stdout
    assert "[sqlite] machine: the same" in result.stdout


def test_the_volume_benchmark_runs_and_every_page_answers(tmp_path):
    # A small seed: that it seeds, serves and measures every page without a failure.
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "volume.py"), "--submissions", "300",
         "--repeat", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stdout
    assert "[sqlite] api: deep page by cursor" in result.stdout
    assert "[sqlite] inbox: search, a day's prefix" in result.stdout
    assert "[sqlite] machine: the same" in result.stdout


def test_the_statistics_benchmark_runs_and_every_page_answers(tmp_path):
    # A small seed: that it seeds, serves and measures each page and the command.
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "stats.py"), "--cases", "300",
         "--ratings", "400", "--repeat", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INVALID" not in result.stdout
    assert "[sqlite] statistics: six months, by month" in result.stdout
    assert "[sqlite] onething stats --month" in result.stdout
