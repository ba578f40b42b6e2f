"""The emulator's own, deliberately simple, import check: independent of the operator's validator.

It does what Bedrock visibly does at the end of a job: assume the role (the role must exist in IAM),
read the folder (S3 must answer), and refuse what cannot load (no config.json, no safetensors, no
tokenizer, an unsupported model_type, a quantized config). Messages imitate Bedrock's terse ones.
"""

from __future__ import annotations

import json
import math
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from controller.emulator.state import ImportOutcome

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


class S3ArtifactCheck:
    def __init__(self, s3_endpoint: str | None, iam_endpoint: str | None = None, region: str = "us-east-1"):
        self.s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=region)
        self.iam = (
            boto3.client("iam", endpoint_url=iam_endpoint, region_name=region) if iam_endpoint else None
        )

    def __call__(self, s3_uri: str, role_arn: str) -> ImportOutcome:
        if self.iam is not None:
            try:
                self.iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])
            except ClientError:
                return ImportOutcome(
                    False,
                    f"Amazon Bedrock could not assume the role {role_arn}. Check that "
                    "it exists and trusts bedrock.amazonaws.com.",
                )
        parsed = urlparse(s3_uri)
        bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
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
