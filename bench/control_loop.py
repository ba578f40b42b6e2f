"""The operator under load: N models applied at once against the Bedrock emulator.

Reports (one run, everything real: control plane, moto, emulator, operator process):
  - time until every model is Ready, beyond the fixed time the emulated import jobs take;
  - Bedrock API calls per model to get there, and per model per resync period in steady state;
  - the operator's peak RSS.

    uv run python bench/control_loop.py [--models 200] [--job-seconds 5] [--slots 0] [--resync 20]

--slots is how many imports the emulator runs at once per region (0: as many as there are models, so the
fixed time is one job; 1: Bedrock's real limit, the fixed time is models x job-seconds).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmo_devtools.dev.aws import LocalAws
from bmo_devtools.dev.controlplane import CRD_FILES, ControlPlane, free_port
from bmo_devtools.dev.model_factory import ModelSpec
from bmo_devtools.dev.stack import start_operator


def _kubectl(env, *args, input=None):
    proc = subprocess.run(["kubectl", *args], env=env, input=input, text=True, capture_output=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return proc.stdout


def _ready_count(env, ns: str | None) -> tuple[int, int]:
    """(Ready, Failed) models in `ns` (None: every namespace)."""
    where = ["-n", ns] if ns else ["-A"]
    items = json.loads(_kubectl(env, "get", "bedrockmodels", *where, "-o", "json"))["items"]
    ready = sum(
        1
        for i in items
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (i.get("status") or {}).get("conditions", [])
        )
    )
    failed = sum(1 for i in items if (i.get("status") or {}).get("phase") == "Failed")
    return ready, failed


def _rss_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM", "VmRSS")):
            key, value = line.split(":")
            out[key] = int(value.split()[0])
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (its reconcile work, every thread)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_process(op_pid: int, cp, aws) -> dict[str, float]:
    """CPU seconds each process of the bench has used so far: where two shared cores go."""
    pids = {"operator": op_pid, **{proc.name: proc.popen.pid for proc in cp._procs}}
    pids |= {name: popen.pid for name, popen in zip(("moto", "local-bedrock"), aws._procs, strict=False)}
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = _cpu_seconds(pid)
        except OSError:  # gone
            continue
    return out


#: the operator's: a tick or wake's wait for a worker, and a pass's own time
PASS_HISTOGRAMS = ("bmo_workqueue_queue_duration_seconds", "bmo_workqueue_work_duration_seconds")
#: the operator's: who freed each import slot, the listing (at once) or the ended object's own pass (later)
SLOTS_FREED = "bmo_import_slots_freed"
OPERATOR_SERIES = (*PASS_HISTOGRAMS, SLOTS_FREED)


def _samples(text: str) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every sample of a Prometheus text exposition: (name, labels, value), by prometheus_client's parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def _model_metrics(env) -> tuple[dict[str, int], dict[str, tuple[float, float]]]:
    """From one read of the apiserver's /metrics, its requests on BedrockImportedModels by verb and
    subresource (`apiserver_request_total`), and (seconds, requests) by the same: its own time, from arrival
    to answer (`apiserver_request_duration_seconds`). Long-running WATCHes are left out: their time is the
    watch's life."""
    wanted = (
        "apiserver_request_total",
        "apiserver_request_duration_seconds_sum",
        "apiserver_request_duration_seconds_count",
    )
    sums: dict[str, dict[str, float]] = {name: {} for name in wanted}
    for name, labels, value in _samples(_kubectl(env, "get", "--raw", "/metrics")):
        if name not in sums or labels.get("resource") != "bedrockimportedmodels":
            continue
        if labels.get("verb", "").startswith("WATCH"):
            continue
        key = f"{labels['verb']} {labels.get('subresource', '')}".strip()
        sums[name][key] = sums[name].get(key, 0.0) + value
    total, seconds, count = (sums[name] for name in wanted)
    return {k: int(v) for k, v in total.items()}, {k: (seconds[k], count.get(k, 0.0)) for k in seconds}


def _histograms(port: int, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """The operator's own histograms (its /metrics): each series' `sum`, `count` and cumulative buckets
    (by their bound), keyed by name and labels (`bmo_workqueue_queue_duration_seconds{queued_by="wake"}`).
    Read until the operator serves them (its start-up checks come first)."""
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    out: dict[str, dict[str, float]] = {}
    for sample, labels, value in _samples(text):
        name = next((n for n in names if sample.startswith(n + "_")), None)
        if name is None:
            continue
        part = sample[len(name) + 1 :]
        rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "le")
        key = f"{name}{{{rest}}}" if rest else name
        out.setdefault(key, {})[labels["le"] if part == "bucket" else part] = value
    return out


