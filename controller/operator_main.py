"""`bedrock-model-operator run`: start the operator (kopf) with settings from env and flags."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from controller.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the operator against the current kubeconfig / in-cluster config")
    p.add_argument(
        "--namespace", action="append", default=None, help="watch only this namespace (repeatable)"
    )
    p.add_argument("--region", help="default AWS region (env BMO_REGION)")
    p.add_argument(
        "--resync-seconds", type=float, help="drift check period for Ready models (env BMO_RESYNC_SECONDS)"
    )
    p.add_argument(
        "--poll-seconds", type=float, help="how often in-flight imports are checked (env BMO_POLL_SECONDS)"
    )
    p.add_argument("--max-workers", type=int, help="reconciles at once (env BMO_MAX_WORKERS)")
    p.add_argument("--cluster-name", help="readable cluster name in ownership tags (env BMO_CLUSTER_NAME)")
    p.add_argument(
        "--cluster-id",
        help="unique cluster identity in ownership tags (env BMO_CLUSTER_ID; default: the kube-system "
        "namespace's uid)",
    )
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


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        region=args.region,
        resync_seconds=args.resync_seconds,
        poll_seconds=args.poll_seconds,
        max_workers=args.max_workers,
        cluster_name=args.cluster_name,
        cluster_id=args.cluster_id,
        bedrock_endpoint=args.bedrock_endpoint_url,
        namespaces=args.namespace,
    )


def cluster_id(settings: Settings) -> str:
    """The cluster's own identity: the kube-system namespace's uid (unique per cluster, stable for its
    life, readable with a one-object RBAC grant). Two clusters sharing one AWS account must never look
    like one, so there is no constant default."""
    if settings.cluster_id:
        return settings.cluster_id
    from controller.kube import api_client

    # A raw GET: building the client's CoreV1Api (pydantic validators for every core endpoint) would add
    # some 90 MB to the operator's memory for this one field.
    api = api_client(settings)
    request = api.param_serialize(
        method="GET", resource_path="/api/v1/namespaces/kube-system", auth_settings=["BearerToken"]
    )
    try:
        response = api.call_api(*request)
        response.read()
        status, body = response.status, response.data
    except Exception as exc:  # unreachable apiserver, TLS, DNS: say it in one line
        raise SystemExit(f"bedrock-model-operator: cannot reach the Kubernetes API ({exc})") from None
    if status != 200:
        raise SystemExit(
            f"bedrock-model-operator: cannot read namespace kube-system to identify the cluster "
            f"(HTTP {status}); grant `get` on it or set BMO_CLUSTER_ID to a unique id"
        )
    return json.loads(body)["metadata"]["uid"]


def run(args: argparse.Namespace) -> int:
    from controller import logs, metrics

    settings = settings_from(args)
    logs.setup(args.log_format, args.verbose)
    settings = settings.model_copy(update={"cluster_id": cluster_id(settings)})
    if args.metrics_port:
        metrics.serve(args.metrics_port)

    import kopf

    from controller.handlers import Operator

    operator = Operator(settings)
    print(
        f"bedrock-model-operator: cluster id {settings.cluster_id}"
        + (f" ({settings.cluster_name})" if settings.cluster_name else ""),
        file=sys.stderr,
    )
    asyncio.run(
        kopf.operator(
            registry=operator.registry(),
            standalone=True,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            liveness_endpoint=args.liveness or None,
        )
    )
    return 0
