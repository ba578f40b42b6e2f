"""Each namespace's validator reads only its own folder: deploy/iam/validator-policy.json, filled in per
namespace (the documented pattern: one role per namespace's `bedrock-model-validator` ServiceAccount), run
against S3 that enforces IAM (a moto server with authorization on). The validator runs as the Job runs it."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import boto3
import pytest

from bmo_devtools.dev.model_factory import ModelSpec, build_model
from bmo_devtools.emulator import iam_eval
from controller.artifacts.sources import S3Folder, SourceAccessError
from controller.artifacts.validate import validate_source
from tests.support.helpers import wait_for

POLICY = Path(__file__).resolve().parents[2] / "deploy" / "iam" / "validator-policy.json"
TEAMS = ("team-a", "team-b")


def _policy(team: str) -> str:
    return POLICY.read_text().replace("MODEL_BUCKET", "models").replace("MODEL_PREFIX", f"teams/{team}")


@pytest.fixture
def s3_enforcing_iam(tmp_path):
    """A moto server of its own (a process: the suite's shared moto must not see this state) that enforces
    IAM after the first `n` requests (`INITIAL_NO_AUTH_ACTION_COUNT`): the setup runs as admin, the rest as
    whoever signs."""
    import subprocess
    import sys

    from bmo_devtools.dev.controlplane import free_port

    procs = []

    def start(setup_calls: int) -> str:
        port = free_port()
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_calls)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: urllib.request.urlopen(url + "/moto-api/", timeout=1).status == 200,
            timeout=60,
            what="moto",
        )
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_namespaces_validator_reads_its_folder_and_not_another_teams(tmp_path, s3_enforcing_iam):
    folder = build_model(tmp_path / "model", ModelSpec(kind="llama3"))
    files = sorted(folder.iterdir())
    setup_calls = 1 + len(TEAMS) * (len(files) + 3)  # bucket; per team: uploads, user, policy, key
    url = s3_enforcing_iam(setup_calls)
    admin = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin", "region_name": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=url, **admin)
    iam = boto3.client("iam", endpoint_url=url, **admin)
    s3.create_bucket(Bucket="models")
    keys = {}
    for team in TEAMS:
        for path in files:
            s3.put_object(Bucket="models", Key=f"teams/{team}/llama/{path.name}", Body=path.read_bytes())
        iam.create_user(UserName=f"validator-{team}")
        iam.put_user_policy(
            UserName=f"validator-{team}", PolicyName="validator", PolicyDocument=_policy(team)
        )
        keys[team] = iam.create_access_key(UserName=f"validator-{team}")["AccessKey"]
    results: dict[str, dict[str, object]] = {}
    for reader, key in keys.items():
        client = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        for owner in TEAMS:
            try:
                report = validate_source(S3Folder(f"s3://models/teams/{owner}/llama/", client=client))
                results.setdefault(reader, {})[owner] = report.verdict
            except SourceAccessError as exc:
                results.setdefault(reader, {})[owner] = exc.code
    assert results == {
        "team-a": {"team-a": "importable", "team-b": "AccessDenied"},
        "team-b": {"team-a": "AccessDenied", "team-b": "importable"},
    }


@pytest.mark.parametrize(
    "prefix,allowed",
    [("teams/team-a/llama/", True), ("teams/team-b/llama/", False), ("teams/team-ab/", False)],
)
def test_the_validator_policy_lists_only_its_own_folder(prefix, allowed):
    """moto does not evaluate the `s3:prefix` condition of ListBucket; IAM does (here: the emulator's
    evaluator): listing another team's folder, or a sibling prefix, is refused too."""
    statements = iam_eval.parse(json.loads(_policy("team-a")))
    assert (
        iam_eval.allowed(statements, "s3:ListBucket", "arn:aws:s3:::models", {"s3:prefix": prefix}) is allowed
    )
