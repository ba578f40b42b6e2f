"""Which objects follow which running import job, so the clock leaves them be while their account and
region's shared listing shows the job running, and wakes them the moment it does not.

With a pass per running job at every job poll, 200 jobs at once were 400 passes a second on the
operator's cores: job ends were noticed seconds late and freed slots idled (bench/control_loop.py,
`--models 400 --slots 200 --job-seconds 20 --validation Skip`). Now the clock refreshes each listing once
a job poll and runs a pass only for an object whose job the listing no longer shows running, or that has
had no pass for a whole poll (what a pass shows while a job runs still moves that often).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from controller.aws.clients import BedrockClient


@dataclass
class _Followed:
    client: BedrockClient
    job_name: str
    job_arn: str
    seen_at: float  # monotonic time of the pass that saw it running


class JobWatch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_uid: dict[str, _Followed] = {}

    def follow(self, uid: str, client: BedrockClient, job_name: str, job_arn: str, now: float) -> None:
        """A pass saw this object's job running in the shared listing."""
        with self._lock:
            self._by_uid[uid] = _Followed(client, job_name, job_arn, now)

    def drop(self, uid: str) -> None:
        """Its job is not (or no longer) followed through the listing: its ticks run passes again."""
        with self._lock:
            self._by_uid.pop(uid, None)

    def leaves_be(self, uid: str, now: float, max_age: float, poll_seconds: float) -> bool:
        """Whether a tick of the object may skip its pass: a listing at most `max_age` old shows its job
        running, by ARN, and a pass saw it less than a poll ago."""
        with self._lock:
            f = self._by_uid.get(uid)
        if f is None or now - f.seen_at >= poll_seconds:
            return False
        fresh, job = f.client.peek_running(f.job_name, max_age, now)
        return fresh and job is not None and job.arn == f.job_arn

    def clients(self) -> list[BedrockClient]:
        """The clients whose listing some object follows (each once)."""
        with self._lock:
            return list({id(f.client): f.client for f in self._by_uid.values()}.values())

    def ended(self, client: BedrockClient, now: float, max_age: float) -> list[str]:
        """The objects following a job of `client` that its fresh listing no longer shows running; they are
        no longer followed (a pass that still sees the job running follows it again), so an object whose
        pass never looks again (paused, deleted) is woken once, not at every refresh."""
        with self._lock:
            followed = {uid: f for uid, f in self._by_uid.items() if f.client is client}
        gone = []
        for uid, f in followed.items():
            fresh, job = client.peek_running(f.job_name, max_age, now)
            if fresh and (job is None or job.arn != f.job_arn):
                gone.append(uid)
        out = []
        with self._lock:
            for uid in gone:
                # not followed again, nor dropped by a pass that saw the end itself (and may since hold a
                # slot for its next create: that one must not be handed over)
                if self._by_uid.get(uid) is followed[uid]:
                    self._by_uid.pop(uid, None)
                    out.append(uid)
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_uid)
