"""Local AWS for the dev stack and the tests: moto (S3, IAM, STS, SageMaker) and the Bedrock emulator,
each a separate process on 127.0.0.1, so they outlive an operator restart like the real services do."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bmo_devtools.dev.controlplane import REPO_ROOT, die_with_parent, free_port
from bmo_devtools.dev.model_factory import ModelSpec, build_model
from bmo_devtools.emulator.artifact_check import VPC_ACTIONS

ACCOUNT = "123456789012"
EXAMPLE_BUCKET = "bmo-examples"
EXAMPLE_ROLE = "BedrockModelImport"

#: The example folders `examples/` points at: (S3 prefix, model to build there).
EXAMPLE_MODELS: dict[str, ModelSpec] = {
    "llama3-8b-support/": ModelSpec(kind="llama3", shards=2),
    "mistral-7b-summarizer/": ModelSpec(kind="mistral", shards=2),
    "flan-t5-large-classifier/": ModelSpec(kind="flan-t5"),
    "qwen2.5-7b-finetuned/": ModelSpec(kind="qwen2.5", shards=2),
}
EXAMPLE_SAGEMAKER_MODELS = {"qwen2-5-7b-finetuned": "qwen2.5-7b-finetuned/"}
#: examples/tenancy/: the shared bucket's team folders, and team B's own AWS account
TENANCY_BUCKET = "acme-models"
TENANCY_MODELS: dict[str, ModelSpec] = {
    "teams/team-a/llama/": ModelSpec(kind="llama3"),
    "teams/team-b/mistral/": ModelSpec(kind="mistral"),
}
TEAM_B_ACCOUNT = "222222222222"
TEAM_B_ROLE = "TeamBModelImport"
#: the trust policy of a Bedrock import service role: Bedrock may assume it
BEDROCK_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "bedrock.amazonaws.com"}}
    ],
}


@dataclass
class LocalAws:
    """moto + Bedrock emulator. `env()` gives the variables that point boto3 and the operator at them."""

    job_duration: float = 3.0
    model_quota: int = 50
    workdir: Path | None = None
    extra_emulator_args: list[str] = field(default_factory=list)
    moto_port: int | None = None  # preferred ports (taken only when free)
    bedrock_port: int | None = None
    moto_url: str = ""
    bedrock_url: str = ""
    _procs: list[subprocess.Popen] = field(default_factory=list)

    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir = self.workdir or Path(tempfile.mkdtemp(prefix="bmo-aws-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = free_port(self.moto_port)
        self._spawn("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
        self.moto_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.moto_url + "/moto-api/", timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start; see {self.workdir / 'moto.log'}") from None
                time.sleep(0.2)
        bport = free_port(self.bedrock_port)
        self._spawn(
            "bedrock-emulator",
            [
                sys.executable,
                "-m",
                "controller.cli",
                "emulator",
                "--port",
                str(bport),
                "--s3-endpoint",
                self.moto_url,
                "--iam-endpoint",
                self.moto_url,
                "--job-duration",
                str(self.job_duration),
                "--model-quota",
                str(self.model_quota),
                *self.extra_emulator_args,
            ],
        )
        self.bedrock_url = f"http://127.0.0.1:{bport}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.bedrock_url + "/_emulator/state", timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("the Bedrock emulator did not start") from None
                time.sleep(0.1)

    def _spawn(self, name: str, argv: list[str]) -> None:
        assert self.workdir is not None
        env = {**os.environ, **self.credentials()}
        with open(self.workdir / f"{name}.log", "ab") as log:
            self._procs.append(
                subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent
                )
            )

    def stop(self) -> None:
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        for p in self._procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self._procs.clear()

    @staticmethod
    def credentials() -> dict[str, str]:
        """Fake credentials: the emulators accept any signature; real ones are never used."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    @classmethod
    def validation_pod_template(cls) -> str:
        """BMO_VALIDATION_POD_TEMPLATE for validation pods on a local node: host network (the emulators
        answer on 127.0.0.1 only) and the emulators' fake credentials (IRSA's place in a real cluster)."""
        env = [{"name": k, "value": v} for k, v in cls.credentials().items()]
        return json.dumps({"hostNetwork": True, "env": env})

    def env(self) -> dict[str, str]:
        return {
            **self.credentials(),
            **self.endpoints(),
        }

    def endpoints(self) -> dict[str, str]:
        """Where each service is, as botocore reads it (`AWS_ENDPOINT_URL_<SERVICE>`)."""
        return {
            "AWS_ENDPOINT_URL_BEDROCK": self.bedrock_url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.bedrock_url,
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "AWS_ENDPOINT_URL_IAM": self.moto_url,
            "AWS_ENDPOINT_URL_STS": self.moto_url,
            "AWS_ENDPOINT_URL_SAGEMAKER": self.moto_url,
        }

    def client(self, service: str, region: str = "us-east-1", **kw: Any):
        url = self.bedrock_url if service in ("bedrock", "bedrock-runtime") else self.moto_url
        creds = self.credentials()
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=region,
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            **kw,
        )

    # ---- admin API of the emulator ----------------------------------------------------------
    def admin(self, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(
            self.bedrock_url + path,
            method="POST" if body is not None else "GET",
            data=json.dumps(body).encode() if body is not None else None,
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def set_faults(self, **faults: Any) -> dict:
        return self.admin("/_emulator/faults", faults)

    def state(self) -> dict:
        return self.admin("/_emulator/state")

    # ---- seeding -----------------------------------------------------------------------------
    def account_client(self, service: str, account: str, region: str = "us-east-1") -> Any:
        """A client acting in another account (moto: an assumed role's keys act in the role's account)."""
        creds = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="seed"
        )["Credentials"]
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def seed_tenancy(self) -> None:
        """What examples/tenancy/ needs: each team's model folder in the shared bucket, and in team B's
        account the import role team B brings (reading only its folder, using only its keys)."""
        for prefix, spec in TENANCY_MODELS.items():
            self.upload_model(TENANCY_BUCKET, prefix, spec)
        iam = self.account_client("iam", TEAM_B_ACCOUNT)
        folder = f"{TENANCY_BUCKET}/teams/team-b/"
        read = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{folder}*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{TENANCY_BUCKET}",
                    "Condition": {"StringLike": {"s3:prefix": ["teams/team-b/*"]}},
                },
                {
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                    "Resource": f"arn:aws:kms:*:{TEAM_B_ACCOUNT}:key/*",
                    "Condition": {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/team-b-*"}},
                },
            ],
        }
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=TEAM_B_ROLE, AssumeRolePolicyDocument=json.dumps(BEDROCK_TRUST))
        iam.put_role_policy(RoleName=TEAM_B_ROLE, PolicyName="read-team-b", PolicyDocument=json.dumps(read))

    def create_role(self, name: str = EXAMPLE_ROLE) -> str:
        iam = self.client("iam")
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(BEDROCK_TRUST))
        # the local Bedrock reads the source with the role's own permissions, as Bedrock does
        read = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{EXAMPLE_BUCKET}/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{EXAMPLE_BUCKET}"},
                {  # the Flan-T5 example encrypts its model with a customer-managed key
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                    "Resource": f"arn:aws:kms:*:{ACCOUNT}:*",
                },
                {  # the SageMaker example imports inside a VPC
                    "Effect": "Allow",
                    "Action": list(VPC_ACTIONS),
                    "Resource": "*",
                },
            ],
        }
        iam.put_role_policy(RoleName=name, PolicyName="read-examples", PolicyDocument=json.dumps(read))
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def upload_model(self, bucket: str, prefix: str, spec: ModelSpec) -> str:
        s3 = self.client("s3")
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=bucket)
        with tempfile.TemporaryDirectory() as tmp:
            folder = build_model(Path(tmp) / "m", spec)
            for path in sorted(folder.iterdir()):
                s3.upload_file(str(path), bucket, prefix + path.name)
        return f"s3://{bucket}/{prefix}"

    def create_boundary(self) -> None:
        """The shipped permissions boundary of created service roles (deploy/iam/service-role-boundary.json),
        for reading any bucket here: the local Bedrock evaluates it, as IAM would."""
        text = (REPO_ROOT / "deploy" / "iam" / "service-role-boundary.json").read_text()
        text = text.replace("ACCOUNT_ID", ACCOUNT).replace("MODEL_BUCKET", "*")
        with contextlib.suppress(self.client("iam").exceptions.EntityAlreadyExistsException):
            self.client("iam").create_policy(PolicyName="bmo-import-role-boundary", PolicyDocument=text)

    def seed_examples(self) -> None:
        """What `examples/` needs: the model folders in S3, the service role, the boundary of created roles,
        the SageMaker model."""
        role = self.create_role()
        self.create_boundary()
        for prefix, spec in EXAMPLE_MODELS.items():
            self.upload_model(EXAMPLE_BUCKET, prefix, spec)
        for region in ("us-east-1", "us-west-2"):
            sm = self.client("sagemaker", region)
            for name, prefix in EXAMPLE_SAGEMAKER_MODELS.items():
                with contextlib.suppress(Exception):
                    sm.create_model(
                        ModelName=name,
                        ExecutionRoleArn=role,
                        PrimaryContainer={
                            "Image": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/llm:latest",
                            "ModelDataSource": {
                                "S3DataSource": {
                                    "S3Uri": f"s3://{EXAMPLE_BUCKET}/{prefix}",
                                    "S3DataType": "S3Prefix",
                                    "CompressionType": "None",
                                }
                            },
                        },
                    )
