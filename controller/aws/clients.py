"""The only code that speaks boto3 to Bedrock (and to IAM, STS and SageMaker for the import's needs).

Shaped like ACK's resource manager: read (find job / model), create, update (tags), delete; every AWS
error is classified once here as retryable, terminal, quota, conflict or not-found, so the reconcile
logic never looks at botocore codes.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from controller import metrics
from controller.api.models import DOT_SEGMENT, DOT_SEGMENT_MESSAGE, S3_URI_PATTERN
from controller.api.reasons import Reason
from controller.artifacts.sources import S3Folder
from controller.aws import role_check
from controller.aws.rate_limit import RegionLimiter, parse_limits
from controller.aws.session import default_session, new_client
from controller.errors import AwsError, Kind, SourceError
from controller.naming import Identity
from controller.settings import Settings

#: Reasons of answers the reconcile handles itself (never shown on a condition).
JOB_NAME_IN_USE, NAME_CONFLICT, NOT_FOUND = "JobNameInUse", "NameConflict", "NotFound"

__all__ = ["AwsError", "BedrockClient", "JobInfo", "Kind", "ModelInfo", "SupportClients", "classify"]


_RETRYABLE_CODES = {
    "ThrottlingException": Reason.THROTTLED,
    "TooManyRequestsException": Reason.THROTTLED,
    "RequestLimitExceeded": Reason.THROTTLED,
    "Throttling": Reason.THROTTLED,
    "InternalServerException": Reason.AWS_SERVICE_ERROR,
    "InternalFailure": Reason.AWS_SERVICE_ERROR,
    "ServiceUnavailable": Reason.AWS_SERVICE_ERROR,
    "ServiceUnavailableException": Reason.AWS_SERVICE_ERROR,
}


#: failures that say nothing of the request: AWS did not answer, or answered 5xx (an outage, not a refusal)
OUTAGE_REASONS = frozenset({Reason.AWS_UNREACHABLE, Reason.AWS_SERVICE_ERROR})


def classify(exc: Exception, action: str) -> AwsError:
    """Map any boto3 failure to one AwsError. The single error classifier of the project."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, (ConnectionError, ReadTimeoutError, BotoCoreError)) and not isinstance(
        exc, ClientError
    ):
        return AwsError(Kind.RETRYABLE, type(exc).__name__, f"{action}: {exc}", Reason.AWS_UNREACHABLE)
    assert isinstance(exc, ClientError)
    err = exc.response.get("Error", {})
    code = err.get("Code", "Unknown")
    message = f"{action}: {err.get('Message', code)}"
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _RETRYABLE_CODES:
        return AwsError(Kind.RETRYABLE, code, message, _RETRYABLE_CODES[code])
    if status >= 500:
        return AwsError(Kind.RETRYABLE, code, message, Reason.AWS_SERVICE_ERROR)
    if code == "ValidationException" and "role" in message.lower() and "invalid" in message.lower():
        return AwsError(Kind.RETRYABLE, code, message, Reason.WAITING_FOR_IAM_PROPAGATION)
    if code == "ValidationException" and "job name" in message.lower() and "in use" in message.lower():
        return AwsError(Kind.JOB_NAME_TAKEN, code, message, JOB_NAME_IN_USE)
    if code == "ServiceQuotaExceededException":
        if "concurrent" in message.lower():
            return AwsError(Kind.QUEUE, code, message, Reason.QUEUED)
        return AwsError(Kind.QUOTA, code, message, Reason.IMPORTED_MODEL_QUOTA_EXCEEDED)
    if code == "ConflictException":
        return AwsError(Kind.CONFLICT, code, message, NAME_CONFLICT)
    if code in ("ResourceNotFoundException", "NoSuchEntity") or (
        code == "ValidationException" and "not found" in message.lower()
    ):
        return AwsError(Kind.NOT_FOUND, code, message, NOT_FOUND)
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return AwsError(Kind.TERMINAL, code, message, Reason.ACCESS_DENIED)
    if code == "TooManyTagsException":
        return AwsError(Kind.TERMINAL, code, message, Reason.TOO_MANY_TAGS)
    return AwsError(Kind.TERMINAL, code, message, Reason.INVALID_REQUEST)


