"""The operator as a real process (`bedrock-model-operator run`), startable, killable with -9, restartable."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bmo_devtools.dev.aws import LocalAws
from bmo_devtools.dev.controlplane import ControlPlane
from bmo_devtools.dev.stack import start_operator, stop_operator

#: The validation Jobs' image and pod template (conftest's `operator` fixture: the image built from the
#: Dockerfile, host network and the emulators' credentials), for every operator a test starts.
VALIDATION_ENV: dict[str, str] = {}

#: A fake secret with a shape we can search for: it must never show up in a log, Event or status.
CANARY_SECRET = "bmoCanarySecretKey0123456789abcdefDONOTLOG"


class OperatorProcess:
    def __init__(
        self,
        cp: ControlPlane,
        aws: LocalAws,
        workdir: Path,
        *args: str,
        kubeconfig: Path | None = None,
        **env: str,
    ) -> None:
        self.cp, self.aws, self.workdir = cp, aws, workdir
        self.args = list(args)
        self.kubeconfig = kubeconfig
        self.log = workdir / "operator.log"
        self.extra_env = env
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def env(self) -> dict[str, str]:
        return {
            **self.cp.env(),
            **self.aws.env(),
            "AWS_SECRET_ACCESS_KEY": CANARY_SECRET,
            # jobs here take 1-6 s, not Bedrock's 5-30 minutes: the poll of running work is scaled down with
            # them (production: 10 s). Edits, annotations and deletions act on events, never on this tick:
            # test_events_act_without_a_tick proves it with a tick that never comes.
            "BMO_POLL_SECONDS": "2",
            # the production default: annotations and edits must act at once, not at the next resync
            "BMO_RESYNC_SECONDS": "300",
            # Bedrock's eventual consistency, shortened: a deleted model is looked at again after this
            "BMO_MODEL_MISSING_GRACE_SECONDS": "8",
            "BMO_BACKOFF_BASE_SECONDS": "0.5",
            "BMO_BACKOFF_CAP_SECONDS": "4",
            "BMO_CLUSTER_NAME": "e2e",
            # tests that are not about tenancy run without policies; test_tenancy_e2e sets its own
            "BMO_IMPORT_POLICY_DEFAULT": "open",
            "BMO_VALIDATION_JOB_DEADLINE_SECONDS": "60",  # real pods on the local node: seconds each
            **VALIDATION_ENV,
            **self.extra_env,
            **({"KUBECONFIG": str(self.kubeconfig)} if self.kubeconfig else {}),
        }

    def start(self) -> None:
        self.starts += 1
        with self.log.open("a") as fh:
            fh.write(f"\n===== start #{self.starts} =====\n")
            fh.flush()
            self.proc = start_operator(self.env(), fh, *self.args)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc:
            stop_operator(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def get_obj(kubectl, ns: str, name: str) -> dict[str, Any]:
    return json.loads(kubectl("get", "bedrockmodel", name, "-n", ns, "-o", "json").stdout)


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return {}


def wait_condition(
    kubectl, ns: str, name: str, ctype: str, status: str, reason: str | None = None, timeout: float = 60
) -> dict[str, Any]:
    from tests.support.helpers import wait_for

    def check():
        obj = get_obj(kubectl, ns, name)
        c = condition(obj, ctype)
        if (
            c.get("status") == status
            and (reason is None or c.get("reason") == reason)
            and c.get("observedGeneration") == obj["metadata"]["generation"]
        ):
            return obj
        return None

    try:
        return wait_for(check, timeout=timeout, what=f"{ns}/{name} {ctype}={status} {reason or ''}")
    except AssertionError as exc:
        obj = get_obj(kubectl, ns, name)
        raise AssertionError(
            f"{exc}\nlast status: {json.dumps(obj.get('status'), indent=1)[:3000]}"
        ) from None


def events(kubectl, ns: str, name: str) -> list[dict[str, Any]]:
    out = kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}", "-o", "json")
    return sorted(json.loads(out.stdout)["items"], key=lambda e: e.get("lastTimestamp") or "")


def deadline_loop(seconds: float):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        yield
        time.sleep(0.2)


ROLE = "arn:aws:iam::123456789012:role/BedrockModelImport"
LLAMA = "s3://bmo-examples/llama3-8b-support/"
MISTRAL = "s3://bmo-examples/mistral-7b-summarizer/"


def apply_model(kubectl, ns: str, name: str, **spec: Any) -> dict[str, Any]:
    """kubectl apply a BedrockImportedModel: the Llama 3 example source and role, with `spec` overrides."""
    import yaml

    doc = {
        "apiVersion": "bedrock.modelops.io/v1alpha1",
        "kind": "BedrockImportedModel",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"source": {"s3Uri": LLAMA}, "serviceRole": {"roleArn": ROLE}, "region": "us-east-1"} | spec,
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))
    return doc


def apply_seen(kubectl, ns: str, name: str, timeout: float = 30, **spec: Any) -> dict[str, Any]:
    """Apply, then wait until the operator has reconciled this generation: a deterministic order of arrival
    (the next object is applied after this one is in line) and a sync point before a negative check."""
    from tests.support.helpers import wait_for

    apply_model(kubectl, ns, name, **spec)

    def seen():
        obj = get_obj(kubectl, ns, name)
        return obj.get("status", {}).get("observedGeneration") == obj["metadata"]["generation"] and obj

    return wait_for(seen, timeout=timeout, what=f"the operator to reconcile {ns}/{name}")


def _of(ns: str, name: str) -> re.Pattern[str]:
    """Job and default model names of an object: `<ns>-<name>-<identity hash>...`."""
    return re.compile(rf"^{re.escape(ns)}-{re.escape(name)}-[0-9a-f]{{8}}($|-)")


def jobs_of(aws, ns: str, name: str) -> list[dict]:
    return [j for j in aws.state()["jobs"] if _of(ns, name).match(j["jobName"])]


def models_of(aws, ns: str, name: str) -> list[dict]:
    return [m for m in aws.state()["models"] if _of(ns, name).match(m["modelName"])]


def tags_of(aws, arn: str) -> dict[str, str]:
    return {
        t["key"]: t["value"] for t in aws.client("bedrock").list_tags_for_resource(resourceARN=arn)["tags"]
    }