def _histogram_figures(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict:
    """Mean and share over half a second of each histogram, between two scrapes."""
    figures = {}
    for name, now in after.items():
        if "count" not in now:
            continue  # a counter
        then = before.get(name, {})
        n = now.get("count", 0.0) - then.get("count", 0.0)
        if not n:
            continue
        if "0.5" not in now:
            raise KeyError(f"{name} has no 0.5 s bucket: the bench reads the operator's buckets")
        under = now["0.5"] - then.get("0.5", 0.0)
        figures[name] = {
            "count": int(n),
            "mean_seconds": round((now.get("sum", 0.0) - then.get("sum", 0.0)) / n, 3),
            "share_over_0.5s": round(1 - under / n, 3),
        }
    return figures


def _slots_freed(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, int]:
    """Import slots freed between two scrapes, by what freed them (`bmo_import_slots_freed_total{by}`)."""
    out = {}
    for name, now in after.items():
        if name.startswith(SLOTS_FREED + "{") and "total" in now:
            by = name.split('by="', 1)[1].split('"', 1)[0]
            out[by] = int(now["total"] - before.get(name, {}).get("total", 0.0))
    return out


def _items(env, ns: str) -> list[dict]:
    return json.loads(_kubectl(env, "get", "bedrockmodels", "-n", ns, "-o", "json"))["items"]


def _stamp(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _slot_figures(jobs: list[dict], items: list[dict], slots: int = 1, trace: list | None = None) -> dict:
    """How long a slot stood idle while a model waited for it, and how long after a job ended its model
    turned Ready (the operator noticed the end). With n slots, the first n jobs fill them; after that each
    job takes the slot the earliest unmatched end freed. Only a job whose object already waited when that
    slot freed counts: kubectl applies 400 objects over tens of seconds, and a slot free before its model
    exists is not the operator's to fill."""
    jobs = sorted((j for j in jobs if j["jobName"].startswith("bench-")), key=lambda j: j["creationTime"])
    arrived = {
        (i.get("status") or {}).get("modelName"): _stamp(i["metadata"]["creationTimestamp"]) for i in items
    }
    ends = sorted((_stamp(j["endTime"]), j["jobName"]) for j in jobs if j.get("endTime"))
    later = [(_stamp(j["creationTime"]), arrived.get(j["importedModelName"], 0.0)) for j in jobs[slots:]]
    handovers = [
        (end, name, start)
        for (end, name), (start, came) in zip(ends, later, strict=False)
        if came <= end <= start
    ]
    gaps = [start - end for end, _, start in handovers]
    ended = {j["importedModelName"]: _stamp(j["endTime"]) for j in jobs if j.get("endTime")}
    noticed = []
    for item in items:
        status = item.get("status") or {}
        ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
        if ready and ready["status"] == "True" and status.get("modelName") in ended:
            noticed.append(_stamp(ready["lastTransitionTime"]) - ended[status["modelName"]])
    noticed.sort()

    def p95(values: list[float]) -> float | None:
        return round(values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)], 2) if values else None

    return {
        "slot_idle_max_seconds": round(max(gaps), 2) if gaps else None,
        "slot_idle_mean_seconds": round(sum(gaps) / len(gaps), 2) if gaps else None,
        "slot_idle_measured_handovers": len(gaps),
        "completion_noticed_p95_seconds": p95(noticed),
        "completion_noticed_note": "Ready's lastTransitionTime and creationTimestamp have whole seconds: "
        "up to 1 s is rounding",
        **(_handover_parts(handovers, trace) if trace is not None else {}),
    }


