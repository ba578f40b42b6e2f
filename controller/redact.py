"""Keep credentials, tokens and presigned URLs out of logs, Events and status."""

from __future__ import annotations

import re

_PATTERNS = [
    (re.compile(r"(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+"), r"\1[REDACTED]"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[REDACTED-ACCESS-KEY]"),
    (
        re.compile(r"(?i)(aws_secret_access_key|secret|token|password)(\s*[=:]\s*)[^\s,;\"']+"),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"(?i)(Authorization:\s*)\S.*"), r"\1[REDACTED]"),
    (re.compile(r"https?://[^\s\"']*\?[^\s\"']*X-Amz-[^\s\"']*"), "[REDACTED-PRESIGNED-URL]"),
]


def redact(text: str, limit: int = 2048) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
