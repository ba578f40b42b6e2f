"""deploy/iam/operator-policy.json allows every AWS call the operator really makes (against the emulators),
and nothing in it is unused. The reconciler runs in-process here; every boto3 call is recorded."""

from __future__ import annotations

import fnmatch
import json
import time
import uuid
from pathlib import Path

import boto3
import pytest

from controller.model_status import status_patch
from controller.object_state import ObjectState
from controller.settings import Settings

IAM = Path(__file__).resolve().parents[1] / "deploy" / "iam"
#: API operations whose IAM action has another name (S3) or needs no permission (STS).
ACTION_OF = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "HeadObject"): "s3:GetObject",
    ("sts", "GetCallerIdentity"): None,
}


def _drive(rec, body: dict, done, steps: int = 80) -> dict:
    """Passes as the operator runs them: each one's status written (as the apiserver merges it) first."""
    state = ObjectState()
    for _ in range(steps):
        out = rec.reconcile(body, state)
        patch = status_patch(out, body.get("status") or {}, body["metadata"]["generation"])
        body["status"] = {k: v for k, v in patch["status"].items() if v is not None}
        if done(body):
            return body
        if not out.again:
            time.sleep(0.25)
    raise AssertionError(f"not done: {json.dumps(body.get('status'), default=str)[:2000]}")


def _ready(body: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in body["status"]["conditions"])


@pytest.fixture
def recorded_calls(local_aws, monkeypatch):
    for k, v in local_aws.credentials().items():
        monkeypatch.setenv(k, v)
    boto3.setup_default_session()
    calls: set[tuple[str, str]] = set()

    def record(model, **_):
        calls.add((model.service_model.service_name, model.name))

    boto3.DEFAULT_SESSION.events.register("before-call", record)
    yield calls
    boto3.DEFAULT_SESSION = None


def test_operator_policy_allows_exactly_what_the_operator_calls(local_aws, recorded_calls):
    from controller.reconcile import Reconciler

    settings = Settings(
        bedrock_endpoint=local_aws.bedrock_url,
        s3_endpoint=local_aws.moto_url,
        iam_endpoint=local_aws.moto_url,
        sts_endpoint=local_aws.moto_url,
        sagemaker_endpoint=local_aws.moto_url,
        validation_mode="Inline",
        resync_seconds=0,
    )
    rec = Reconciler(settings.model_copy(update={"cluster_id": "iam-test-cluster"}))
    uid = str(uuid.uuid4())
    body = {
        "metadata": {"name": f"iam-{uid[:6]}", "namespace": "iam", "uid": uid, "generation": 1},
        "spec": {
            "source": {"sageMakerModelName": "qwen2-5-7b-finetuned"},
            "region": "us-east-1",
            "serviceRole": {"create": True},
            "tags": {"team": "a", "stage": "dev"},
        },
    }
    _drive(rec, body, _ready)
    body["spec"]["tags"] = {"team": "b"}
    body["metadata"]["generation"] = 2
    _drive(rec, body, lambda b: b["status"].get("observedGeneration") == 2 and _ready(b))
    assert rec.finalize(body).done

    needed = {ACTION_OF.get(c, f"{c[0]}:{c[1]}") for c in recorded_calls} - {None}
    needed.add("iam:PassRole")  # CreateModelImportJob passes the service role to Bedrock
    policy = json.loads((IAM / "operator-policy.json").read_text())
    allowed = [
        a
        for s in policy["Statement"]
        if s["Effect"] == "Allow"
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    missing = sorted(a for a in needed if not any(fnmatch.fnmatchcase(a, p) for p in allowed))
    assert missing == [], f"the operator called {missing}, which its policy does not allow"
    # and the policy grants nothing the operator never uses, apart from calls this flow does not reach:
    # GetRole/UpdateAssumeRolePolicy (the role already exists, e.g. after a crash), TagRole (CreateRole with
    # tags needs it on AWS), and the two List calls (kept for listing what the operator owns)
    unused = sorted(
        set(allowed)
        - needed
        - {
            "bedrock:ListImportedModels",
            "iam:TagRole",
            "iam:UpdateAssumeRolePolicy",
            "bedrock:ListModelImportJobs",
            "iam:GetRole",
        }
    )
    assert unused == []


def test_policy_files_are_valid_json_with_placeholders():
    """The README tells users which words to replace; each file uses only those, and no real value
    (an account id, a bucket) is baked in where a placeholder belongs."""
    import re

    readme = (IAM.parents[1] / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("Replace `ACCOUNT_ID`"))
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", line))
    assert documented == {"ACCOUNT_ID", "REGION", "MODEL_BUCKET", "MODEL_PREFIX"}
    used: set[str] = set()
    for path in IAM.glob("*.json"):
        text = path.read_text()
        doc = json.loads(text)
        assert doc["Version"] == "2012-10-17" and doc["Statement"], path
        arns = re.findall(r'"(arn:aws:[^"]*)"', text)
        for arn in arns:
            service, region, account, resource = arn.split(":", 5)[2:6]
            assert region in ("", "*", "REGION"), (path.name, arn)
            assert account in ("", "ACCOUNT_ID"), (path.name, arn)  # never a literal account id
            if service == "s3":
                assert resource.split("/")[0] == "MODEL_BUCKET", (path.name, arn)
        words = set(re.findall(r"\b[A-Z][A-Z]+(?:_[A-Z]+)+\b|\bREGION\b", text))
        assert words <= documented, (path.name, words - documented)  # only what the README names
        used |= words
    assert used == documented  # and every placeholder the README names is used somewhere
