"""The benchmarks still run (tiny sizes; the real figures come from running them by hand, see README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_validate_io_bench_runs_and_reads_a_small_fraction(tmp_path, aws_env):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "validate_io.py"),
            "--shards",
            "4",
            "--shard-mb",
            "1",
            "--sparse-gb",
            "5",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    s3, sparse = json.loads(out.read_text())
    assert s3["naive_bytes_read"] == s3["total_bytes"]
    assert s3["validator_bytes_read"] < s3["total_bytes"] * 0.1
    assert s3["validator_bytes_read"] < s3["with_weights_bytes_read"] < s3["total_bytes"] * 0.1
    assert sparse["validator_fraction"] < 1e-4
