"""A hundred tenant accounts beside one account, measured in one run.

Two fleets of the same shape, each on a fresh control plane, moto and local Bedrock, one after the other:

  - one account: N namespaces x M models, every model in the operator's own account;
  - tenant accounts: the same N namespaces, each selected by a BedrockImportPolicy that names its own
    account (`account.roleArn`): the operator assumes one role per namespace and keeps, per account, its
    AssumeRole session, clients, limiter and import queue. The local Bedrock keeps an account per access
    key, so each tenant's models, jobs and quota are its own.

For each: time until every model is Ready, the operator's RSS (peak and steady), its CPU per resync period,
and Bedrock and STS calls per model per resync period in steady state (Bedrock calls counted by the local
Bedrock in every account; STS calls by the operator's own metrics).

    uv run python bench/tenants.py [--namespaces 100] [--models 10] [--resync 30] [--resync-periods 2]

Validation is `Skip` (a policy may allow it): what is measured is the control loop per account, not the
inline validator, which takes one model at a time (bench/control_loop.py measures it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from control_loop import _cpu_seconds, _kubectl, _ready_count, _rss_kb

from bmo_devtools.dev.aws import BEDROCK_TRUST, LocalAws
from bmo_devtools.dev.controlplane import CRD_FILES, ControlPlane, free_port
from bmo_devtools.dev.model_factory import ModelSpec
from bmo_devtools.dev.stack import start_operator

FIRST_TENANT_ACCOUNT = 300_000_000_000
ROLE = "BedrockModelImport"


def _account(i: int) -> str:
    return str(FIRST_TENANT_ACCOUNT + i)


def _read_policy(bucket: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }


def _tenant_role(aws: LocalAws, account: str, bucket: str) -> str:
    """The import role a tenant brings, in its own account (the local Bedrock reads the folder with it)."""
    iam = aws.account_client("iam", account)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(BEDROCK_TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="read", PolicyDocument=json.dumps(_read_policy(bucket)))
    return f"arn:aws:iam::{account}:role/{ROLE}"


def _bedrock_calls(state: dict) -> int:
    """Every Bedrock call the local Bedrock answered, in every account."""
    total = sum(state.get("calls", {}).values())
    for account in (state.get("accounts") or {}).values():
        total += sum(account.get("calls", {}).values())
    return total


def _sts_calls(metrics_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("bmo_aws_api_calls_total{") and 'service="sts"' in line
    )


def run_fleet(args: argparse.Namespace, tenants: bool) -> dict:
    total = args.namespaces * args.models
    with (
        tempfile.TemporaryDirectory() as tmp,
        ControlPlane() as cp,
        LocalAws(
            job_duration=args.job_seconds,
            model_quota=total + 10,
            workdir=Path(tmp) / "aws",
            extra_emulator_args=["--concurrent-jobs", str(total)],
        ) as aws,
    ):
        uri = aws.upload_model("bmo-examples", "bench/llama3/", ModelSpec(kind="llama3"))
        metrics_port = free_port()
        env = {
            **cp.env(),
            **aws.env(),
            "BMO_POLL_SECONDS": "10",
            "BMO_BEDROCK_RATE_LIMITS": "default=1000",
            "BMO_RESYNC_SECONDS": str(args.resync),
            "BMO_MAX_WORKERS": "20",
            "BMO_IMPORT_SLOTS_PER_REGION": str(total),
            "BMO_IMPORT_POLICY_DEFAULT": "restricted",
            "BMO_METRICS_PORT": str(metrics_port),
            "BMO_METRICS_ADDRESS": "127.0.0.1",
            "BMO_CLUSTER_NAME": "bench",
        }
        for crd_file in CRD_FILES:
            _kubectl(env, "apply", "-f", str(crd_file))
        _kubectl(env, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        own_role = aws.create_role()
        docs: list[dict] = []
        for n in range(args.namespaces):
            ns = f"t{n:03d}"
            account = _account(n) if tenants else None
            role = _tenant_role(aws, account, "bmo-examples") if account else own_role
            docs.append(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"tenant": ns}}}
            )
            docs.append(
                {
                    "apiVersion": "bedrock.modelops.io/v1alpha1",
                    "kind": "BedrockImportPolicy",
                    "metadata": {"name": f"tenant-{ns}"},
                    "spec": {
                        "namespaceSelector": {"matchLabels": {"tenant": ns}},
                        "sources": {"s3Prefixes": ["s3://bmo-examples/bench/"]},
                        "serviceRoles": {"roleArns": [role]},
                        "validationModes": ["Skip"],
                        **(
                            {"account": {"roleArn": f"arn:aws:iam::{account}:role/bmo-tenant-access"}}
                            if account
                            else {}
                        ),
                    },
                }
            )
        _kubectl(env, "apply", "-f", "-", input=yaml.safe_dump_all(docs))
        models = [
            {
                "apiVersion": "bedrock.modelops.io/v1alpha1",
                "kind": "BedrockImportedModel",
                "metadata": {"name": f"m{i:02d}", "namespace": f"t{n:03d}"},
                "spec": {
                    "source": {"s3Uri": uri},
                    "serviceRole": {
                        "roleArn": f"arn:aws:iam::{_account(n)}:role/{ROLE}" if tenants else own_role
                    },
                    "region": "us-east-1",
                    "validation": {"mode": "Skip"},
                },
            }
            for n in range(args.namespaces)
            for i in range(args.models)
        ]
        with open(Path(tmp) / "operator.log", "w") as log:
            op = start_operator(env, log)
        try:
            time.sleep(3)  # start-up (login, CRD discovery), not part of the measure
            before_calls = _bedrock_calls(aws.state())
            t0 = time.monotonic()
            _kubectl(env, "apply", "-f", "-", input=yaml.safe_dump_all(models))
            ready = failed = 0
            while time.monotonic() - t0 < args.timeout:
                ready, failed = _ready_count(env, None)
                print(f"  {time.monotonic() - t0:6.1f}s: {ready} Ready, {failed} Failed", file=sys.stderr)
                if ready + failed >= total:
                    break
                time.sleep(2)
            to_ready = time.monotonic() - t0
            calls_to_ready = _bedrock_calls(aws.state()) - before_calls
            sts_to_ready = _sts_calls(metrics_port)
            time.sleep(args.resync)  # every model past its first resync after Ready
            calls0, sts0, cpu0 = _bedrock_calls(aws.state()), _sts_calls(metrics_port), _cpu_seconds(op.pid)
            time.sleep(args.resync * args.resync_periods)
            calls1, sts1, cpu1 = _bedrock_calls(aws.state()), _sts_calls(metrics_port), _cpu_seconds(op.pid)
            rss = _rss_kb(op.pid)
            if ready < total:
                print(Path(tmp, "operator.log").read_text()[-4000:], file=sys.stderr)
        finally:
            op.terminate()
            op.wait(timeout=30)
    periods = args.resync_periods
    return {
        "fleet": f"{args.namespaces} tenant accounts" if tenants else "one account",
        "namespaces": args.namespaces,
        "models": total,
        "ready": ready,
        "failed": failed,
        "time_to_all_ready_seconds": round(to_ready, 1),
        "bedrock_calls_to_ready_per_model": round(calls_to_ready / total, 2),
        "sts_calls_to_ready": sts_to_ready,
        "steady_bedrock_calls_per_model_per_resync": round((calls1 - calls0) / total / periods, 4),
        "steady_sts_calls_per_resync": round((sts1 - sts0) / periods, 2),
        "steady_cpu_seconds_per_resync": round((cpu1 - cpu0) / periods, 2),
        "operator_peak_rss_mib": round(rss.get("VmHWM", 0) / 1024, 1),
        "operator_rss_steady_mib": round(rss.get("VmRSS", 0) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--models", type=int, default=10, help="models per namespace")
    ap.add_argument("--job-seconds", type=float, default=5.0)
    ap.add_argument("--resync", type=float, default=30.0)
    ap.add_argument("--resync-periods", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    results = [run_fleet(args, tenants=False), run_fleet(args, tenants=True)]
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ready"] == r["models"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
