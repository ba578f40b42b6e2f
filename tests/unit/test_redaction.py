"""Redaction (`controller/redact.py`): no credential, signature or secret of a message reaches a log,
an Event or status, and a message is bounded."""

from __future__ import annotations

from controller.redact import redact


def test_redaction():
    text = (
        "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAABCDEFGHIJKLMNOP%2F&X-Amz-Signature=abc123 "
        "key AKIAABCDEFGHIJKLMNOP secret=hunter2 Authorization: AWS4-HMAC-SHA256 Credential=..."
    )
    out = redact(text)
    for leaked in ("AKIAABCDEFGHIJKLMNOP", "abc123", "hunter2", "AWS4-HMAC"):
        assert leaked not in out
    # a presigned query without its scheme and host (as a request line or an S3 error quotes it)
    for bare in (
        "PUT /bucket/key?X-Amz-Security-Token=tok123&X-Amz-Signature=sig456 failed",
        "PUT /bucket/key?X-Amz-Date=20261129T000000Z&X-Amz-Signature=sig456 failed",
    ):
        out = redact(bare)
        assert "tok123" not in out and "sig456" not in out and out.endswith(" failed"), out
    assert len(redact("x" * 5000)) == 2048
