"""`bedrock-model-operator emulator`: run the local Bedrock model-import API until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from bmo_devtools.emulator.accounts import Accounts
from bmo_devtools.emulator.artifact_check import S3ArtifactCheck
from bmo_devtools.emulator.server import EmulatorServer
from bmo_devtools.emulator.state import BedrockState
from controller.cli.help_format import DefaultsHelpFormatter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "emulator",
        formatter_class=DefaultsHelpFormatter,
        help="run a local Bedrock model-import API (for the dev stack and tests)",
        description="Serve Bedrock's model-import API (jobs, imported models, tags) on a local port, "
        "checking artifacts in S3 (e.g. moto). Unmodified boto3 and the AWS CLI work against it with "
        "--endpoint-url.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=0, help="0: pick a free port (printed on start)")
    p.add_argument("--s3-endpoint", help="S3 endpoint the emulator reads artifacts from (e.g. moto)")
    p.add_argument("--iam-endpoint", help="IAM endpoint used to check that the role exists (optional)")
    p.add_argument("--account", default="123456789012", help="AWS account id in the ARNs it makes")
    p.add_argument("--job-duration", type=float, default=5.0, help="seconds a job stays InProgress")
    p.add_argument("--model-quota", type=int, default=3, help="imported models per region")
    p.add_argument("--concurrent-jobs", type=int, default=1, help="import jobs per region at a time")
    p.add_argument(
        "--throttle-rate", type=float, default=0.0, help="share of requests answered ThrottlingException"
    )
    p.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered InternalServerException"
    )
    p.add_argument("--latency-ms", type=int, default=0, help="delay added to every request")
    p.add_argument(
        "--visibility-delay",
        type=float,
        default=0.0,
        help="seconds a new job, and a new model after its job ends, answer NotFound (Bedrock is eventually "
        "consistent)",
    )
    p.add_argument("--seed", type=int, help="seed for fault injection (repeatable runs)")
    p.add_argument(
        "--trace", action="store_true", help="record every call's time and name (GET /_emulator/trace)"
    )
    p.set_defaults(func=run)


def build(args: argparse.Namespace) -> EmulatorServer:
    state = BedrockState(
        S3ArtifactCheck(args.s3_endpoint, args.iam_endpoint), account=args.account, seed=args.seed
    )
    state.set_faults(
        {
            "job_duration_seconds": args.job_duration,
            "imported_model_quota": args.model_quota,
            "concurrent_jobs": args.concurrent_jobs,
            "throttle_rate": args.throttle_rate,
            "error_rate": args.error_rate,
            "latency_ms": args.latency_ms,
            "job_visibility_delay_seconds": args.visibility_delay,
            "model_visibility_delay_seconds": args.visibility_delay,
        }
    )
    accounts = Accounts(
        state,
        lambda key: S3ArtifactCheck(args.s3_endpoint, args.iam_endpoint, access_key=key),
        sts_endpoint=args.iam_endpoint,  # moto serves STS on the same endpoint
    )
    server = EmulatorServer((args.host, args.port), state, accounts)
    server.trace = [] if getattr(args, "trace", False) else None
    return server


def run(args: argparse.Namespace) -> int:
    server = build(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start_background()
    print(f"Bedrock emulator listening on {server.url}", flush=True)
    stop.wait()
    server.shutdown()
    server.state.close()
    return 0


if __name__ == "__main__":
    sys.exit(run(argparse.ArgumentParser().parse_args()))
