"""Where an AWS service answers when it is not AWS: botocore's own `AWS_ENDPOINT_URL_<SERVICE>` and
`AWS_ENDPOINT_URL` (the dev stack's emulators, a VPC endpoint, LocalStack).

The operator's clients take no endpoint of ours: botocore reads these variables itself. This only says
where a service is for what must pass it on, the validation Job's S3 reads (a pod does not inherit the
operator's environment).
"""

from __future__ import annotations

import os


def configured_endpoint(service_id: str) -> str | None:
    """The endpoint botocore would take for `service_id` ("s3", "bedrock-runtime") from the environment."""
    key = "AWS_ENDPOINT_URL_" + service_id.upper().replace("-", "_").replace(" ", "_")
    return os.environ.get(key) or os.environ.get("AWS_ENDPOINT_URL") or None
