"""The local Bedrock's state behind a boto3-shaped client, in process: the operator's real
`BedrockClient` (its calls, its error classification) runs against it with no HTTP and a clock the test
drives. Errors reach the client as botocore `ClientError`s with the status code the wire would carry."""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError, ReadTimeoutError

from bmo_devtools.emulator.protocol import ApiError, error_status
from bmo_devtools.emulator.state import BedrockState
from controller import metrics
from controller.aws.clients import BedrockClient
from controller.errors import AwsError, Kind

_OPERATIONS = {
    "create_model_import_job": ("CreateModelImportJob", "create_job"),
    "get_model_import_job": ("GetModelImportJob", "get_job"),
    "list_model_import_jobs": ("ListModelImportJobs", "list_jobs"),
    "get_imported_model": ("GetImportedModel", "get_model"),
    "list_imported_models": ("ListImportedModels", "list_models"),
    "delete_imported_model": ("DeleteImportedModel", "delete_model"),
    "tag_resource": ("TagResource", "tag"),
    "untag_resource": ("UntagResource", "untag"),
    "list_tags_for_resource": ("ListTagsForResource", "list_tags"),
}


def client_error(err: ApiError, operation: str, service: str = "bedrock") -> ClientError:
    """What botocore raises for the error the emulator would answer on the wire."""
    return ClientError(
        {
            "Error": {"Code": err.type_name, "Message": err.message},
            "ResponseMetadata": {"HTTPStatusCode": error_status(err.type_name, service)},
        },
        operation,
    )


ATTEMPTS = 3  # controller/aws/clients.py: Config(retries={"mode": "standard", "max_attempts": 3})


class StateClient:
    """Duck-types the boto3 `bedrock` client's model-import operations over a `BedrockState`."""

    def __init__(self, state: BedrockState, region: str, hooks: Any = None) -> None:
        self.state, self.region = state, region
        self.hooks = hooks  # before_call(operation, params) / after_call(operation): records and faults

    def __getattr__(self, name: str):
        operation, method = _OPERATIONS[name]

        def call(**params: Any) -> dict[str, Any]:
            if self.hooks is not None:
                self.hooks.before_call(operation, params)
                sending = getattr(self.hooks, "sending", None)  # what the call finds in the account
                if sending is not None:
                    sending(self.state, self.region, operation, params)
                hold = getattr(self.hooks, "hold_request", None)
                if hold is not None and hold(self.state, self.region, operation, method, params):
                    # on its way: applied later by the service, its answer never comes back
                    raise ReadTimeoutError(endpoint_url=f"in-process {operation} (held)")
            try:
                # botocore's standard retry mode (the operator's clients: 3 attempts) retries a throttle or
                # a 5xx the service answered before doing anything; the World's clock does not wait for it
                for attempt in range(1, ATTEMPTS + 1):
                    metrics.AWS_CALLS.labels("bedrock", operation).inc()  # as botocore's hook: per attempt
                    try:
                        self.state.before_request(operation)
                        break
                    except ApiError as err:
                        self.state.errors[f"{operation}:{err.type_name}"] += 1
                        metrics.AWS_ERRORS.labels("bedrock", operation, err.type_name).inc()
                        if attempt == ATTEMPTS or error_status(err.type_name, "bedrock") < 429:
                            raise client_error(err, operation) from None
                result = getattr(self.state, method)(self.region, params)
            except ApiError as err:
                self.state.errors[f"{operation}:{err.type_name}"] += 1
                metrics.AWS_ERRORS.labels("bedrock", operation, err.type_name).inc()
                raise client_error(err, operation) from None
            if self.hooks is not None:
                self.hooks.after_call(operation)
            return result

        return call


class InProcessBedrock(BedrockClient):
    """The operator's BedrockClient, its boto3 client swapped for the in-process state."""

    def __init__(self, state: BedrockState, region: str, hooks: Any = None) -> None:
        self.region = region
        self._bedrock = StateClient(state, region, hooks)
        self._per_region("default=1000000")  # the world's clock is not the limiter's: no waiting here
        # a throttle's pause too runs on the world's clock and is never slept in real time (a real sleep
        # made sequences slow and their timing, so hypothesis's replays, not reproducible)
        clock = getattr(getattr(hooks, "clock", None), "mono", None)
        self.limiter.clock = clock or (lambda: 0.0)
        self.limiter.sleep = lambda seconds: None


