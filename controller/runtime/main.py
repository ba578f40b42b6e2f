"""`bedrock-model-operator run`: start the operator (kopf) with settings from env and flags."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Literal

from controller.runtime.preflight import PreflightError, first_line
from controller.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the operator against the current kubeconfig / in-cluster config",
        description="Run the operator: watch BedrockImportedModels and reconcile them with Amazon Bedrock. "
        "Kubernetes credentials come from the pod's ServiceAccount or the current kubeconfig context; AWS "
        "credentials from boto3's usual chain (environment, profile, IRSA / Pod Identity, instance role).",
        epilog="Every flag can be set by its environment variable instead (a flag wins). "
        "`bedrock-model-operator settings` prints them all as a table.",
    )
    for name, field in Settings.model_fields.items():
        default = Settings.default_text(name)
        help_text = f"{field.description} (env {Settings.env_name(name)}; default: {default})"
        kwargs: dict = {"dest": name, "default": None, "help": help_text}
        annotation = field.annotation
        if name == "namespaces":
            kwargs.update(action="append", metavar="NAMESPACE")
            kwargs["help"] = f"watch only this namespace (repeatable; env {Settings.env_name(name)}, "
            kwargs["help"] += "comma-separated; default: all)"
        elif getattr(annotation, "__origin__", None) is Literal:
            kwargs["choices"] = annotation.__args__
        elif annotation in (int, float):
            kwargs["type"] = annotation
            kwargs["metavar"] = "SECONDS" if name.endswith("_seconds") else "N"
        else:
            kwargs["metavar"] = "URL" if name == "liveness" else "VALUE"
        p.add_argument(Settings.flag_name(name), **kwargs)
    p.add_argument("--verbose", action="store_true", help="log at DEBUG, kopf's own lines included")
    p.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings, or one line naming each variable that is wrong and why (no traceback)."""
    from pydantic import ValidationError

    try:
        return Settings.from_env(**{name: getattr(args, name, None) for name in Settings.model_fields})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field, *inside = (str(part) for part in error["loc"])
            name = Settings.env_name(field) if field in Settings.model_fields else field
            where = f" (at {'.'.join(inside)})" if inside else ""
            problems.append(f"{name}{where}: {error['msg'].removeprefix('Value error, ')}")
        raise SystemExit("invalid setting: " + "; ".join(problems)) from None


def cluster_id(settings: Settings) -> str:
    """The cluster's own identity: the kube-system namespace's uid (unique per cluster, stable for its
    life, readable with a one-object RBAC grant). Two clusters sharing one AWS account must never look
    like one, so there is no constant default."""
    if settings.cluster_id:
        return settings.cluster_id
    from controller.kube.client import raw

    try:
        status, body = raw(settings, "GET", "/api/v1/namespaces/kube-system")
    except Exception as exc:  # unreachable apiserver, TLS, DNS: say it in one line
        raise PreflightError(f"cannot reach the Kubernetes API ({first_line(exc)})") from None
    if status != 200:
        raise PreflightError(
            f"cannot read namespace kube-system to identify the cluster "
            f"(HTTP {status}); grant `get` on it or set BMO_CLUSTER_ID to a unique id"
        )
    return body["metadata"]["uid"]


def run(args: argparse.Namespace) -> int:
    from controller import logs, metrics
    from controller.runtime import preflight

    settings = settings_from(args)
    logs.setup(settings.log_format, args.verbose)
    preflight.kubernetes_config(settings)
    preflight.aws_credentials()
    warning = preflight.bedrock_reachable(settings)
    if warning:
        print(warning, file=sys.stderr)
    settings = settings.model_copy(update={"cluster_id": cluster_id(settings)})
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_address)

    import kopf

    from controller.runtime.operator import Operator

    operator = Operator(settings)
    print(
        f"bedrock-model-operator: cluster id {settings.cluster_id}"
        + (f" ({settings.cluster_name})" if settings.cluster_name else ""),
        file=sys.stderr,
    )
    leadership = _lead(settings) if settings.leader_election else None
    asyncio.run(
        kopf.operator(
            registry=operator.registry(),
            standalone=True,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            liveness_endpoint=settings.liveness or None,
        )
    )
    if leadership is not None:  # a clean stop (SIGTERM): no pass runs any more, then hand over at once
        operator.executor.shutdown(wait=True, cancel_futures=True)  # queued wakes are not started
        leadership.release()
    return 0


def _lead(settings: Settings):
    """Wait until this replica holds the Lease (answering the liveness URL meanwhile), then hand over to
    kopf. A leader that stops renewing exits at once (exit 1, the pod restarts as a standby): a crash is
    what the operator is built to survive (status and Bedrock hold the truth), and it stops every pass
    before a standby may take the Lease."""
    import logging
    import os

    from controller.runtime.leadership import Leadership, StandbyHealth

    logging.getLogger("leaderelection").setLevel(logging.WARNING)  # its every retry is an INFO line
    leadership = Leadership(settings)
    standby = StandbyHealth(settings.liveness) if settings.liveness else None
    leadership.start()
    print(
        f"bedrock-model-operator: standing by as {leadership.me} until it holds Lease "
        f"{leadership.namespace}/{leadership.name}",
        file=sys.stderr,
    )
    while not leadership.leading.wait(1):
        if leadership.lost.is_set():
            raise SystemExit("bedrock-model-operator: the leader election stopped before it led; see the log")
    if standby is not None:
        standby.close()
    print(f"bedrock-model-operator: leading as {leadership.me}", file=sys.stderr)

    def lost() -> None:
        print(
            f"bedrock-model-operator: Lease {leadership.namespace}/{leadership.name} not renewed within "
            f"{leadership.deadline}s; exiting so that a standby takes over",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)

    leadership.watchdog(lost)
    return leadership
