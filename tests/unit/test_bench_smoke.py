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


def test_slot_idle_is_measured_per_slot_when_jobs_run_side_by_side():
    """With n slots, a job takes the slot the earliest end freed: the idle gap is that end to its start."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("control_loop", BENCH / "control_loop.py")
    control_loop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(control_loop)

    def job(n: int, created: float, ended: float) -> dict:
        stamp = "2026-12-07T10:00:{:06.3f}Z".format
        return {
            "jobName": f"bench-{n}",
            "importedModelName": f"m{n}",
            "creationTime": stamp(created),
            "endTime": stamp(ended),
        }

    # two slots: jobs 0 and 1 fill them; 2 starts 0.5 s after 0 ends, 3 starts 0.25 s after 1 ends
    jobs = [job(0, 0, 5), job(1, 1, 6), job(2, 5.5, 10.5), job(3, 6.25, 11.25)]
    figures = control_loop._slot_figures(jobs, [], slots=2)
    assert figures["slot_idle_max_seconds"] == 0.5 and figures["slot_idle_mean_seconds"] == 0.38
    one = control_loop._slot_figures([job(0, 0, 5), job(1, 5.5, 10.5), job(2, 11.5, 16.5)], [], slots=1)
    assert one["slot_idle_max_seconds"] == 1.0
    # a model created after the slot freed did not wait for it: that handover is not a slot's idle time
    late = {"metadata": {"creationTimestamp": "2026-12-07T10:00:11Z"}, "status": {"modelName": "m2"}}
    waited = control_loop._slot_figures([job(0, 0, 5), job(1, 5.5, 10.5), job(2, 11.5, 16.5)], [late], 1)
    assert waited["slot_idle_max_seconds"] == 0.5 and waited["slot_idle_measured_handovers"] == 1