class FakeSupport:
    """IAM/STS/SageMaker/S3 stand-ins for passes that name their role and skip validation."""

    def __init__(self, region: str, hooks: Any = None, state: BedrockState | None = None) -> None:
        self.region = region
        self.s3 = getattr(hooks, "s3", None)  # the World's folders (Inline validation), else none
        self.hooks = hooks  # may_create_role() -> bool: IAM refuses CreateRole when False
        self.state = state  # the emulated account whose runtime answers smoke tests

    def sagemaker_s3_uri(self, name: str) -> str:
        raise AwsError(Kind.TERMINAL, "NotImplemented", "no SageMaker here", "InvalidRequest")

    @staticmethod
    def role_name(me) -> str:
        return f"bmo-import-{me.hash}"

    def ensure_role(self, role_name: str, s3_uri: str, tags: dict[str, str], **_: object) -> str:
        if self.hooks is not None and not self.hooks.may_create_role():
            raise AwsError(
                Kind.TERMINAL,
                "AccessDenied",
                f"CreateRole {role_name}: User is not authorized to perform: iam:CreateRole",
                "AccessDenied",
            )
        roles = getattr(self.hooks, "roles", None)
        if roles is not None:  # IAM is global: the World keeps which roles exist, and for whom
            roles[role_name] = tags.get("bedrock.modelops.io/uid", "")
        return f"arn:aws:iam::123456789012:role/{role_name}"

    def role_problem(self, role_arn: str) -> str | None:
        """IAM's view of a named role: the World's `missing_roles` do not exist, its `untrusting_roles`
        trust no Bedrock principal; any other role is fine."""
        from controller.aws import role_check

        if role_arn in getattr(self.hooks, "missing_roles", ()):
            return role_check.problem(role_arn, None)
        if role_arn in getattr(self.hooks, "untrusting_roles", ()):
            return role_check.problem(role_arn, {"AssumeRolePolicyDocument": {"Statement": []}})
        return None

    def delete_role(self, role_name: str) -> None:
        if getattr(self.hooks, "role_delete_failures", 0) > 0:
            self.hooks.role_delete_failures -= 1
            raise AwsError(
                Kind.RETRYABLE, "Throttling", f"DeleteRole {role_name}: Rate exceeded", "Throttled"
            )
        roles = getattr(self.hooks, "roles", None)
        if roles is not None:
            roles.pop(role_name, None)

    def invoke(self, model_arn: str, body: bytes) -> dict[str, Any]:
        """The local Bedrock's runtime, in process: cold starts and canned answers as over the wire."""
        import json

        from bmo_devtools.emulator import runtime
        from controller.aws.clients import classify

        assert self.state is not None
        try:
            model = self.state.invoke(self.region, model_arn)
        except ApiError as err:
            raise classify(client_error(err, "InvokeModel", "bedrock-runtime"), "InvokeModel") from None
        answer = runtime.completion(model.name, json.loads(body))
        return runtime.intervened(answer) if self.state.guardrail_intervenes() else answer


class FakeS3:
    """Model folders in memory, read the way `S3Folder` reads S3 (listing pages with sizes and ETags,
    ranged GETs): Inline validation runs in the World, and a test can swap a folder's files between the
    validation and the import. A folder never written holds the factory's small Llama model."""

    VARIANTS = ("good", "larger", "quantized", "empty", "no-weights")
    _built: ClassVar[dict[str, dict[str, bytes]]] = {}  # variant -> files, built once per process

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.variant: dict[str, str] = {}  # folder URI -> which model it holds now

    @classmethod
    def _model(cls, variant: str, cache: dict[str, dict[str, bytes]]) -> dict[str, bytes]:
        if variant == "empty":  # named before its upload started
            return {}
        if variant == "no-weights":  # an upload half done: config and tokenizer, no safetensors yet
            return {k: v for k, v in cls._model("good", cache).items() if not k.endswith(".safetensors")}
        if variant not in cache:
            import tempfile
            from pathlib import Path

            from bmo_devtools.dev.model_factory import ModelSpec, build_model

            spec = {
                "good": ModelSpec(),
                "larger": ModelSpec(layers=3),
                "quantized": ModelSpec(config_overrides={"quantization_config": {"quant_method": "gptq"}}),
            }[variant]
            with tempfile.TemporaryDirectory() as tmp:
                folder = build_model(Path(tmp) / "m", spec)
                cache[variant] = {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}
        return cache[variant]

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return bucket, prefix if prefix.endswith("/") or not prefix else prefix + "/"

    def put_folder(self, uri: str, variant: str) -> None:
        """Replace the folder's files with `variant`'s (every object written again: new ETags)."""
        bucket, prefix = self._split(uri)
        for key in [k for k in self.objects if k[0] == bucket and k[1].startswith(prefix)]:
            del self.objects[key]
        for name, data in self._model(variant, self._built).items():
            self.objects[(bucket, prefix + name)] = data
        self.variant[uri] = variant

    def _ensure(self, bucket: str, prefix: str) -> None:
        uri = f"s3://{bucket}/{prefix}"
        if uri not in self.variant:
            self.put_folder(uri, "good")

    def etag(self, bucket: str, key: str) -> str:
        import hashlib

        return '"' + hashlib.md5(self.objects[(bucket, key)] + key.encode()).hexdigest() + '"'

    # ---- what S3Folder calls ----------------------------------------------------------------------
    def get_paginator(self, operation: str) -> FakeS3:
        assert operation == "list_objects_v2"
        return self

    def paginate(self, *, Bucket: str, Prefix: str, Delimiter: str = "/") -> list[dict[str, Any]]:
        if getattr(self, "deny_lists", False):  # the bucket policy changed: ListBucket refused
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
            )
        self._ensure(Bucket, Prefix)
        contents = [
            {"Key": key, "Size": len(data), "ETag": self.etag(Bucket, key)}
            for (bucket, key), data in sorted(self.objects.items())
            if bucket == Bucket and key.startswith(Prefix) and "/" not in key[len(Prefix) :]
        ]
        below = sorted(  # folders one level down, as S3 lists them with Delimiter "/"
            {
                Prefix + key[len(Prefix) :].split("/", 1)[0] + "/"
                for (bucket, key) in self.objects
                if bucket == Bucket and key.startswith(Prefix) and "/" in key[len(Prefix) :]
            }
        )
        return [{"Contents": contents, "CommonPrefixes": [{"Prefix": p} for p in below]}]

    def get_object(self, *, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        import io

        data = self.objects.get((Bucket, Key))
        if data is None:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        start, _, end = Range.removeprefix("bytes=").partition("-")
        return {"Body": io.BytesIO(data[int(start) : int(end) + 1])}
