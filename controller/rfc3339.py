"""Kubernetes' time format (RFC 3339, UTC, whole seconds): written in status, conditions and Events, read
back to measure how long ago something happened."""

from __future__ import annotations

import datetime as dt

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(FORMAT)


def now() -> str:
    return format_time(dt.datetime.now(dt.UTC))


def parse(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, FORMAT).replace(tzinfo=dt.UTC)
