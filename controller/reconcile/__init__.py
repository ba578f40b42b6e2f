"""Decide and act for one BedrockImportedModel: from manifest to a Ready model, through revisions.

Level-based: `Reconciler.reconcile(body)` looks at the object's status and at Bedrock and takes the next
step, whatever happened before (a crash, a restart, a missed event). It talks to AWS only through
`controller.aws` and to Kubernetes only through `controller.kube.validation_jobs`; it never writes the
object itself but returns an `Outcome` (the typed status, conditions, Events) that the runtime writes
(`controller.kube.status_store`).

Modules, one responsibility each: `context` (one pass's inputs), `admission` (the namespace's policies),
`validation` and `source_pin` (what is imported is what was validated), `import_queue` (Bedrock's one slot
per account and region), `importing` (the write-ahead create, following the job, adoption), `given_up`
(creates Bedrock may apply late), `serving` (promotion, drift, retiring superseded models), `smoke`,
`failures` (terminal failures and when they are retried), `deletion`, and `reconciler` (the order).
"""

from controller.reconcile.context import PAUSE_ANNOTATION, RETRY_ANNOTATION, View
from controller.reconcile.deletion import Finalized
from controller.reconcile.outcome import Outcome, QueueState
from controller.reconcile.reconciler import Reconciler

__all__ = ["PAUSE_ANNOTATION", "RETRY_ANNOTATION", "Finalized", "Outcome", "QueueState", "Reconciler", "View"]