@dataclass(frozen=True)
class JobInfo:
    name: str
    arn: str
    status: str  # InProgress | Completed | Failed
    model_name: str
    model_arn: str | None
    failure_message: str | None
    created: Any = None
    ended: Any = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    arn: str
    architecture: str | None
    instruct_supported: bool | None
    cmu_per_copy: int | None
    cmu_version: str | None
    job_name: str | None
    # what GetImportedModel adds (observe-only objects report it; None from a listing)
    created: Any = None
    kms_key_arn: str | None = None
    source_s3_uri: str | None = None


#: Calls that change something in AWS (`change=True`) are logged when sent and when answered: after a crash,
#: the log says whether a change may have gone through unanswered (the window the write-ahead status covers).
AUDIT = logging.getLogger("bmo.aws")

#: What a VPC import asks of the service role (Bedrock's VPC guide).
VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)
_RUNTIME_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=60)


def _config(settings: Settings) -> Config:
    """A connection per reconcile worker: botocore's pool of 10 dropped and reopened connections whenever
    more passes than that called one service at once (1,000 models resuming: 424 "pool is full")."""
    return _CONFIG.merge(Config(max_pool_connections=settings.max_workers))


class SharedListing:
    """A listing every object's pass reads (the region's models, its running jobs), listed again when older
    than `max_age`; one refresh at a time, the others wait for it and share it. A failed listing is never a
    verdict on an entry: each is read on its own until the next try."""

    def __init__(self, fetch: Callable[[], dict[str, Any]], what: str, fallback: str) -> None:
        self._fetch, self._what, self._fallback = fetch, what, fallback
        self._listed: tuple[float, dict[str, Any] | None] | None = None  # (monotonic, entries; None: failed)
        self._lock = threading.Lock()

    def get(self, key: str, max_age: float, now: float) -> Any:
        listed = self._listed  # one tuple, replaced whole: a fresh enough one is read without the lock, so
        if listed is not None and now - listed[0] <= max_age:  # a pass never waits for a refresh in flight
            return None if listed[1] is None else listed[1].get(key)
        with self._lock:
            if self._listed is None or now - self._listed[0] > max_age:
                try:
                    self._listed = (now, self._fetch())
                except AwsError as err:
                    AUDIT.warning(f"{self._what} failed: {err.code}; reading {self._fallback}")
                    self._listed = (now, None)
            entries = self._listed[1]
            return None if entries is None else entries.get(key)

    def age(self, now: float) -> float | None:
        """Seconds since the last listing was tried (None: never)."""
        listed = self._listed
        return None if listed is None else now - listed[0]

    def peek(self, key: str, max_age: float, now: float) -> tuple[bool, Any]:
        """(whether a listing at most `max_age` old answered, its entry): never lists; for the clock, which
        must not wait on AWS, nor on the lock a listing in flight holds. A failed listing is not fresh."""
        listed = self._listed  # one tuple, replaced whole: read without the lock
        if listed is None or listed[1] is None or now - listed[0] > max_age:
            return False, None
        return True, listed[1].get(key)


