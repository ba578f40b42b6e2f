"""What a reconcile remembers about one object between its passes in this process.

A small value the runtime keeps per object and hands to every pass (`Reconciler.reconcile`); the pass
updates it. Nothing in it is needed for correctness after a restart (status and Bedrock hold the truth):
it makes steady objects cheap (when the model was last checked against Bedrock, when its tags were) and
keeps the import queue's tie-break (the order the operator saw objects arrive).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Memory:
    #: queue tie-break: creationTimestamp, then the order the operator saw it (`WorkQueue.note_arrival`)
    arrival: str | None = None
    #: (monotonic, generation) of the last check against Bedrock
    last_sync: tuple[float, int] | None = None
    #: monotonic time the model's tags were last read and set right
    last_tag_check: float | None = None
    #: (job name, job ARN, when sent) of the last create Bedrock accepted in this process: when the status
    #: write that recorded it was lost (the apiserver away), the next pass finds the job by name instead of
    #: sending the create again (creates are paced at one a second per region: after an outage, N objects'
    #: repeated creates took N seconds)
    created: tuple[str, str, str] | None = None
