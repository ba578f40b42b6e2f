"""The emulator's own, deliberately simple, import check: independent of the operator's validator.

It does what Bedrock visibly does at the end of a job: assume the role (the role must exist in IAM),
read the folder (S3 must answer), and refuse what cannot load (no config.json, no safetensors, no
tokenizer, an unsupported model_type, a quantized config). Messages imitate Bedrock's terse ones.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bmo_devtools.emulator import iam_eval
from bmo_devtools.emulator.state import ImportOutcome
from controller.aws.clients import VPC_ACTIONS  # the one list: what a VPC import asks of the role

_SUPPORTED = {
    "llama",
    "mistral",
    "mixtral",
    "t5",
    "mllama",
    "gpt_bigcode",
    "qwen2",
    "qwen2_vl",
    "qwen2_5_vl",
    "qwen3",
    "qwen3_moe",
    "gpt_oss",
}
_CMU_BYTES = 8 * 10**9


def _architecture(config: dict) -> str:
    model_type = config.get("model_type")
    if model_type == "llama":
        vocab = config.get("vocab_size") or 0
        return "llama3" if isinstance(vocab, int) and vocab >= 128000 else "llama2"
    return {"t5": "flan-t5"}.get(model_type, str(model_type))


#: Local endpoints accept any signature: the emulator signs with these when it is pointed at one, so it
#: needs no AWS credentials in its environment (and never uses real ones against a local endpoint).
_LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def _client(service: str, endpoint: str | None, region: str, access_key: str | None = None):
    credentials = _LOCAL_CREDENTIALS if endpoint else {}
    if endpoint and access_key:  # moto acts in the account of this key (an assumed role's: the role's)
        credentials = {"aws_access_key_id": access_key, "aws_secret_access_key": "unused-by-moto"}
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **credentials)


class S3ArtifactCheck:
    """Bedrock's end of a job: assume the role, read the folder with the role's permissions, judge it."""

    def __init__(
        self,
        s3_endpoint: str | None,
        iam_endpoint: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
    ):
        self.s3 = _client("s3", s3_endpoint, region, access_key)
        self.iam = _client("iam", iam_endpoint, region, access_key) if iam_endpoint else None

    def __call__(self, s3_uri: str, role_arn: str, job: Any = None) -> ImportOutcome:
        parsed = urlparse(s3_uri)
        bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if self.iam is not None:
            problem = self._role_problem(role_arn, bucket, prefix, job)
            if problem:
                return ImportOutcome(False, problem)
        try:
            listing = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
            files = {o["Key"][len(prefix) :]: o["Size"] for o in listing.get("Contents", [])}
            config = json.loads(
                self.s3.get_object(Bucket=bucket, Key=prefix + "config.json")["Body"].read(2**20)
            )
            tok_cfg = {}
            if "tokenizer_config.json" in files:
                tok_cfg = json.loads(
                    self.s3.get_object(Bucket=bucket, Key=prefix + "tokenizer_config.json")["Body"].read(
                        2**24
                    )
                )
        except (ClientError, BotoCoreError, ValueError) as exc:
            return ImportOutcome(
                False,
                f"Amazon Bedrock was unable to read the model files at {s3_uri}: "
                f"{getattr(exc, 'response', {}).get('Error', {}).get('Code', type(exc).__name__)}. "
                "Check that config.json exists and the role can read the location.",
            )
        weights = sum(size for name, size in files.items() if name.endswith(".safetensors"))
        if not weights:
            return ImportOutcome(False, "The model files must include weights in .safetensors format.")
        if "tokenizer.json" not in files and "tokenizer.model" not in files and "spiece.model" not in files:
            return ImportOutcome(False, "The model files must include a tokenizer.")
        if not isinstance(config, dict) or config.get("model_type") not in _SUPPORTED:
            return ImportOutcome(
                False, f"The model architecture {config.get('model_type')!s:.40} is not supported for import."
            )
        quant = config.get("quantization_config")
        if quant and not (config.get("model_type") == "gpt_oss" and quant.get("quant_method") == "mxfp4"):
            return ImportOutcome(False, "Quantized models are not supported for import.")
        instruct = bool(tok_cfg.get("chat_template")) or "chat_template.jinja" in files
        return ImportOutcome(
            True,
            architecture=_architecture(config),
            instruct=instruct,
            cmu=max(1, math.ceil(weights / _CMU_BYTES)),
        )

    # ---- the role, as Bedrock meets it ---------------------------------------------------------------
    def _role_problem(self, role_arn: str, bucket: str, prefix: str, job: Any) -> str | None:
        assert self.iam is not None
        name = role_arn.rsplit("/", 1)[-1]
        cannot_assume = (
            f"Amazon Bedrock could not assume the role {role_arn}. Check that it exists and that its trust "
            "policy allows bedrock.amazonaws.com to call sts:AssumeRole (and that its conditions match this "
            "account and import job)."
        )
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
        except ClientError:
            return cannot_assume
        account = role_arn.split(":")[4] or getattr(job, "account", "")
        job_arn = getattr(job, "arn", "") or ""
        trust_context = {"aws:SourceAccount": account, "aws:SourceArn": job_arn}
        if not iam_eval.trusts(
            iam_eval.parse(role["AssumeRolePolicyDocument"]), "bedrock.amazonaws.com", trust_context
        ):
            return cannot_assume
        statements = self._permissions(name)
        boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        boundary = self._managed_policy(boundary_arn) if boundary_arn else None
        if boundary_arn and boundary is None:
            return f"The permissions boundary {boundary_arn} of role {role_arn} does not exist."

        def denied(action: str, resource: str, **context: str) -> str | None:
            # IAM: what the role's policies allow, and (with a boundary) what the boundary allows too
            if iam_eval.allowed(statements, action, resource, context) and (
                boundary is None or iam_eval.allowed(boundary, action, resource, context)
            ):
                return None
            return (
                f"Amazon Bedrock could not access the model data with role {role_arn}: it is not "
                f"authorized to perform {action} on resource {resource}. Update the role's permissions and "
                "import again."
            )

        problem = denied("s3:ListBucket", f"arn:aws:s3:::{bucket}", **{"s3:prefix": prefix})
        problem = problem or denied("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}config.json")
        if problem:
            return problem
        source_key = self._source_kms_key(bucket, prefix)
        if source_key:
            problem = denied("kms:Decrypt", source_key)
        model_key = getattr(job, "kms_key", None)
        if not problem and model_key:
            key, aliases = _key_and_aliases(model_key)
            context = {"kms:ResourceAliases": aliases} if aliases else {}
            problem = next(
                (
                    p
                    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")
                    if (p := denied(action, key, **context))
                ),
                None,
            )
        if not problem and getattr(job, "vpc", None):
            problem = next((p for a in VPC_ACTIONS if (p := denied(a, "*"))), None)
        return problem

    def _permissions(self, role_name: str) -> list[dict]:
        """Every statement of the role's inline and attached managed policies."""
        assert self.iam is not None
        statements: list[dict] = []
        for policy_name in self.iam.list_role_policies(RoleName=role_name).get("PolicyNames", []):
            doc = self.iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
            statements += iam_eval.parse(doc)
        for attached in self.iam.list_attached_role_policies(RoleName=role_name).get("AttachedPolicies", []):
            statements += self._managed_policy(attached["PolicyArn"]) or []
        return statements

    def _managed_policy(self, arn: str) -> list[dict] | None:
        """The statements of a managed policy's default version (None: no such policy)."""
        assert self.iam is not None
        try:
            policy = self.iam.get_policy(PolicyArn=arn)["Policy"]
            version = self.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        except ClientError:
            return None
        return iam_eval.parse(version["PolicyVersion"]["Document"])

    def _source_kms_key(self, bucket: str, prefix: str) -> str | None:
        """The KMS key a source object is encrypted with (SSE-KMS), if any."""
        try:
            head = self.s3.head_object(Bucket=bucket, Key=prefix + "config.json")
        except (ClientError, BotoCoreError):
            return None  # unreadable: the read below says so
        if head.get("ServerSideEncryption") == "aws:kms":
            return head.get("SSEKMSKeyId") or "*"
        return None


def _key_and_aliases(key_arn: str) -> tuple[str, list[str]]:
    """An alias ARN names a key: the key's ARN (a stable stand-in id here) and the aliases it carries, which
    is what IAM matches (`kms:ResourceAliases`)."""
    if ":alias/" not in key_arn:
        return key_arn, []
    prefix, alias = key_arn.split(":alias/", 1)
    stand_in = hashlib.sha256(alias.encode()).hexdigest()[:32]
    return f"{prefix}:key/{stand_in}", [f"alias/{alias}"]