class BedrockClient:
    """Bedrock model import for one region."""

    def __init__(self, settings: Settings, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self._bedrock = new_client(
            session or default_session(),
            "bedrock",
            region_name=region,
            config=_config(settings),
        )
        metrics.instrument(self._bedrock)
        self._per_region(settings.bedrock_rate_limits)

    def _per_region(self, rate_limits: str) -> None:
        """What one client per region and AWS identity (Reconciler.clients) keeps for that region."""
        self.limiter = RegionLimiter(parse_limits(rate_limits))
        self._models = SharedListing(
            lambda: self.list_models(), f"ListImportedModels ({self.region})", "models by ARN"
        )
        self._running = SharedListing(
            lambda: self.running_jobs(), f"ListModelImportJobs ({self.region})", "jobs by name"
        )
        #: since when calls fail unanswered or with a 5xx (None: the last call was answered)
        self.unreachable_since: float | None = None
        #: called (from the calling thread) by the first answered call after such failures
        self.on_recovered: Callable[[], None] | None = None

    def _call(self, action: str, fn, *, change: bool = False, **kwargs: Any) -> dict[str, Any]:
        self.limiter.acquire(action.split()[0])  # the operation: "GetImportedModel <arn>" -> GetImportedModel
        if change:
            AUDIT.info(f"sending {action} ({self.region})")
        try:
            out = fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            err = classify(exc, action)
            if err.reason in OUTAGE_REASONS:
                if self.unreachable_since is None:
                    self.unreachable_since = time.monotonic()
            elif err.reason != Reason.THROTTLED:
                self._answered()  # a refusal is an answer: the service is there
            if err.reason == Reason.THROTTLED:
                pause = self.limiter.throttled()
                AUDIT.warning(f"{action}: throttled; every call to {self.region} waits {pause:.0f}s")
            if change:
                AUDIT.info(f"answered {action}: {err.code}")
            raise err from None
        self.limiter.succeeded()
        if change:
            AUDIT.info(f"answered {action}: ok")
        self._answered()
        return out

    def _answered(self) -> None:
        """A call was answered: after an outage, the objects that backed off from it are woken."""
        if self.unreachable_since is not None:
            self.unreachable_since = None
            if self.on_recovered is not None:
                self.on_recovered()

    def probe(self) -> bool:
        """One cheap call (a one-entry job listing) while the region is unreachable: True once it answers
        (and the objects that backed off are woken by it)."""
        try:
            self._call("ListModelImportJobs", self._bedrock.list_model_import_jobs, maxResults=1)
        except AwsError as err:  # a refusal (access denied) is an answer too: `_call` counted it
            return err.reason not in OUTAGE_REASONS and err.reason != Reason.THROTTLED
        return True

    def _call_or_none(self, action: str, fn, *, change: bool = False, **kwargs: Any) -> dict[str, Any] | None:
        """Like _call, but a missing resource is an answer (None), not an error."""
        try:
            return self._call(action, fn, change=change, **kwargs)
        except AwsError as err:
            if err.kind is Kind.NOT_FOUND:
                return None
            raise

    # read
    def find_job(self, name: str) -> JobInfo | None:
        j = self._call_or_none(
            f"GetModelImportJob {name}", self._bedrock.get_model_import_job, jobIdentifier=name
        )
        if j is None:
            return None
        return JobInfo(
            j["jobName"],
            j["jobArn"],
            j["status"],
            j.get("importedModelName", ""),
            j.get("importedModelArn"),
            j.get("failureMessage"),
            j.get("creationTime"),
            j.get("endTime"),
        )

    def _pages(self, operation: str, fn: Callable[..., dict[str, Any]], key: str, **params: Any):
        """Every entry of a paginated listing, pages of up to 1,000, one call each."""
        token: str | None = None
        while True:
            page = self._call(
                operation, fn, maxResults=1000, **params, **({"nextToken": token} if token else {})
            )
            yield from page.get(key, [])
            token = page.get("nextToken")
            if not token:
                return

    def running_jobs(self) -> dict[str, JobInfo]:
        """Every import job of the region (of this identity) that runs now, by name: ListModelImportJobs
        with statusEquals=InProgress."""
        summaries = self._pages(
            "ListModelImportJobs",
            self._bedrock.list_model_import_jobs,
            "modelImportJobSummaries",
            statusEquals="InProgress",
        )
        return {
            j["jobName"]: JobInfo(
                j["jobName"],
                j["jobArn"],
                j["status"],
                j.get("importedModelName", ""),
                j.get("importedModelArn"),
                None,
                j.get("creationTime"),
                None,
            )
            for j in summaries
            if j.get("status") == "InProgress"
        }

    def running_job(self, name: str, max_age: float, now: float) -> JobInfo | None:
        """The job while the region's shared listing of running jobs shows it (every running job of an
        account and region is followed by one call a poll, not one each). None: not listed running (it
        ended, or was created since the listing, or the listing failed); the caller then reads it by name."""
        return self._running.get(name, max_age, now)

    def peek_running(self, name: str, max_age: float, now: float) -> tuple[bool, JobInfo | None]:
        """What the last listing of running jobs says of `name`, if it is at most `max_age` old (no call)."""
        return self._running.peek(name, max_age, now)

    def running_listing_age(self, now: float) -> float | None:
        """Seconds since the running jobs were last listed (or tried), None: never."""
        return self._running.age(now)

    def refresh_running(self, max_age: float, now: float) -> None:
        """List the running jobs again if the last listing is older than `max_age` (one call)."""
        self._running.get("", max_age, now)

    def find_model(self, name_or_arn: str) -> ModelInfo | None:
        m = self._call_or_none(
            f"GetImportedModel {name_or_arn}", self._bedrock.get_imported_model, modelIdentifier=name_or_arn
        )
        if m is None:
            return None
        cmu = m.get("customModelUnits") or {}
        return ModelInfo(
            m["modelName"],
            m["modelArn"],
            m.get("modelArchitecture"),
            m.get("instructSupported"),
            cmu.get("customModelUnitsPerModelCopy"),
            cmu.get("customModelUnitsVersion"),
            m.get("jobName"),
            m.get("creationTime"),
            m.get("modelKmsKeyArn"),
            ((m.get("modelDataSource") or {}).get("s3DataSource") or {}).get("s3Uri"),
        )

    def list_models(self) -> dict[str, ModelInfo]:
        """Every imported model of the region (of this identity), by ARN: ListImportedModels (the summary has
        what a drift check compares; no CMUs)."""
        summaries = self._pages("ListImportedModels", self._bedrock.list_imported_models, "modelSummaries")
        return {
            m["modelArn"]: ModelInfo(
                m["modelName"],
                m["modelArn"],
                m.get("modelArchitecture"),
                m.get("instructSupported"),
                None,
                None,
                None,
                m.get("creationTime"),
            )
            for m in summaries
        }

    def listed_model(self, arn: str, max_age: float, now: float) -> ModelInfo | None:
        """The model as the region's last listing shows it (one listing serves every object's periodic
        check: a fleet's resync costs a call per 1,000 models, not one per model). None: not in the listing,
        which may lag a model created since; the caller then asks for it by ARN."""
        return self._models.get(arn, max_age, now)

    # create
    def create_job(
        self,
        *,
        job_name: str,
        model_name: str,
        role_arn: str,
        s3_uri: str,
        token: str,
        tags: dict[str, str],
        kms_key_id: str | None,
        vpc: dict | None,
    ) -> str:
        params: dict[str, Any] = {
            "jobName": job_name,
            "importedModelName": model_name,
            "roleArn": role_arn,
            "modelDataSource": {"s3DataSource": {"s3Uri": s3_uri}},
            "clientRequestToken": token,
            "importedModelTags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
            "jobTags": [
                {"key": k, "value": v}
                for k, v in sorted(tags.items())
                if k.startswith("bedrock.modelops.io/")
            ],
        }
        if kms_key_id:
            params["importedModelKmsKeyId"] = kms_key_id
        if vpc:
            params["vpcConfig"] = vpc
        return self._call(
            f"CreateModelImportJob {job_name}", self._bedrock.create_model_import_job, change=True, **params
        )["jobArn"]

    # update
    def tags(self, arn: str) -> dict[str, str]:
        out = self._call("ListTagsForResource", self._bedrock.list_tags_for_resource, resourceARN=arn)
        return {t["key"]: t["value"] for t in out.get("tags", [])}

    def sync_tags(
        self, arn: str, desired: dict[str, str], actual: dict[str, str] | None = None
    ) -> tuple[dict[str, str], list[str]]:
        """Make the model's tags exactly `desired` (`actual`: its tags, when already read); return what was
        added/changed and what was removed."""
        actual = self.tags(arn) if actual is None else actual
        changed = {k: v for k, v in desired.items() if actual.get(k) != v}
        removed = sorted(k for k in actual if k not in desired)
        if changed:
            self._call(
                f"TagResource {arn}",
                self._bedrock.tag_resource,
                change=True,
                resourceARN=arn,
                tags=[{"key": k, "value": v} for k, v in sorted(changed.items())],
            )
        if removed:
            self._call(
                f"UntagResource {arn}",
                self._bedrock.untag_resource,
                change=True,
                resourceARN=arn,
                tagKeys=removed,
            )
        return changed, removed

    # delete
    def delete_model(self, name_or_arn: str) -> bool:
        """Delete; False when it was already gone (NotFound is success)."""
        deleted = self._call_or_none(
            f"DeleteImportedModel {name_or_arn}",
            self._bedrock.delete_imported_model,
            change=True,
            modelIdentifier=name_or_arn,
        )
        return deleted is not None


class SupportClients:
    """IAM, STS, SageMaker and S3: the service role, the account id, a SageMaker model's artifacts, reading
    the model folder for inline validation."""

    def __init__(self, settings: Settings, region: str, session: boto3.Session | None = None) -> None:
        self._boundary = settings.service_role_permissions_boundary
        self._settings = settings
        self._session = session
        self.region = region
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None
        self._account_lock = threading.Lock()

    # Made at first use: most fleets never read a SageMaker model or create a role, and each client
    # keeps its service's model in memory (SageMaker's alone is some 8 MiB).
    @property
    def _iam(self) -> Any:
        return self._client("iam")

    @property
    def _sts(self) -> Any:
        return self._client("sts")

    @property
    def _sm(self) -> Any:
        return self._client("sagemaker")

    @property
    def _runtime(self) -> Any:
        return self._client("bedrock-runtime")

    @property
    def s3(self) -> Any:
        """Reads model folders (Inline validation)."""
        return self._client("s3")

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._made:
                self._made[service] = self._make(service)
            return self._made[service]

    def _make(self, service: str) -> Any:
        s = self._settings
        if service == "s3":
            return S3Folder.make_client(None, self.region, self._session)
        # one attempt per invoke: a cold start (ModelNotReadyException) is waited out across passes, not here
        config = _RUNTIME_CONFIG if service == "bedrock-runtime" else _config(s)
        made = new_client(
            self._session or default_session(),
            service,
            region_name=self.region,
            config=config,
        )
        metrics.instrument(made)
        return made

    def invoke(self, model_arn: str, body: bytes) -> dict[str, Any] | str:
        """InvokeModel once: the parsed JSON answer (or its text). Raises AwsError (ModelNotReadyException
        included, for the caller to wait out)."""
        try:
            out = self._runtime.invoke_model(
                modelId=model_arn, body=body, contentType="application/json", accept="application/json"
            )
            raw = out["body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, "InvokeModel") from None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def account_id(self) -> str:
        """The account these credentials act in, asked of STS once (passes that ask at once share it)."""
        with self._account_lock:  # not self._lock: making the STS client takes that one
            if self._account is None:
                try:
                    self._account = self._sts.get_caller_identity()["Account"]
                except (ClientError, BotoCoreError) as exc:
                    raise classify(exc, "GetCallerIdentity") from None
            return self._account

    def role_problem(self, role_arn: str) -> str | None:
        """Why Bedrock could not use this service role, from IAM, before a job is spent on it (None: it can,
        or IAM would not tell: a role of another account, or one this operator may not read)."""
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[4] != self.account_id():
            return None  # read only in the account these credentials are in
        name = role_arn.rsplit("/", 1)[-1]
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except (ClientError, BotoCoreError) as exc:
            err = classify(exc, f"IAM GetRole {name}")
            if err.kind is Kind.RETRYABLE:
                raise err from None
            if err.kind is not Kind.NOT_FOUND:
                return None  # AccessDenied: left to Bedrock, as before this check
            role = None
        else:
            if role.get("Arn") not in (None, role_arn):
                return None  # a role of that name on another path: not the one named
        return role_check.problem(role_arn, role)

    def sagemaker_s3_uri(self, model_name: str) -> str:
        try:
            model = self._sm.describe_model(ModelName=model_name)
        except (ClientError, BotoCoreError) as exc:
            err = classify(exc, f"SageMaker DescribeModel {model_name}")
            if err.kind is Kind.NOT_FOUND or (
                err.code == "ValidationException" and "not find" in err.message
            ):
                raise SourceError(
                    Kind.TERMINAL,
                    err.code,
                    f"SageMaker model {model_name} does not exist in "
                    f"{self.region}; check spec.source.sageMakerModelName",
                    Reason.SAGEMAKER_MODEL_NOT_FOUND,
                ) from None
            raise err from None
        containers = [model.get("PrimaryContainer") or {}, *list(model.get("Containers") or [])]
        for c in containers:
            uri = ((c.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
            if uri:
                uri = uri if uri.endswith("/") else uri + "/"
                if not re.match(S3_URI_PATTERN, uri) or re.search(DOT_SEGMENT, uri):
                    # a folder with `..` would pass a prefix check on text yet name another folder in S3
                    raise SourceError(
                        Kind.TERMINAL,
                        "InvalidSageMakerModelData",
                        f"SageMaker model {model_name}'s model data {uri[:300]} is not an S3 folder the "
                        f"operator imports (s3://bucket/prefix/, which {DOT_SEGMENT_MESSAGE})",
                        Reason.SOURCE_NOT_ALLOWED,
                    )
                return uri
        raise SourceError(
            Kind.TERMINAL,
            "NoS3DataSource",
            f"SageMaker model {model_name} has no uncompressed S3 "
            "model data source (ModelDataSource.S3DataSource); Bedrock cannot import a model.tar.gz",
            Reason.SAGEMAKER_SOURCE_UNSUPPORTED,
        )

    @staticmethod
    def role_name(me: Identity) -> str:
        """One role per object incarnation (the identity hash): a re-created object never shares one."""
        return f"bmo-import-{me.namespace[:20]}-{me.name[:20]}-{me.hash}"[:64]

    def ensure_role(
        self,
        role_name: str,
        s3_uri: str,
        tags: dict[str, str],
        kms_key_id: str | None = None,
        vpc: bool = False,
    ) -> str:
        """Create (or find) a least-privilege role Bedrock can assume to read exactly `s3_uri` (a folder: its
        objects, not a sibling prefix), use the model's KMS key, and place a VPC import's interfaces."""
        account = self.account_id()
        bucket, _, prefix = s3_uri[len("s3://") :].partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"  # `models/llama*` would also match `models/llama-other/`
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "bedrock.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnEquals": {
                            "aws:SourceArn": f"arn:aws:bedrock:{self.region}:{account}:model-import-job/*"
                        },
                    },
                }
            ],
        }
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:aws:s3:::{bucket}",
                    "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                },
            ],
        }
        if kms_key_id:
            policy["Statement"].append(self._kms_statement(kms_key_id, account))
        if vpc:  # what Bedrock's VPC guide asks of the role: interfaces in the job's subnets
            policy["Statement"].append({"Effect": "Allow", "Action": list(VPC_ACTIONS), "Resource": "*"})
        try:
            try:
                arn = self._iam.create_role(
                    RoleName=role_name,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description="Bedrock Custom Model Import service role (bedrock-model-operator)",
                    Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                    **self._boundary_of(account),
                )["Role"]["Arn"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "EntityAlreadyExists":
                    raise
                existing = self._iam.get_role(RoleName=role_name)["Role"]
                wanted = self._boundary_of(account).get("PermissionsBoundary")
                have = (existing.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
                if wanted and have != wanted:  # made by an earlier version: no policy may be put on it now
                    self.delete_role(role_name)
                    return self.ensure_role(role_name, s3_uri, tags, kms_key_id=kms_key_id, vpc=vpc)
                arn = existing["Arn"]
                self._iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
            self._iam.put_role_policy(
                RoleName=role_name, PolicyName="read-model-source", PolicyDocument=json.dumps(policy)
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"IAM role {role_name}") from None
        return arn

    def _boundary_of(self, account: str) -> dict[str, str]:
        """The permissions boundary the role is created under: whatever the role's policy says, it can do no
        more than read model files, use this account's keys and place VPC interfaces."""
        name = self._boundary
        if not name:
            return {}
        arn = name if name.startswith("arn:") else f"arn:aws:iam::{account}:policy/{name}"
        return {"PermissionsBoundary": arn}

    def _kms_statement(self, key: str, account: str) -> dict[str, Any]:
        """Use of the model's key: by key ARN, or, for an alias, any key that carries it (IAM does not match
        an alias ARN as the key resource)."""
        # CreateGrant: the import guide's customer-managed-key page lists it besides the three others
        actions = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"]
        alias = key if key.startswith("alias/") else None
        if key.startswith("arn:") and ":alias/" in key:
            alias = "alias/" + key.split(":alias/", 1)[1]
        if alias:
            return {
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:kms:{self.region}:{account}:key/*",
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}},
            }
        arn = key if key.startswith("arn:") else f"arn:aws:kms:{self.region}:{account}:key/{key}"
        return {"Effect": "Allow", "Action": actions, "Resource": arn}

    def delete_role(self, role_name: str) -> None:
        try:
            for policy in self._iam.list_role_policies(RoleName=role_name).get("PolicyNames", []):
                self._iam.delete_role_policy(RoleName=role_name, PolicyName=policy)
            self._iam.delete_role(RoleName=role_name)
        except (ClientError, BotoCoreError) as exc:
            err = classify(exc, f"IAM DeleteRole {role_name}")
            if err.kind is not Kind.NOT_FOUND:
                raise err from None


class ModelReads:
    """Only the two reads of a model, and no method that changes anything: what an observe-only object
    (BedrockObservedModel) is given, so that no code path of it can tag, delete or import."""

    def __init__(self, bedrock: BedrockClient) -> None:
        self._bedrock = bedrock

    def find_model(self, name_or_arn: str) -> ModelInfo | None:
        return self._bedrock.find_model(name_or_arn)

    def tags(self, arn: str) -> dict[str, str]:
        return self._bedrock.tags(arn)


class RegionClients(NamedTuple):
    """What one region (of one AWS identity) is reached through: Bedrock's control plane, and the services
    around it (IAM roles, SageMaker, S3, the runtime)."""

    bedrock: BedrockClient
    support: SupportClients
