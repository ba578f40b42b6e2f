"""One emulated Bedrock per AWS account, chosen by who calls, as Bedrock scopes jobs and models.

The caller's account comes from its access key: STS (moto) answers GetCallerIdentity for that key, and an
assumed role's key belongs to the role's account. So an operator that assumes a team's role imports into
the team's account, and its own account never sees those jobs or models. Without an STS endpoint every
caller is the default account.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bmo_devtools.emulator.protocol import ApiError
from bmo_devtools.emulator.state import ArtifactCheck, BedrockState

_ACCESS_KEY = re.compile(r"Credential=([^/]+)/")


class Accounts:
    def __init__(
        self,
        default: BedrockState,
        check_for: Callable[[str], ArtifactCheck] | None = None,
        sts_endpoint: str | None = None,
    ) -> None:
        self.default = default
        self._check_for = check_for  # the artifact check acting with the caller's key (its account's IAM)
        self._sts_endpoint = sts_endpoint
        self._lock = threading.Lock()
        self._by_key: dict[str, str] = {}
        self._states: dict[str, BedrockState] = {default.account: default}

    def for_request(self, authorization: str) -> BedrockState:
        match = _ACCESS_KEY.search(authorization)
        if not match or self._sts_endpoint is None:
            return self.default
        key = match.group(1)
        account = self._account_of(key)
        with self._lock:
            state = self._states.get(account)
            if state is None:
                check = self._check_for(key) if self._check_for else self.default.check
                state = BedrockState(check, account=account)
                state.set_faults(dict(self.default.faults.__dict__))
                self._states[account] = state
            return state

    def _account_of(self, key: str) -> str:
        with self._lock:
            if key in self._by_key:
                return self._by_key[key]
        sts = boto3.client(
            "sts",
            endpoint_url=self._sts_endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key="unused-by-moto",
        )
        try:
            account = sts.get_caller_identity()["Account"]
        except (ClientError, BotoCoreError) as exc:  # never guess an account: a wrong one passes tests
            raise ApiError(
                "AccessDeniedException", f"The security token included in the request is invalid ({exc})."
            ) from None
        with self._lock:
            self._by_key[key] = account
        return account

    def all(self) -> list[BedrockState]:
        with self._lock:
            return list(self._states.values())

    def others(self) -> dict[str, BedrockState]:
        with self._lock:
            return {a: s for a, s in self._states.items() if s is not self.default}
