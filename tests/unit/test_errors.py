"""How a failure is read: the AWS error classifier (`controller/aws/clients.py` `classify`), retried or
terminal and with the reason the user reads, and the reason of an unreadable source
(`controller/artifacts/sources.py`), the same in both validation modes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from controller.artifacts.sources import source_error_reason
from controller.aws.clients import Kind, classify


def _client_error(code: str, message: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CreateModelImportJob",
    )


@pytest.mark.parametrize(
    "code, message, status, kind, reason",
    [
        ("ThrottlingException", "slow down", 429, Kind.RETRYABLE, "Throttled"),
        ("InternalServerException", "oops", 500, Kind.RETRYABLE, "AwsServiceError"),
        (
            "ValidationException",
            "The provided role ARN is invalid.",
            400,
            Kind.RETRYABLE,
            "WaitingForIAMPropagation",
        ),
        (
            "ServiceQuotaExceededException",
            "quota for concurrent model import jobs",
            400,
            Kind.QUEUE,
            "Queued",
        ),
        (
            "ServiceQuotaExceededException",
            "quota for imported models",
            400,
            Kind.QUOTA,
            "ImportedModelQuotaExceeded",
        ),
        ("ConflictException", "exists", 400, Kind.CONFLICT, "NameConflict"),
        (
            "ValidationException",
            "The provided job name is currently in use.",
            400,
            Kind.JOB_NAME_TAKEN,
            "JobNameInUse",
        ),
        ("ResourceNotFoundException", "no such job", 404, Kind.NOT_FOUND, "NotFound"),
        ("AccessDeniedException", "not allowed", 403, Kind.TERMINAL, "AccessDenied"),
        ("ValidationException", "bad jobName", 400, Kind.TERMINAL, "InvalidRequest"),
        ("TooManyTagsException", "too many", 400, Kind.TERMINAL, "TooManyTags"),
        # a 5xx whose code the classifier has never heard of is still the service's trouble: retried
        ("ServiceFailureException", "try later", 503, Kind.RETRYABLE, "AwsServiceError"),
    ],
)
def test_error_classifier(code, message, status, kind, reason):
    err = classify(_client_error(code, message, status), "CreateModelImportJob x")
    assert (err.kind, err.reason) == (kind, reason)


def test_network_errors_are_retryable():
    err = classify(EndpointConnectionError(endpoint_url="https://bedrock.us-east-1.amazonaws.com"), "x")
    assert err.kind is Kind.RETRYABLE and err.reason == "AwsUnreachable"


def test_the_error_classifier_on_codes_no_end_to_end_test_meets():
    from controller.aws.clients import classify
    from controller.errors import Kind

    assert classify(_client_error("SomethingNew", "boom", 500), "Op").kind is Kind.RETRYABLE
    assert classify(_client_error("SomethingNew", "boom", 503), "Op").kind is Kind.RETRYABLE
    assert classify(_client_error("NoSuchEntity", "role gone", 404), "Op").kind is Kind.NOT_FOUND
    propagating = classify(
        _client_error("ValidationException", "The provided role ARN is invalid.", 400), "Op"
    )
    assert (propagating.kind, propagating.reason) == (Kind.RETRYABLE, "WaitingForIAMPropagation")
    bad_uri = classify(_client_error("ValidationException", "The S3 URI is invalid.", 400), "Op")
    assert bad_uri.kind is not Kind.RETRYABLE and bad_uri.reason != "WaitingForIAMPropagation", bad_uri


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("AccessDenied", "SourceAccessDenied"),
        ("AllAccessDisabled", "SourceAccessDenied"),
        ("403", "SourceAccessDenied"),
        ("NoSuchBucket", "SourceNotFound"),
        ("InvalidUri", "SourceNotFound"),
        ("404", "SourceNotFound"),
        ("EndpointConnectionError", None),
        ("SlowDown", None),
    ],
)
def test_unreadable_source_reason_is_the_same_in_both_validation_modes(code, reason):
    """Inline validation and validation Jobs read one mapping; None = transient, retried."""
    assert source_error_reason(code) == reason
