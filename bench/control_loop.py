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
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmo_devtools.dev.aws import LocalAws
from bmo_devtools.dev.controlplane import CRD_FILE, ControlPlane
from bmo_devtools.dev.model_factory import ModelSpec
from bmo_devtools.dev.stack import start_operator


def _kubectl(env, *args, input=None):
    proc = subprocess.run(["kubectl", *args], env=env, input=input, text=True, capture_output=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return proc.stdout


def _ready_count(env, ns: str) -> tuple[int, int]:
    items = json.loads(_kubectl(env, "get", "bedrockmodels", "-n", ns, "-o", "json"))["items"]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--job-seconds", type=float, default=5.0)
    ap.add_argument("--slots", type=int, default=0)
    ap.add_argument("--resync", type=float, default=20.0, help="operator resync period (s)")
    ap.add_argument("--resync-periods", type=int, default=2, help="steady-state periods to measure")
    ap.add_argument("--poll", type=float, default=2.0, help="operator poll period (s)")
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
            extra_emulator_args=["--concurrent-jobs", str(slots)],
        ) as aws,
    ):
        role = aws.create_role()
        uri = aws.upload_model("bench-models", "llama3/", ModelSpec(kind="llama3", shards=2))
        env = {
            **cp.env(),
            **aws.env(),
            "BMO_POLL_SECONDS": str(args.poll),
            "BMO_RESYNC_SECONDS": str(args.resync),
            "BMO_MAX_WORKERS": "20",
            "BMO_IMPORT_SLOTS_PER_REGION": str(slots),
        }
        _kubectl(env, "apply", "-f", str(CRD_FILE))
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
                    },
                }
                for i in range(args.models)
            ]
            before = aws.state()["calls"]
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
            after = aws.state()["calls"]
            create_calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            time.sleep(args.resync)  # let every model pass its first resync after Ready
            steady_before = aws.state()["calls"]
            time.sleep(args.resync * args.resync_periods)
            steady_after = aws.state()["calls"]
            steady = {k: steady_after.get(k, 0) - steady_before.get(k, 0) for k in steady_after}
            rss = _rss_kb(op.pid)
            if ready < args.models:
                print(Path(tmp, "operator.log").read_text()[-4000:], file=sys.stderr)
                print(json.dumps(aws.state()["errors"]), file=sys.stderr)
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
        "steady_calls_per_model_per_resync": round(
            sum(steady.values()) / args.models / args.resync_periods, 2
        ),
        "steady_calls_by_operation": steady,
        "operator_peak_rss_mib": round(rss.get("VmHWM", 0) / 1024, 1),
        "resync_seconds": args.resync,
        "poll_seconds": args.poll,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if ready == args.models else 1


if __name__ == "__main__":
    sys.exit(main())
