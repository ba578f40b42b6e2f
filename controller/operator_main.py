"""`bedrock-model-operator run`: start the operator (kopf) with settings from env and flags."""

from __future__ import annotations

import argparse
import asyncio
import os


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the operator against the current kubeconfig / in-cluster config")
    p.add_argument("--namespace", action="append", default=[], help="watch only this namespace (repeatable)")
    p.add_argument("--region", help="default AWS region (env BMO_REGION)")
    p.add_argument(
        "--resync-seconds", type=float, help="drift check period for Ready models (env BMO_RESYNC_SECONDS)"
    )
    p.add_argument(
        "--poll-seconds", type=float, help="how often in-flight imports are checked (env BMO_POLL_SECONDS)"
    )
    p.add_argument("--max-workers", type=int, help="reconciles at once (env BMO_MAX_WORKERS)")
    p.add_argument("--cluster-name", help="cluster name in ownership tags (env BMO_CLUSTER_NAME)")
    p.add_argument("--bedrock-endpoint-url", help="Bedrock endpoint, e.g. the local emulator")
    p.add_argument(
        "--liveness",
        default=os.environ.get("BMO_LIVENESS", ""),
        help="serve kopf's liveness probe here, e.g. http://0.0.0.0:8080/healthz",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("BMO_METRICS_PORT", "0") or 0),
        help="serve Prometheus metrics on this port (0: off; env BMO_METRICS_PORT)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("BMO_LOG_FORMAT", "text"),
        help="json: one JSON object per line (env BMO_LOG_FORMAT)",
    )
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Flags become the environment Settings.from_env() reads, before the handlers module imports.
    for flag, env in (
        ("region", "BMO_REGION"),
        ("resync_seconds", "BMO_RESYNC_SECONDS"),
        ("poll_seconds", "BMO_POLL_SECONDS"),
        ("max_workers", "BMO_MAX_WORKERS"),
        ("cluster_name", "BMO_CLUSTER_NAME"),
        ("bedrock_endpoint_url", "BMO_BEDROCK_ENDPOINT_URL"),
    ):
        value = getattr(args, flag)
        if value is not None:
            os.environ[env] = str(value)
    if args.namespace:
        os.environ["BMO_NAMESPACES"] = ",".join(args.namespace)
    from controller import logs, metrics

    logs.setup(args.log_format, args.verbose)
    if args.metrics_port:
        metrics.serve(args.metrics_port)

    import kopf

    from controller import handlers  # registers the handlers

    namespaces = handlers.settings.namespaces
    asyncio.run(
        kopf.operator(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=args.liveness or None,
        )
    )
    return 0
