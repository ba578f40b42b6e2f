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


def _control_loop():
    """bench/control_loop.py as a module (bench/ is no package): its figures' arithmetic, without a run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("control_loop", BENCH / "control_loop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slot_idle_is_measured_per_slot_when_jobs_run_side_by_side():
    """With n slots, a job takes the slot the earliest end freed: the idle gap is that end to its start."""
    control_loop = _control_loop()

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


def test_the_bench_reads_the_operator_s_histograms_and_the_apiserver_s_requests(monkeypatch):
    """What the control-loop bench reports of a pass's wait and of the apiserver: each labelled series
    apart, the share over half a second from the buckets, and no WATCH (its time is the watch's life)."""
    import urllib.request

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    control_loop = _control_loop()
    registry = CollectorRegistry()
    wait = Histogram(control_loop.PASS_HISTOGRAMS[0], "", ["queued_by"], buckets=(0.5, 1), registry=registry)
    freed = Counter(control_loop.SLOTS_FREED, "", ["by"], registry=registry)
    wait.labels("wake").observe(0.2)
    freed.labels("pass").inc(3)
    before = generate_latest(registry).decode()
    freed.labels("listing").inc(2)
    freed.labels("pass").inc()
    wait.labels("wake").observe(0.4)
    wait.labels("tick").observe(0.7)
    wait.labels("tick").observe(0.1)
    after = generate_latest(registry).decode()

    class Answer:
        def __init__(self, text: str) -> None:
            self.text = text

        def read(self) -> bytes:
            return self.text.encode()

    scrapes = iter([before, after])
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Answer(next(scrapes)))
    names = control_loop.OPERATOR_SERIES
    first = control_loop._histograms(0, names)
    second = control_loop._histograms(0, names)
    figures = control_loop._histogram_figures(first, second)
    assert control_loop._slots_freed(first, second) == {"listing": 2, "pass": 1}
    assert len(figures) == 2  # the counter is no histogram
    name = control_loop.PASS_HISTOGRAMS[0]
    assert figures[f'{name}{{queued_by="wake"}}'] == {"count": 1, "mean_seconds": 0.4, "share_over_0.5s": 0.0}
    assert figures[f'{name}{{queued_by="tick"}}'] == {"count": 2, "mean_seconds": 0.4, "share_over_0.5s": 0.5}

    labels = 'group="bedrock.modelops.io",resource="bedrockimportedmodels",version="v1alpha1"'
    metrics = (
        "# TYPE apiserver_request_total counter\n"
        f'apiserver_request_total{{code="200",{labels},subresource="status",verb="PATCH"}} 12\n'
        f'apiserver_request_total{{code="409",{labels},subresource="status",verb="PATCH"}} 2\n'
        f'apiserver_request_total{{code="200",{labels},subresource="",verb="GET"}} 30\n'
        f'apiserver_request_total{{code="200",{labels},subresource="",verb="WATCH"}} 3\n'
        'apiserver_request_total{code="200",group="",resource="pods",subresource="",verb="GET"} 9\n'
    )
    metrics += (
        "# TYPE apiserver_request_duration_seconds histogram\n"
        f'apiserver_request_duration_seconds_sum{{{labels},subresource="",verb="GET"}} 0.6\n'
        f'apiserver_request_duration_seconds_count{{{labels},subresource="",verb="GET"}} 30\n'
        f'apiserver_request_duration_seconds_sum{{{labels},subresource="",verb="WATCH"}} 900\n'
        f'apiserver_request_duration_seconds_count{{{labels},subresource="",verb="WATCH"}} 3\n'
    )
    monkeypatch.setattr(control_loop, "_kubectl", lambda env, *args, **kw: metrics)
    requests, latency = control_loop._model_metrics({})
    assert requests == {"PATCH status": 14, "GET": 30}
    assert latency == {"GET": (0.6, 30.0)}  # one read for both; WATCH's time is the watch's life