def _handover_parts(handovers: list[tuple[float, str, float]], trace: list) -> dict:
    """Where a measured handover's idle time went, from the local Bedrock's record of every call (wall
    times, milliseconds): from the job's end to the first listing of running jobs after it (the clock's
    refresh that can notice it), to the first read of that job by name (its object's pass), to the next
    job's create."""
    listings = sorted(t for t, op, _ in trace if op == "ListModelImportJobs")
    reads: dict[str, list[float]] = {}
    for t, op, named in trace:
        if op == "GetModelImportJob":
            reads.setdefault(named.rsplit("/", 1)[-1], []).append(t)
    listed, read, created = [], [], []
    for end, name, start in handovers:
        first_list = next((t for t in listings if t >= end), None)
        first_read = next((t for t in sorted(reads.get(name, [])) if t >= end), None)
        if first_list is None or first_read is None:
            continue
        listed.append(first_list - end)
        read.append(first_read - first_list)
        created.append(start - first_read)
    gaps = [b - a for a, b in itertools.pairwise(listings) if b - a < 5]

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    return {
        "handover_mean_end_to_listing_seconds": mean(listed),
        "handover_mean_listing_to_pass_read_seconds": mean(read),
        "handover_mean_pass_read_to_next_create_seconds": mean(created),
        "handovers_traced": len(listed),
        "running_jobs_listing_interval_mean_seconds": mean(gaps),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--job-seconds", type=float, default=5.0)
    ap.add_argument("--slots", type=int, default=0)
    ap.add_argument("--resync", type=float, default=20.0, help="operator resync period (s)")
    ap.add_argument("--resync-periods", type=int, default=2, help="steady-state periods to measure")
    ap.add_argument("--poll", type=float, default=10.0, help="operator poll period (s); production: 10")
    ap.add_argument("--job-poll", type=float, help="poll of running import jobs (s); default: the operator's")
    ap.add_argument(
        "--rate-limits",
        default="default=1000",
        help="BMO_BEDROCK_RATE_LIMITS for the run (the emulator does not throttle; the shipped limits would "
        "make 1,000 creates take 1,000 s, which measures the limiter, not the operator)",
    )
    ap.add_argument(
        "--restart",
        action="store_true",
        help="then restart the operator with the shipped rate limits and count its Bedrock calls for 60 s",
    )
    ap.add_argument(
        "--inline-validations",
        type=int,
        default=1,
        help="BMO_INLINE_VALIDATIONS: Inline validations at once (the operator's default: 1)",
    )
    ap.add_argument(
        "--validation",
        choices=["Inline", "Skip"],
        help="spec.validation.mode of every model (default: the operator's, Inline here); Skip measures "
        "the import queue alone, its slots saturated",
    )
    ap.add_argument("--workers", type=int, default=20, help="BMO_MAX_WORKERS (the shipped default: 20)")
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args(argv)
    slots = args.slots or args.models
    ns = "bench"

    with (
        tempfile.TemporaryDirectory() as tmp,
        ControlPlane() as cp,
        LocalAws(
            job_duration=args.job_seconds,
            model_quota=args.models + 10,
            workdir=Path(tmp) / "aws",
            extra_emulator_args=["--concurrent-jobs", str(slots), "--trace"],
        ) as aws,
    ):
        role = aws.create_role()
        metrics_port = free_port(19191)
        # under the bucket the example role may read (the local Bedrock evaluates its policies)
        uri = aws.upload_model("bmo-examples", "bench/llama3/", ModelSpec(kind="llama3", shards=2))
        env = {
            **cp.env(),
            **aws.env(),
            "BMO_POLL_SECONDS": str(args.poll),
            **({"BMO_JOB_POLL_SECONDS": str(args.job_poll)} if args.job_poll else {}),
            "BMO_BEDROCK_RATE_LIMITS": args.rate_limits,
            "BMO_RESYNC_SECONDS": str(args.resync),
            "BMO_MAX_WORKERS": str(args.workers),
            "BMO_INLINE_VALIDATIONS": str(args.inline_validations),
            "BMO_IMPORT_SLOTS_PER_REGION": str(slots),
            "BMO_IMPORT_POLICY_DEFAULT": "open",  # no BedrockImportPolicy in the bench cluster
            "BMO_METRICS_PORT": str(metrics_port),
            "BMO_METRICS_ADDRESS": "127.0.0.1",
        }
        for crd_file in CRD_FILES:  # the models and the policies (the operator watches both)
            _kubectl(env, "apply", "-f", str(crd_file))
        _kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        _kubectl(env, "create", "namespace", ns)
        with open(Path(tmp) / "operator.log", "w") as log:
            op = start_operator(env, log)
        try:
            time.sleep(3)  # operator start-up (login, CRD discovery), not part of the measure
            docs = [
                {
                    "apiVersion": "bedrock.modelops.io/v1alpha1",
                    "kind": "BedrockImportedModel",
                    "metadata": {"name": f"m{i:04d}", "namespace": ns},
                    "spec": {
                        "source": {"s3Uri": uri},
                        "serviceRole": {"roleArn": role},
                        "region": "us-east-1",
                        "tags": {"bench": "control-loop"},
                        **({"validation": {"mode": args.validation}} if args.validation else {}),
                    },
                }
                for i in range(args.models)
            ]
            before = aws.state()["calls"]
            cpu0, (requests0, latency0) = _cpu_by_process(op.pid, cp, aws), _model_metrics(env)
            passes0 = _histograms(metrics_port, OPERATOR_SERIES)
            t0 = time.monotonic()
            _kubectl(env, "apply", "-f", "-", input=yaml.safe_dump_all(docs))
            applied = time.monotonic() - t0
            ready = failed = 0
            while time.monotonic() - t0 < args.timeout:
                ready, failed = _ready_count(env, ns)
                print(
                    f"  {time.monotonic() - t0:6.1f}s: {ready} Ready, {failed} Failed",
                    file=sys.stderr,
                    flush=True,
                )
                if ready + failed >= args.models:
                    break
                time.sleep(1)
            total = time.monotonic() - t0
            cpu = {k: round(v - cpu0.get(k, 0.0), 1) for k, v in _cpu_by_process(op.pid, cp, aws).items()}
            requests_now, latency_now = _model_metrics(env)
            requests = {k: v - requests0.get(k, 0) for k, v in requests_now.items()}
            passes1 = _histograms(metrics_port, OPERATOR_SERIES)
            passes, freed = _histogram_figures(passes0, passes1), _slots_freed(passes0, passes1)
            latency = {}
            for verb, (sec, n) in latency_now.items():
                sec0, n0 = latency0.get(verb, (0.0, 0.0))
                if n > n0:
                    latency[verb] = round(1000 * (sec - sec0) / (n - n0), 1)
            after = aws.state()["calls"]
            create_calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            time.sleep(args.resync)  # let every model pass its first resync after Ready
            steady_before, cpu_before = aws.state()["calls"], _cpu_seconds(op.pid)
            time.sleep(args.resync * args.resync_periods)
            steady_after, steady_cpu = aws.state()["calls"], _cpu_seconds(op.pid) - cpu_before
            steady = {k: steady_after.get(k, 0) - steady_before.get(k, 0) for k in steady_after}
            rss = _rss_kb(op.pid)
            slot = _slot_figures(aws.state()["jobs"], _items(env, ns), slots, aws.admin("/_emulator/trace"))
            if ready < args.models:
                print(Path(tmp, "operator.log").read_text()[-4000:], file=sys.stderr)
                print(json.dumps(aws.state()["errors"]), file=sys.stderr)
            restart = None
            if args.restart:  # a restart or a failover of a settled fleet, with the shipped rate limits
                op.terminate()
                op.wait(timeout=30)
                shipped = {k: v for k, v in env.items() if k != "BMO_BEDROCK_RATE_LIMITS"}
                before = aws.state()["calls"]
                with open(Path(tmp) / "operator-restarted.log", "w") as log:
                    op = start_operator(shipped, log)
                time.sleep(60)
                after = aws.state()["calls"]
                restart = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        finally:
            op.terminate()
            op.wait(timeout=30)

    fixed = math.ceil(args.models / slots) * args.job_seconds
    result = {
        "models": args.models,
        "ready": ready,
        "failed": failed,
        "job_seconds": args.job_seconds,
        "slots_per_region": slots,
        "apply_seconds": round(applied, 2),
        "time_to_all_ready_seconds": round(total, 1),
        "fixed_job_time_seconds": fixed,
        "overhead_seconds": round(total - fixed, 1),
        "bedrock_calls_to_ready_per_model": round(sum(create_calls.values()) / args.models, 2),
        "bedrock_calls_to_ready_by_operation": create_calls,
        "cpu_seconds_to_ready_by_process": cpu,
        "model_api_requests_to_ready": requests,
        "model_api_mean_ms_to_ready": latency,
        "operator_passes_to_ready": passes,
        "import_slots_freed_to_ready": freed,
        "steady_calls_per_model_per_resync": round(
            sum(steady.values()) / args.models / args.resync_periods, 4
        ),
        "steady_cpu_seconds_per_resync": round(steady_cpu / args.resync_periods, 2),
        "steady_calls_by_operation": steady,
        "operator_peak_rss_mib": round(rss.get("VmHWM", 0) / 1024, 1),
        "operator_rss_steady_mib": round(rss.get("VmRSS", 0) / 1024, 1),
        **slot,
        "goal_all_ready_seconds (issue 16: jobs + 20 s)": fixed + 20 if slots == 1 else None,
        "restart_bedrock_calls_first_60s": restart,
        "inline_validations": args.inline_validations,
        "validation": args.validation or "default",
        "resync_seconds": args.resync,
        "poll_seconds": args.poll,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if ready == args.models else 1


if __name__ == "__main__":
    sys.exit(main())
