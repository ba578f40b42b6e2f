"""Checks `run` makes before starting: what a user got wrong is said in one line (exit status 1), instead
of a page of tracebacks from deep inside a client library."""

from __future__ import annotations

import os
import time

from controller.settings import Settings

PREFIX = "bedrock-model-operator:"


class PreflightError(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"{PREFIX} {message}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def kubernetes_config(settings: Settings) -> None:
    """In a pod, its ServiceAccount; elsewhere a kubeconfig that loads."""
    import yaml
    from kubernetes.config import ConfigException

    from controller.kube.client import api_client

    try:
        api_client(settings)
    except (ConfigException, OSError, yaml.YAMLError, TypeError, ValueError, KeyError) as exc:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise PreflightError(
            f"no usable Kubernetes credentials: not running in a pod, and the kubeconfig {where} does not "
            f"load ({first_line(exc)}); set KUBECONFIG to a valid file"
        ) from None


def aws_credentials() -> None:
    """boto3's credential chain finds something (it is not checked against AWS here)."""
    from controller.aws.session import default_session

    if default_session().get_credentials() is None:
        raise PreflightError(
            "no AWS credentials found (environment variables, shared config or profile, web identity / "
            "IRSA / Pod Identity, container or instance role); the operator needs them to call Bedrock"
        )


def bedrock_reachable(settings: Settings) -> str | None:
    """One cheap call to Bedrock: an endpoint that does not answer three times over a few seconds stops the
    start; any answer, even a refusal, lets it go on (returned as a warning: each object will show its own
    condition)."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

    from controller.aws.session import default_session

    client = default_session().client(
        "bedrock",
        region_name=settings.region,
        config=Config(connect_timeout=5, read_timeout=15, retries={"total_max_attempts": 2}),
    )
    for attempt in range(3):  # a network blip at start is not a reason to crash-loop
        try:
            client.list_imported_models(maxResults=1)
            return None
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            unreachable = exc
            if attempt < 2:
                time.sleep(2)
        except (ClientError, BotoCoreError) as exc:
            return f"{PREFIX} warning: Bedrock answered the start-up check with {first_line(exc)}"
    raise PreflightError(
        f"cannot reach Bedrock at {client.meta.endpoint_url} ({first_line(unreachable)}); check the "
        "network, the region (BMO_REGION) or AWS_ENDPOINT_URL_BEDROCK"
    )
