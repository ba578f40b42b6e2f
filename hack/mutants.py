#!/usr/bin/env python3
"""Mutation testing over a listed set of mutations of the core modules (by hand, not in CI).

Each mutation is a defect someone could plausibly write: one exact edit of one file. For each, the
script copies the tree (without .git and .venv) to a scratch folder, applies the edit there, runs only
the tests a reader would expect to catch it, and records whether they failed ("killed") or passed
("survived"). The working tree is never touched, so it can run while you work.

    .venv/bin/python hack/mutants.py -j 2                          # all mutations, kill rate per package
    .venv/bin/python hack/mutants.py -j 2 -p controller/tenancy    # those of one package
    .venv/bin/python hack/mutants.py redact-noop                   # some, by id
    .venv/bin/python hack/mutants.py --list [-p PACKAGE]

Why a list and not mutmut: mutmut mutates every operator of every line and runs the whole selection per
mutant; with the end-to-end tests a real control plane needs, that is days on two cores. A list of
meaningful defects, each with the tests meant to catch it, and a survivor is a finding, not noise. The
whole list (about 170) takes about a quarter of an hour on two cores with `-j 2`; one package's part (`-p`)
or a few ids run in a minute or two, which is how it is used while changing code. A mutation that cannot change behaviour is marked `equivalent` with the reason.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]  # pytest arguments: node ids or `-k` expressions
    what: str
    equivalent: str = ""  # why no test can tell (then it is not counted)


NAMING = "tests/unit/test_naming.py"
QUEUE = "tests/unit/test_import_queue.py"
ERRORS = "tests/unit/test_errors.py"
E2E = "tests/cluster/test_operator_e2e.py"
OWN = "tests/cluster/test_ownership_e2e.py"
FAULTS = "tests/cluster/test_faults_e2e.py"
PROPERTY = "tests/unit/test_invariants.py"
CORPUS = "tests/unit/test_validator_corpus.py"
PARTIAL = "tests/unit/test_partial_failures.py"
ADOPTION = "tests/unit/test_adoption.py"
TENANCY = "tests/unit/test_tenancy.py"
TRUST = "tests/unit/test_validation_trust.py"
CLIENTS = "tests/unit/test_aws_clients.py"
LEADERSHIP = "tests/unit/test_leadership.py"
JOB_WATCH = "tests/unit/test_job_watch.py"
OUTAGE = "tests/unit/test_outage_recovery.py"
KUBE_TIMEOUTS = "tests/unit/test_kube_timeouts.py"
STATUS_WRITES = "tests/unit/test_status_writes.py"
TICKS = "tests/unit/test_ticks.py"
JOB_FOLLOWING = (JOB_WATCH, "tests/unit/test_job_listing.py")
WEIGHTS = ("tests/unit/test_weights_plan.py", "tests/unit/test_weights_sanity.py")

MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "worker-once-stacks",
        "controller/runtime/operator.py",
        "        if id(client) in busy:\n            return\n",
        "",
        (JOB_WATCH, "tests/unit/test_outage_recovery.py"),
        "A listing or probe that hangs gathers one more call at every tick (AWS late: calls pile up).",
    ),
    Mutation(
        "job-watch-deleted-mid-pass-kept",
        "controller/runtime/operator.py",
        "                self.reconciler.job_watch.drop(uid)  # nor a job it followed\n",
        "",
        ("tests/unit/test_status_writes.py",),
        "An object deleted while its pass followed its job stays followed: its listing is read twice a "
        "second until the process restarts.",
    ),
    Mutation(
        "blind-jw-leaves-be-ignores-pass-age",
        "controller/reconcile/job_watch.py",
        "if f is None or now - f.seen_at >= poll_seconds:",
        "if f is None:",
        JOB_FOLLOWING,
        "While the listing shows an object's job running, it gets no pass for the whole job. (written blind by a helper)",
    ),
    Mutation(
        "blind-jw-ended-never-drops",
        "controller/reconcile/job_watch.py",
        "if self._by_uid.get(uid) is followed[uid]:",
        "if self._by_uid.get(uid) is not followed[uid]:",
        JOB_FOLLOWING,
        "An object whose job ended is never unfollowed: a paused one is woken at every job poll, with listings forever. (written blind by a helper)",
    ),
    Mutation(
        "blind-jw-ended-any-client",
        "controller/reconcile/job_watch.py",
        "followed = {uid: f for uid, f in self._by_uid.items() if f.client is client}",
        "followed = {uid: f for uid, f in self._by_uid.items()}",
        JOB_FOLLOWING,
        "With two regions or accounts, one listing's refresh wakes and unfollows the objects whose jobs run elsewhere. (written blind by a helper)",
    ),
    Mutation(
        "blind-jw-refresh-on-event-loop",
        "controller/runtime/operator.py",
        "self._in_worker_once(self._refreshing, bedrock, refresh)",
        "refresh()",
        JOB_FOLLOWING,
        "The listing call runs on the event loop once a job poll: every tick and kopf handler stalls while AWS answers. (written blind by a helper)",
    ),
    Mutation(
        "blind-jw-refresh-skip-inverted",
        "controller/runtime/operator.py",
        "if age is not None and age < 0.9 * job_poll:",
        "if age is not None and age > 0.9 * job_poll:",
        JOB_FOLLOWING,
        "The clock never refreshes a stale listing: a job's end is noticed late and freed slots idle. (written blind by a helper)",
    ),
    Mutation(
        "blind-jw-follow-seen-at-max-age",
        "controller/reconcile/importing.py",
        "rec.job_arn, p.job_listing[1])",
        "rec.job_arn, p.job_listing[0])",
        JOB_FOLLOWING,
        "The followed job's seen time is the listing's max age: the clock never leaves a running-job object alone. (written blind by a helper)",
    ),
    Mutation(
        "blind-jw-running-job-only-peeks",
        "controller/aws/clients.py",
        "return self._running.get(name, max_age, now)",
        "return self._running.peek(name, max_age, now)[1]",
        JOB_FOLLOWING,
        "Passes never list running jobs: nothing is followed, and every pass reads its job by name. (written blind by a helper)",
    ),
    Mutation(
        "job-watch-peek-waits-for-listing",
        "controller/aws/clients.py",
        "        listed = self._listed  # one tuple, replaced whole: read without the lock\n",
        "        with self._lock:\n            listed = self._listed\n",
        (JOB_WATCH,),
        "The clock's tick waits on the event loop for a listing call in flight (up to botocore's timeouts): "
        "kopf's watches and liveness stop with it.",
    ),
    Mutation(
        "job-watch-ended-kept",
        "controller/reconcile/job_watch.py",
        "                    self._by_uid.pop(uid, None)\n                    out.append(uid)",
        "                    out.append(uid)",
        (JOB_WATCH,),
        "A paused object whose job ended is woken at every refresh (a pass every half second, listings "
        "forever) instead of once.",
    ),
    Mutation(
        "job-watch-never-leaves-be",
        "controller/runtime/operator.py",
        "if not item.dirty and watch.leaves_be(uid, now, 2 * s.job_poll_seconds, s.poll_seconds):",
        "if False:",
        (JOB_WATCH,),
        "Every running job costs a pass per job poll again: 200 jobs at once are 400 passes a second.",
    ),
    Mutation(
        "job-watch-dirty-waits",
        "controller/runtime/operator.py",
        "if not item.dirty and watch.leaves_be(uid, now, 2 * s.job_poll_seconds, s.poll_seconds):",
        "if watch.leaves_be(uid, now, 2 * s.job_poll_seconds, s.poll_seconds):",
        (JOB_WATCH,),
        "A pause or retry annotation made during a pass waits for the import job to end.",
    ),
    Mutation(
        "job-watch-arn-not-checked",
        "controller/reconcile/job_watch.py",
        "return fresh and job is not None and job.arn == f.job_arn",
        "return fresh and job is not None",
        (JOB_WATCH,),
        "A job of the same name with another ARN keeps the object waiting for a job that is not its own.",
    ),
    Mutation(
        "job-watch-no-poll-fallback",
        "controller/reconcile/job_watch.py",
        "if f is None or now - f.seen_at >= poll_seconds:",
        "if f is None:",
        (JOB_WATCH,),
        "An object whose job runs for hours gets no pass at all while it runs.",
    ),
    Mutation(
        "job-watch-end-not-woken",
        "controller/runtime/operator.py",
        "self._hand_over(watch.ended(client, self.reconciler.monotonic(), 2 * job_poll))",
        "self._hand_over([])",
        (JOB_WATCH,),
        "A job's end is noticed at its object's next tick, up to a job poll later than the refresh that saw it.",
    ),
    Mutation(
        "hand-over-slot-kept",
        "controller/runtime/operator.py",
        'metrics.SLOTS_FREED.labels("listing").inc()\n                freed = True',
        'metrics.SLOTS_FREED.labels("listing").inc()\n                freed = False',
        (JOB_WATCH,),
        "A freed slot waits for the ended object's own pass before the next create is queued.",
    ),
    Mutation(
        "job-watch-end-seen-by-pass-handed-over",
        "controller/reconcile/job_watch.py",
        "if self._by_uid.get(uid) is followed[uid]:",
        "if True:",
        (JOB_WATCH,),
        "An end the object's own pass saw first (it may hold the slot for its next create) is handed over too.",
    ),
    Mutation(
        "lost-write-create-sent-again",
        "controller/reconcile/importing.py",
        "if created is None or created[0] != rec.job_name or rec.job_arn is not None:",
        "if True:",
        (OUTAGE,),
        "A create whose status write was lost is sent again (paced 1/s per region) though this process knows its job.",
    ),
    Mutation(
        "lost-write-remembered-job-not-checked",
        "controller/reconcile/importing.py",
        "if job is None or job.arn != created[1]:",
        "if job is None:",
        (OUTAGE,),
        "A job of the remembered name is recorded as this process's create though its ARN is another one.",
    ),
    Mutation(
        "lost-write-any-intent-matched",
        "controller/reconcile/importing.py",
        "if created is None or created[0] != rec.job_name or rec.job_arn is not None:",
        "if created is None or rec.job_arn is not None:",
        (OUTAGE,),
        "An intent naming another job than the one this process created is matched by its memory.",
    ),
    Mutation(
        "kube-call-without-timeout",
        "controller/kube/client.py",
        "_request_timeout=_request_timeout or CALL_TIMEOUT",
        "_request_timeout=_request_timeout",
        (KUBE_TIMEOUTS,),
        "A request the apiserver accepted and holds keeps a reconcile thread (and its object's lock) forever.",
    ),
    Mutation(
        "object-timeout-cut-short",
        "controller/kube/client.py",
        "OBJECT_TIMEOUT = (5.0, 15.0)",
        "OBJECT_TIMEOUT = (5.0, 1.0)",
        (KUBE_TIMEOUTS,),
        "A pass's read and write give up after a second: a loaded apiserver's slow answers become failed passes.",
    ),
    Mutation(
        "kube-read-timeout-resent",
        "controller/kube/client.py",
        "configuration.retries = urllib3.Retry(total=3, read=0, redirect=0)",
        "pass",
        (KUBE_TIMEOUTS,),
        "A read that timed out is sent again three times: four timeouts before the pass knows.",
    ),
    Mutation(
        "pass-read-long-timeout",
        "controller/kube/status_store.py",
        "GROUP, VERSION, namespace, self._plural, name, _request_timeout=OBJECT_TIMEOUT",
        "GROUP, VERSION, namespace, self._plural, name",
        (KUBE_TIMEOUTS,),
        "A pass's read of its object waits the long timeout of a list, not the short one of one object.",
    ),
    Mutation(
        "noop-status-write-sent",
        "controller/kube/status_store.py",
        'return merge_patched(current, patch["status"]) == current',
        "return False",
        (STATUS_WRITES,),
        "A pass that decides the status it read still sends its PATCH (20 a second at 200 running jobs).",
    ),
    Mutation(
        "noop-status-write-events-dropped",
        "controller/runtime/pass_runner.py",
        "            self.emit(fresh, out.events, revision)\n            return",
        "            return",
        (STATUS_WRITES,),
        "The Events of a pass whose status changed nothing are not posted.",
    ),
    Mutation(
        "merge-patch-removal-ignored",
        "controller/kube/status_store.py",
        "            out.pop(key, None)",
        "            continue",
        (STATUS_WRITES,),
        "A pass whose only change removes a field (queuePosition once the slot came) is taken for no change.",
    ),
    Mutation(
        "pass-duration-counts-skips",
        "controller/runtime/operator.py",
        "            if result.ended is not Ended.SKIPPED:\n                metrics.PASS_DURATION",
        "            if True:\n                metrics.PASS_DURATION",
        (TICKS,),
        "Ticks skipped cheaply count as passes: the pass-duration histogram is mostly zeros.",
    ),
    Mutation(
        "queue-wait-from-nowhere",
        "controller/runtime/operator.py",
        "item.queued_at, item.queued_by = self.reconciler.monotonic(), queued_by",
        "item.queued_by = queued_by",
        (TICKS,),
        "A pass's wait for a worker is not measured from when it was queued.",
    ),
    Mutation(
        "queue-wait-tick-as-wake",
        "controller/runtime/operator.py",
        'queued += self._submit(uid, added, "tick")',
        "queued += self._submit(uid, added)",
        (TICKS,),
        "The clock's ticks are counted as wakes: a backlog of routine looks reads as slots' wakes waiting.",
    ),
    Mutation(
        "listing-read-waits-for-refresh",
        "controller/aws/clients.py",
        "        if listed is not None and now - listed[0] <= max_age:  # a pass never waits for a refresh in flight",
        "        if False:",
        JOB_FOLLOWING,
        "A pass whose bound the last listing meets still waits for the clock's refresh in flight (seconds).",
    ),
    Mutation(
        "handover-only-from-own-listing",
        "controller/runtime/operator.py",
        "                self._hand_over(watch.ended(bedrock, now, 2 * job_poll))  # decisions only: no call\n",
        "",
        JOB_FOLLOWING,
        "An end that a pass's listing showed waits for the clock's own refresh (seldom due) or the ended "
        "object's pass: at 200 slots, a freed slot idled a second on average.",
    ),
    Mutation(
        "slots-freed-pass-counts-kept",
        "controller/runtime/operator.py",
        '            if held and not self.reconciler.queue.holds(uid):\n                metrics.SLOTS_FREED.labels("pass").inc()\n            if result',
        '            if held:\n                metrics.SLOTS_FREED.labels("pass").inc()\n            if result',
        ("tests/unit/test_ticks.py",),
        "A pass that keeps its slot (its job runs) is counted as freeing it: the share of slots that waited "
        "for a pass, the sign of a hand-over that does not happen, reads high whatever happens.",
    ),
    Mutation(
        "listing-read-any-age",
        "controller/aws/clients.py",
        "        if listed is not None and now - listed[0] <= max_age:  # a pass never waits for a refresh in flight",
        "        if listed is not None:",
        JOB_FOLLOWING,
        "A listing of any age is read as fresh: a job that ended since is followed as running.",
    ),
    Mutation(
        "blind2-listing-read-under-lock",
        "controller/aws/clients.py",
        "        listed = self._listed  # one tuple, replaced whole: a fresh enough one is read without the lock, so\n",
        "        with self._lock:\n            listed = self._listed\n",
        JOB_FOLLOWING,
        "Every pass takes the listing lock even for a fresh listing, so passes stall behind a slow ListModelImportJobs/ListImportedModels refresh in flight. (written blind by a helper)",
    ),
    Mutation(
        "blind2-failed-listing-crashes-fast-path",
        "controller/aws/clients.py",
        "            return None if listed[1] is None else listed[1].get(key)\n",
        "            return listed[1].get(key)\n",
        JOB_FOLLOWING,
        "After a listing fails, every pass within max_age crashes with AttributeError (PassFailed Events, backoff) instead of falling back to reading the job/model by name. (written blind by a helper)",
    ),
    Mutation(
        "blind2-wake-default-labelled-tick",
        "controller/runtime/operator.py",
        '    def _submit(self, uid: str, item: Item, queued_by: str = "wake") -> bool:\n',
        '    def _submit(self, uid: str, item: Item, queued_by: str = "tick") -> bool:\n',
        (TICKS,),
        'Wakes (freed slot, job end, edit during a pass, validation Job, AWS back) are recorded as queued_by="tick", so the wake queue-wait series never moves. (written blind by a helper)',
    ),
    Mutation(
        "blind2-queue-wait-includes-pass",
        "controller/runtime/operator.py",
        '        item.queued = False\n        metrics.QUEUE_WAIT.labels(queued_by).observe(max(0.0, self.reconciler.monotonic() - queued_at))\n        glance = item.glance\n        if glance is None:\n            return\n        log = _ObjectLog(POLL_LOG, {"object": glance.ref})\n        try:\n            self.run_reconcile(kopf.Body(glance.body), log, event=False)\n',
        '        item.queued = False\n        glance = item.glance\n        if glance is None:\n            return\n        log = _ObjectLog(POLL_LOG, {"object": glance.ref})\n        try:\n            self.run_reconcile(kopf.Body(glance.body), log, event=False)\n            metrics.QUEUE_WAIT.labels(queued_by).observe(max(0.0, self.reconciler.monotonic() - queued_at))\n',
        (TICKS,),
        "Queue wait is observed after the pass ends (and not at all for forgotten glances or failed passes), so bmo_workqueue_queue_duration_seconds reports wait plus pass time and misses some queued passes. (written blind by a helper)",
    ),
    Mutation(
        "blind2-wake-series-not-preinitialised",
        "controller/metrics.py",
        'for _by in ("tick", "wake"):\n',
        'for _by in ("tick",):\n',
        (TICKS,),
        'The queued_by="wake" queue-wait series is absent from /metrics until the first wake, so dashboards and alerts on it see no data after a restart. (written blind by a helper)',
    ),
    Mutation(
        "event-passes-not-timed",
        "controller/runtime/operator.py",
        "            if result.ended is not Ended.SKIPPED:\n",
        "            if result.ended is not Ended.SKIPPED and not event:\n",
        (TICKS,),
        "Passes kopf hands over (creates, edits) are left out of the pass-duration histogram.",
    ),
    Mutation(
        "dirty-after-pass-not-woken",
        "controller/runtime/operator.py",
        "if item.dirty and not item.gone:  # an edit or annotation came during this pass: its pass now",
        "if False:",
        (STATUS_WRITES,),
        "An edit that came during a pass that wrote nothing waits for the object's next tick (up to a poll).",
    ),
    Mutation(
        "event-long-timeout",
        "controller/kube/events.py",
        "return raw(self._settings, method, path, body, timeout=OBJECT_TIMEOUT)",
        "return raw(self._settings, method, path, body)",
        (KUBE_TIMEOUTS,),
        "An Event posted to a held apiserver keeps the object's lock for the long timeout of a list.",
    ),
    Mutation(
        "list-nulls-kept",
        "controller/kube/status_store.py",
        "        return _pruned(patch)",
        "        return patch",
        (STATUS_WRITES,),
        "Null fields inside a list (superseded entries) make every pass look like a change and write.",
    ),
    Mutation(
        "lease-release-unbounded",
        "controller/runtime/leadership.py",
        "lease = coordination.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.retry)",
        "lease = coordination.read_namespaced_lease(self.name, self.namespace)",
        (KUBE_TIMEOUTS,),
        "Releasing the Lease through a held apiserver keeps a stopping process for the client's long timeout.",
    ),
    Mutation(
        "hand-over-mid-pass-released",
        "controller/runtime/operator.py",
        "if item is not None and not item.lock.locked() and self.reconciler.queue.release(uid):",
        "if item is not None and self.reconciler.queue.release(uid):",
        (JOB_WATCH,),
        "The slot of an object in the middle of a pass (which may be sending its next create) is given away.",
    ),
    Mutation(
        "queue-release-drops-waiting",
        "controller/reconcile/import_queue.py",
        "            for slots in holding:\n",
        "            self._drop(uid)\n            for slots in holding:\n",
        (QUEUE,),
        "Releasing a slot also drops the object's place in line.",
    ),
    Mutation(
        "queued-names-every-holder",
        "controller/reconcile/importing.py",
        'return f"{len(holders)} imports run ({holders[0]}, {holders[1]} and {len(holders) - 2} more)"',
        "return f\"{', '.join(holders)}'s imports run\"",
        ("tests/unit/test_quiet_waits.py",),
        "A queued object's conditions name every holder of a raised quota (kilobytes, rewritten each handover).",
    ),
    Mutation(
        "job-watch-gone-kept",
        "controller/runtime/operator.py",
        "        self.reconciler.job_watch.drop(uid)\n",
        "",
        (JOB_WATCH,),
        "A deleted object stays followed: its entry and client are kept forever.",
    ),
    Mutation(
        "job-watch-stale-listing-trusted",
        "controller/reconcile/job_watch.py",
        "fresh, job = f.client.peek_running(f.job_name, max_age, now)",
        "fresh, job = f.client.peek_running(f.job_name, 1e9, now)",
        (JOB_WATCH,),
        "When the refresher is stuck, an old listing keeps every object waiting for jobs that ended.",
    ),
    Mutation(
        "weights-read-cap-not-applied",
        "controller/artifacts/weights_sample.py",
        "jobs = _thinned(plans, max_reads)",
        "jobs = [r for reads in plans for r in reads]",
        WEIGHTS,
        "A folder of thousands of tiny tensors makes a read for each: an Inline validation holds the "
        "operator's turn for minutes.",
    ),
    Mutation(
        "weights-cap-not-the-modes",
        "controller/artifacts/validate.py",
        "source, inputs.headers.values(), concurrency=concurrency, max_reads=limits.sample_reads",
        "source, inputs.headers.values(), concurrency=concurrency",
        WEIGHTS,
        "Inline validation gets the Job's cap on sampling reads (eight times as long in the operator).",
    ),
    Mutation(
        "weights-cap-keeps-first-reads",
        "controller/artifacts/weights_sample.py",
        "[reads[i * len(reads) // keep] for i in range(keep)]",
        "reads[:keep]",
        WEIGHTS,
        "Past the cap a shard samples only its first tensors: a broken layer near its end is never read.",
    ),
    Mutation(
        "weights-cap-share-not-redistributed",
        "controller/artifacts/weights_sample.py",
        "keep = min(len(reads), remaining // (len(plans) - k))",
        "keep = min(len(reads), max_reads // len(plans))",
        WEIGHTS,
        "Reads a small shard does not need are not given to the others: a large shard is sampled less "
        "than the cap allows.",
    ),
    Mutation(
        "weights-short-read-passes",
        "controller/artifacts/weights_sample.py",
        "if len(data) < job.end - job.start:",
        "if False:",
        WEIGHTS,
        "A shard cut short under the validator returns fewer bytes and the model passes unsampled.",
    ),
    Mutation(
        "weights-bf16-shift-by-8",
        "controller/artifacts/weights_sample.py",
        "h << 16",
        "h << 8",
        WEIGHTS,
        "BF16 weights decode to the wrong floats: a BF16 NaN becomes a small finite number and a diverged BF16 fine-tune passes. (written blind by a helper)",
    ),
    Mutation(
        "weights-f16-decoded-as-ints",
        "controller/artifacts/weights_sample.py",
        'f"<{len(raw) // 2}e"',
        'f"<{len(raw) // 2}H"',
        WEIGHTS,
        "F16 samples decode as unsigned integers, always finite: an F16 model full of NaN passes. (written blind by a helper)",
    ),
    Mutation(
        "weights-tail-place-missing-base",
        "controller/artifacts/weights_sample.py",
        "(base + t.end - EDGE_BYTES, EDGE_BYTES)",
        "(t.end - EDGE_BYTES, EDGE_BYTES)",
        WEIGHTS,
        "A tensor's end is read at a data-relative offset: NaN at the end of a large tensor is missed. (written blind by a helper)",
    ),
    Mutation(
        "weights-base-misses-length-prefix",
        "controller/artifacts/weights_sample.py",
        "base = 8 + header.header_len",
        "base = header.header_len",
        WEIGHTS,
        "Every sample is 8 bytes early (the length prefix forgotten): tensors are judged on their neighbours' bytes and the header's. (written blind by a helper)",
    ),
    Mutation(
        "weights-part-offset-not-relative",
        "controller/artifacts/weights_sample.py",
        "offset = start - job.start",
        "offset = start",
        WEIGHTS,
        "Parts are sliced from a merged read at their file offset: NaN, Inf and zero tensors go unreported. (written blind by a helper)",
    ),
    Mutation(
        "weights-not-finite-only-warning",
        "controller/artifacts/weights_sample.py",
        'Re-export from a good checkpoint",\n                    Severity.ERROR,',
        'Re-export from a good checkpoint",\n                    Severity.WARNING,',
        WEIGHTS,
        "WeightsNotFinite is a warning, so a model with NaN weights is imported. (written blind by a helper)",
    ),
    Mutation(
        "weights-batch-slice-wrong-end",
        "controller/artifacts/weights_sample.py",
        "if following is not None:",
        "if following is not None and False:",
        WEIGHTS,
        "Only the first window of reads runs: tensors in later reads are never judged, so NaN in a large model passes. (written blind by a helper)",
    ),
    Mutation(
        "weights-every-read-held",
        "controller/artifacts/weights_sample.py",
        "window = 4 * workers  # reads started",
        "window = max(1, len(jobs))  # reads started",
        WEIGHTS,
        "Every finished read is held until judged, so a folder of many shards holds all its samples.",
    ),
    Mutation(
        "weights-gaps-never-merged",
        "controller/artifacts/weights_sample.py",
        "gap = MERGE_GAP_BYTES if self.spent < SHARD_BUDGET_BYTES else 0",
        "gap = 0",
        WEIGHTS,
        "Weights sanity reads each small tensor's ends apart, so a run of norms costs a request each "
        "(tens of ms of S3 latency per request).",
    ),
    Mutation(
        "weights-gaps-read-past-budget",
        "controller/artifacts/weights_sample.py",
        "gap = MERGE_GAP_BYTES if self.spent < SHARD_BUDGET_BYTES else 0",
        "gap = MERGE_GAP_BYTES",
        WEIGHTS,
        "Past a shard's budget the gaps between tensor starts are still read, so a shard of many small "
        "tensors is read whole.",
    ),
    Mutation(
        "weights-read-cap-ignored",
        "controller/artifacts/weights_sample.py",
        "if last and start - last.end <= gap and end - last.start <= MAX_READ_BYTES:",
        "if last and start - last.end <= gap:",
        WEIGHTS,
        "One merged read can span a whole shard of small tensors: memory held per read is unbounded.",
    ),
    Mutation(
        "weights-tensor-end-not-sampled",
        "controller/artifacts/weights_sample.py",
        "return [(base + t.begin, EDGE_BYTES), (base + t.end - EDGE_BYTES, EDGE_BYTES)]",
        "return [(base + t.begin, EDGE_BYTES)]",
        WEIGHTS,
        "Only a tensor's start is sampled: a tensor whose second half is NaN imports.",
    ),
    Mutation(
        "weights-gap-bytes-not-budgeted",
        "controller/artifacts/weights_sample.py",
        "self.spent += max(0, end - last.end)",
        "self.spent += length",
        WEIGHTS,
        "The gaps read between places do not count against the shard's budget, so it reads far more.",
    ),
    # ---- redaction
    Mutation(
        "redact-noop",
        "controller/redact.py",
        "    for pattern, repl in _PATTERNS:\n        text = pattern.sub(repl, text)\n",
        "",
        ("tests/unit/test_redaction.py::test_redaction", f"{E2E}::test_no_secret_in_logs_events_or_status"),
        "redact() returns its input",
    ),
    Mutation(
        "redact-no-signature",
        "controller/redact.py",
        "Signature|Credential|Security-Token",
        "Credential|Security-Token",
        ("tests/unit/test_redaction.py::test_redaction", f"{E2E}::test_no_secret_in_logs_events_or_status"),
        "presigned URL signatures are kept",
    ),
    # ---- naming and ownership
    Mutation(
        "token-random-suffix",
        "controller/naming.py",
        'return f"{me.uid}-{rev}-{attempt}"[:256]',
        'import uuid\n    return f"{me.uid}-{rev}-{attempt}-{uuid.uuid4().hex[:6]}"[:256]',
        (NAMING, f"{FAULTS}::test_a_lost_create_answer_is_recovered_with_the_same_token"),
        "clientRequestToken differs on every create",
    ),
    Mutation(
        "job-name-ignores-attempt",
        "controller/naming.py",
        "def job_name(me: Identity, rev: str, attempt: int) -> str:\n",
        "def job_name(me: Identity, rev: str, attempt: int) -> str:\n    attempt = 1\n",
        (
            NAMING,
            f"{OWN}::test_a_recreated_object_does_not_inherit_the_old_job",
            f"{OWN}::test_the_retry_annotation_retries_a_failed_revision_at_once",
        ),
        "a retried import reuses the failed job's name",
    ),
    Mutation(
        "ownership-ignores-cluster",
        "controller/naming.py",
        "cluster in (me.cluster_id, None)",
        "True",
        (NAMING, PROPERTY),
        "a model of the same namespace/name/uid in another cluster counts as mine",
    ),
    Mutation(
        "retry-annotation-ignored",
        "controller/naming.py",
        '        "retry": retry,\n',
        "",
        (NAMING, f"{OWN}::test_the_retry_annotation_retries_a_failed_revision_at_once"),
        "the retry annotation does not retry a failed revision",
    ),
    # ---- the queue
    Mutation(
        "queue-lifo",
        "controller/reconcile/import_queue.py",
        "key=lambda kv: (kv[1], kv[0]))",
        "key=lambda kv: (kv[1], kv[0]), reverse=True)",
        (
            f"{QUEUE}::test_queue_is_first_come_first_served_with_one_slot",
            f"{E2E}::test_five_models_with_one_slot_queue_and_all_become_ready_in_order",
        ),
        "the last in line starts first",
    ),
    Mutation(
        "failed-head-keeps-place",
        "controller/reconcile/reconciler.py",
        "elif q is not None and (p.out.retry_error is not None or p.st.failure is not None):",
        "elif False:",
        (PROPERTY, f"{OWN}::test_a_failed_head_of_line_releases_the_slot"),
        "a head of line that cannot start keeps blocking the queue",
    ),
    Mutation(
        "paused-keeps-place",
        "controller/reconcile/reconciler.py",
        "            self.queue.forget(v.uid)\n            return out\n        try:\n            spec =",
        "            return out\n        try:\n            spec =",
        (f"{OWN}::test_a_paused_head_of_line_does_not_block_the_queue",),
        "a paused head of line keeps its place",
    ),
    # ---- reasons users read
    Mutation(
        "queued-reads-importing",
        "controller/reconcile/importing.py",
        '        ConditionType.READY,\n        "False",\n        Reason.QUEUED,',
        '        ConditionType.READY,\n        "False",\n        Reason.IMPORTING,',
        (
            f"{E2E}::test_five_models_with_one_slot_queue_and_all_become_ready_in_order",
            f"{FAULTS}::test_a_slot_busy_outside_the_operator_queues_the_model_until_it_frees",
        ),
        "Ready says Importing while the model waits in line",
    ),
    # ---- the AWS error classifier
    Mutation(
        "throttling-terminal",
        "controller/aws/clients.py",
        '    "ThrottlingException": Reason.THROTTLED,\n',
        "",
        (f"{ERRORS}::test_error_classifier", f"{E2E}::test_throttling_and_server_errors_are_ridden_out"),
        "throttling ends the revision as Failed",
    ),
    Mutation(
        "job-name-taken-is-conflict",
        "controller/aws/clients.py",
        "return AwsError(Kind.JOB_NAME_TAKEN, code, message, JOB_NAME_IN_USE)",
        "return AwsError(Kind.CONFLICT, code, message, NAME_CONFLICT)",
        (f"{ERRORS}::test_error_classifier", PROPERTY),
        "'job name in use' (our own earlier create) is read as a model name conflict",
    ),
    Mutation(
        "quota-is-terminal",
        "controller/reconcile/failures.py",
        "    if err.kind is Kind.QUOTA:\n        out.retry_error = err\n",
        "    if err.kind is Kind.QUOTA:\n        return fail(p, ConditionType.IMPORTED, err.reason, err.message)\n",
        (f"{FAULTS}::test_imported_model_quota_is_shown_and_the_import_follows_a_delete",),
        "an imported-model quota ends the revision instead of waiting for a delete",
    ),
    # ---- import, serving, deletion
    Mutation(
        "create-answer-lost-forgets-intent",
        "controller/reconcile/importing.py",
        "        raise err  # the create may have gone through: keep the intent, retry with the same token",
        "        p.st.import_job = None\n        raise err",
        (PROPERTY, f"{FAULTS}::test_a_lost_create_answer_is_recovered_with_the_same_token"),
        "an unanswered create is forgotten (its job may exist)",
    ),
    Mutation(
        "delete-without-ownership-check",
        "controller/reconcile/serving.py",
        '    if ownership(tags, p.me) != "mine":\n        return "other"\n',
        "",
        (f"{OWN}::test_a_model_retagged_to_another_owner_is_not_deleted_with_the_object",),
        "a model whose tags name another owner is deleted",
    ),
    Mutation(
        "superseded-no-grace",
        "controller/reconcile/serving.py",
        "            if p.seconds_since(old.missing_since) < grace:\n                left.append(old)\n",
        "",
        (PROPERTY,),
        "a superseded model Bedrock does not show yet is forgotten at the first NotFound",
    ),
    Mutation(
        "drift-no-grace",
        "controller/reconcile/serving.py",
        "        if p.seconds_since(p.st.model_missing_since) < grace:",
        "        if False:",
        (f"{FAULTS}::test_a_model_not_found_for_a_moment_is_not_imported_again", PROPERTY),
        "a model that answers NotFound once is re-imported at once",
    ),
    Mutation(
        "retain-deletes",
        "controller/reconcile/deletion.py",
        '    if p.spec.deletion_policy == "Retain":\n        for arn',
        "    if False:\n        for arn",
        (f"{E2E}::test_retain_leaves_the_model", PROPERTY),
        "deletionPolicy Retain deletes the model",
    ),
    Mutation(
        "failure-retried-forever",
        "controller/reconcile/failures.py",
        "    if f.inputs == p.inputs:\n        return True\n",
        "",
        (f"{E2E}::test_failed_job_is_reported_and_fixing_the_spec_recovers", PROPERTY),
        "a failed revision is retried on every pass (a job per pass)",
    ),
    Mutation(
        "server-error-terminal",
        "controller/aws/clients.py",
        "    if status >= 500:\n"
        "        return AwsError(Kind.RETRYABLE, code, message, Reason.AWS_SERVICE_ERROR)\n",
        "",
        (f"{ERRORS}::test_error_classifier", f"{E2E}::test_throttling_and_server_errors_are_ridden_out"),
        "an unknown 5xx answer ends the revision instead of being retried",
    ),
    Mutation(
        "iam-propagation-terminal",
        "controller/aws/clients.py",
        'if code == "ValidationException" and "role" in message.lower() and "invalid" in message.lower():',
        "if False:",
        (f"{ERRORS}::test_error_classifier", f"{E2E}::test_created_role_with_iam_propagation_delay"),
        "a new role Bedrock does not see yet fails the import at once",
    ),
    Mutation(
        "tags-never-removed",
        "controller/aws/clients.py",
        "        removed = sorted(k for k in actual if k not in desired)",
        "        removed = []",
        (f"{E2E}::test_tag_change_is_applied_in_place", PROPERTY),
        "a tag removed from the spec stays on the model",
    ),
    Mutation(
        "events-not-counted",
        "controller/kube/events.py",
        "            if known is not None:",
        "            if False:",
        ("tests/cluster/test_events.py",),
        "a repeated Event is written anew instead of counted",
    ),
    # ---- validator rules
    Mutation(
        "quantized-accepted",
        "controller/artifacts/rules.py",
        '        if not (model_type == "gpt_oss" and method == "mxfp4"):',
        "        if False:",
        (CORPUS, f"{E2E}::test_failed_validation_creates_no_job"),
        "a quantized model passes validation",
    ),
    Mutation(
        "vocab-mismatch-ignored",
        "controller/artifacts/rules.py",
        "        if rows != vocab:",
        "        if False:",
        (CORPUS,),
        "a vocab_size that disagrees with the embedding passes validation",
    ),
    # ---- hostile tenants and partial failures
    Mutation(
        "create-given-up-by-decision-time",
        "controller/reconcile/importing.py",
        "    return min(p.seconds_since(last_sent), p.seconds_since(unseen_since)) >= grace",
        "    return p.seconds_since(rec.started_at) >= grace",
        (PARTIAL,),
        "a create intent is given up a grace period after it was decided, though re-sent seconds ago",
    ),
    Mutation(
        "adoption-tagged-before-written",
        "controller/reconcile/importing.py",
        '        p.out.again = True\n        return\n    p.st.import_job = None\n    if owner == "unowned"',
        "        _adopt(p, bedrock, rec, model, owner)\n        return\n    p.st.import_job = None\n"
        '    if owner == "unowned"',
        (ADOPTION,),
        "an unowned model is tagged as the object's in the pass that decides to adopt it (not written first)",
    ),
    Mutation(
        "adopted-retired-as-another-revision",
        "controller/reconcile/importing.py",
        'if owner == "mine" and not adopted and not _from_revision(p, model, rec.revision):',
        'if owner == "mine" and not _from_revision(p, model, rec.revision):',
        (ADOPTION,),
        "a model the object adopted, met again under its name, is deleted as another revision's",
    ),
    Mutation(
        "adoption-ignores-policy",
        "controller/reconcile/importing.py",
        "    v = check_adoption(p.decision, p.view.namespace, p.me.cluster_id, model.name, tags)\n"
        "    return v.message if v is not None else None",
        "    return None",
        (ADOPTION,),
        "spec.adoptExisting takes over any unowned model, whatever the namespace's policies say",
    ),
    Mutation(
        "adoption-ignores-retaining-cluster",
        "controller/tenancy/rules.py",
        " and tags.get(TAG_RETAINED_BY_CLUSTER) == cluster_id",
        "",
        (ADOPTION,),
        "a namespace of another cluster with the same name adopts this cluster's retained model",
    ),
    Mutation(
        "adoption-rule-not-on-the-spec",
        "controller/tenancy/rules.py",
        "    if spec.adopt_existing:\n        rule, wanted",
        "    if False:\n        rule, wanted",
        (TENANCY,),
        "the policy rule on spec.adoptExisting is not checked at reconcile (admission and operator disagree)",
    ),
    Mutation(
        "unowned-model-deleted",
        "controller/reconcile/serving.py",
        '    if ownership(tags, p.me) != "mine":\n        return "other"',
        '    if ownership(tags, p.me) == "other":\n        return "other"',
        (ADOPTION,),
        "a model whose tags name no owner is deleted because status names it",
    ),
    Mutation(
        "recorded-create-sent-as-written",
        "controller/reconcile/importing.py",
        "            unwanted = _not_as_wanted(p, rec)\n",
        "            unwanted = None\n",
        (ADOPTION,),
        "a Creating record in status is sent with whatever source and role it names",
    ),
    Mutation(
        "expect-with-backtracking-re",
        "controller/reconcile/smoke.py",
        "not tenant_regex.search(test.expect, text)",
        'not __import__("re").search(test.expect, text)',
        (f"{PARTIAL}::test_an_adversarial_expect_does_not_freeze_the_operator",),
        "smokeTest.expect is matched with Python's backtracking re (one tenant freezes the operator)",
    ),
    Mutation(
        "verdict-from-a-job-of-another-controller",
        "controller/kube/validation_jobs.py",
        "    if _owner_uid(meta) != owner_uid:\n",
        "    if False:\n",
        (TRUST,),
        "a Job under the revision's name that the model does not control is read for a verdict",
    ),
    Mutation(
        "verdict-from-a-job-running-anything",
        "controller/kube/validation_jobs.py",
        "    if _runs(_validator(theirs)) != _runs(_validator(mine)):",
        "    if False:",
        (TRUST,),
        "a Job whose container is not the validator as built (any image, command, env) is trusted",
    ),
    Mutation(
        "verdict-pod-extra-env-trusted",
        "controller/kube/validation_jobs.py",
        "        or extra_env - INJECTED_ENV\n",
        "",
        (TRUST,),
        "a pod with an added AWS_ENDPOINT_URL (a fake S3) counts as the validator",
    ),
    Mutation(
        "paused-holds-the-slot",
        "controller/reconcile/reconciler.py",
        "            if self._paused_job_runs(v, st):",
        "            if st.import_job is not None and st.import_job.in_flight:",
        (f"{PARTIAL}::test_a_paused_or_deleting_object_gives_up_the_slot_once_its_job_ended", PROPERTY),
        "a paused object keeps the region's slot after its job ended",
    ),
    Mutation(
        "deleting-holds-the-slot",
        "controller/reconcile/reconciler.py",
        "        except OperatorError:\n            self._settle_deleting(v, st)\n            raise",
        "        except OperatorError:\n            raise",
        (
            f"{PARTIAL}::test_a_paused_or_deleting_object_gives_up_the_slot_once_its_job_ended",
            f"{PARTIAL}::test_a_deleting_object_a_new_process_never_followed_gives_up_the_slot_once_its_job_ended",
        ),
        "an object whose deletion keeps failing keeps the region's slot after its job ended",
    ),
    Mutation(
        "generation-claimed-without-a-decision",
        "controller/reconcile/reconciler.py",
        "                st.observed_generation = seen",
        "                pass",
        ("tests/unit/test_status_truth.py",),
        "a pass that cannot read the policies bumps observedGeneration next to an older Ready=True",
    ),
    Mutation(
        "argocd-ignores-readys-generation",
        "deploy/argocd/health.lua",
        "if ready.observedGeneration ~= nil and ready.observedGeneration ~= obj.metadata.generation then",
        "if false then",
        ("tests/unit/test_status_truth.py",),
        "Argo CD reads Healthy from a Ready=True about an older generation",
    ),
    Mutation(
        "created-role-without-create-grant",
        "controller/aws/clients.py",
        '"kms:DescribeKey", "kms:CreateGrant"]',
        '"kms:DescribeKey"]',
        (f"{E2E}::test_a_created_role_may_use_the_models_key_and_vpc",),
        "a created role cannot use a customer-managed key on AWS (kms:CreateGrant missing)",
    ),
    Mutation(
        "queue-per-region-not-account",
        "controller/reconcile/import_queue.py",
        '    return f"{region}/{parts[4] if len(parts) > 4 and parts[4] else account_role}"',
        "    return region",
        (f"{PARTIAL}::test_a_teams_own_account_has_its_own_import_slot",),
        "a team importing into its own account waits for the operator account's jobs (one line per region)",
    ),
    Mutation(
        "squatted-job-followed-as-own",
        "controller/reconcile/importing.py",
        '    if ownership(tags, p.me) != "mine":\n        p.st.import_job = None\n',
        '    if ownership(tags, p.me) == "other":\n',
        (f"{PARTIAL}::test_a_squatted_job_name_fails_the_object_and_frees_the_slot",),
        "a job of the object's name nobody owns is followed as its own; a refused one holds the slot",
    ),
    Mutation(
        "sagemaker-data-dot-segments",
        "controller/aws/clients.py",
        "                if not re.match(S3_URI_PATTERN, uri) or re.search(DOT_SEGMENT, uri):",
        "                if False:",
        (CLIENTS,),
        "a SageMaker model's folder with '..' segments is imported (a prefix check on text is fooled)",
    ),
    # ---- written without reading the tests (a helper): survivors, each now killed by a test
    Mutation(
        "fresh-retain-release-strips-foreign-tags",
        "controller/reconcile/deletion.py",
        '    if ownership(tags, p.me) == "other":\n        return False\n    desired',
        "    if False:\n        return False\n    desired",
        (ADOPTION,),
        "deletionPolicy Retain strips another owner's ownership tags from a model and reports it as "
        "retained.",
    ),
    Mutation(
        "fresh-deletion-retains-testing-candidate",
        "controller/reconcile/deletion.py",
        "and not st.model_arn\n        (keep if current else drop)[rec.model_arn]",
        "\n        (keep if current else drop)[rec.model_arn]",
        (ADOPTION,),
        "With deletionPolicy Retain, a still-untested smoke-test candidate is kept (and left billed) "
        "beside the serving model instead of being deleted.",
    ),
    Mutation(
        "fresh-deleting-member-keeps-place",
        "controller/tenancy/view.py",
        '        or meta.get("deletionTimestamp")\n',
        "",
        (TENANCY,),
        "A model object being deleted (not holding a model) still counts against maxModels, blocking a "
        "newer object until it is gone.",
    ),
    Mutation(
        "fresh-http-500-terminal",
        "controller/aws/clients.py",
        "if status >= 500:",
        "if status > 500:",
        (ERRORS,),
        "An unknown AWS error with HTTP 500 is treated as a terminal InvalidRequest failure instead of "
        "being retried.",
    ),
    Mutation(
        "fresh-iam-propagation-or",
        "controller/aws/clients.py",
        '"role" in message.lower() and "invalid" in message.lower()',
        '"role" in message.lower() or "invalid" in message.lower()',
        (ERRORS,),
        "Any ValidationException mentioning 'invalid' (e.g. a bad S3 URI) is retried as IAM propagation "
        "and finally reported as ServiceRoleInvalid instead of failing at once with its real reason.",
    ),
    Mutation(
        "fresh-nosuchentity-not-notfound",
        "controller/aws/clients.py",
        'code in ("ResourceNotFoundException", "NoSuchEntity")',
        'code in ("ResourceNotFoundException",)',
        (ERRORS,),
        "Deleting an object whose created service role is already gone fails with a terminal IAM error "
        "instead of treating the role as deleted.",
    ),
    Mutation(
        "fresh-listing-never-refreshed",
        "controller/aws/clients.py",
        "if self._listed is None or now - self._listed[0] > max_age:",
        "if self._listed is None:",
        (CLIENTS,),
        "The region's model listing is cached forever, so periodic resyncs never notice a model deleted "
        "outside the cluster.",
    ),
    Mutation(
        "fresh-tag-value-drift-not-corrected",
        "controller/aws/clients.py",
        "changed = {k: v for k, v in desired.items() if actual.get(k) != v}",
        "changed = {k: v for k, v in desired.items() if k not in actual}",
        (CLIENTS,),
        "A tag whose value was changed in the spec or outside the cluster is never set back; only missing "
        "tags are added.",
    ),
    Mutation(
        "fresh-lease-deadline-too-long",
        "controller/runtime/leadership.py",
        "deadline = max(int(1.2 * retry) + 1, duration - 2 * retry)",
        "deadline = max(int(1.2 * retry) + 1, duration - retry)",
        (LEADERSHIP,),
        "The renew deadline plus a retry reaches the lease duration, so a leader that lost its renewals "
        "may still reconcile when the standby takes over (two leaders).",
    ),
    Mutation(
        "fresh-release-foreign-lease",
        "controller/runtime/leadership.py",
        "            if lease.spec.holder_identity != self.me:\n                return",
        "            if False:\n                return",
        (LEADERSHIP,),
        "A stopping replica clears the Lease holder even when another replica holds it, letting a third "
        "replica take over beside the real leader.",
    ),
    Mutation(
        "fresh-renew-after-stop",
        "controller/runtime/leadership.py",
        "        if self.stopped:\n            return False",
        "        if False:\n            return False",
        (LEADERSHIP,),
        "A renewal in flight after a clean stop re-takes the released Lease, so the standby waits a full "
        "lease duration instead of taking over at once.",
    ),
    Mutation(
        "fresh-identity-without-nonce",
        "controller/runtime/leadership.py",
        'return f"{who}_{os.getpid()}_{uuid.uuid4().hex[:6]}"',
        'return f"{who}_{os.getpid()}"',
        (LEADERSHIP,),
        "A restarted operator container (same pod name, PID 1) passes for its predecessor and resumes "
        "leading a Lease it never won.",
    ),
    Mutation(
        "fresh-oom-needs-both",
        "controller/kube/validation_jobs.py",
        'if term.reason == "OOMKilled" or term.exit_code == 137:',
        'if term.reason == "OOMKilled" and term.exit_code == 137:',
        (TRUST,),
        "A validator killed with exit code 137 but another reason is reported as ValidationJobCrashed "
        "rather than ValidationJobOOMKilled (no hint to raise the memory).",
    ),
    Mutation(
        "fresh-delete-jobs-of-all-owners",
        "controller/kube/validation_jobs.py",
        'label_selector=f"{LABEL_OWNER}={owner_uid}"',
        'label_selector=f"{LABEL_MANAGED}={MANAGED_BY}"',
        (TRUST,),
        "Starting one model's validation Job deletes the running validation Jobs of every other model in "
        "the namespace.",
    ),
    Mutation(
        "fresh-job-backoff-default",
        "controller/kube/validation_jobs.py",
        "backoff_limit=0,",
        "backoff_limit=3,",
        (TRUST,),
        "A failing validator pod is retried several times before the Job fails, delaying (and multiplying "
        "the cost of) a verdict that cannot change.",
    ),
    Mutation(
        "fresh-validator-token-automounted",
        "controller/kube/validation_jobs.py",
        "automount_service_account_token=False",
        "automount_service_account_token=True",
        (TRUST,),
        "The validator pod, which parses tenant-supplied files, gets a Kubernetes API token mounted.",
    ),
    Mutation(
        "fresh-queue-order-by-uid",
        "controller/reconcile/import_queue.py",
        "key=lambda kv: (kv[1], kv[0])",
        "key=lambda kv: kv[0]",
        (QUEUE,),
        "the import queue orders objects by uid instead of by queuedAt",
    ),
    # ---- behaviours no test pinned down
    Mutation(
        "sagemaker-files-pass-any-policy",
        "controller/tenancy/rules.py",
        '(known once it is resolved)."""\n',
        '(known once it is resolved)."""\n'
        "    if any(folder(s3_uri).startswith(x) for q in decision.policies if q.spec.sources "
        "for x in q.spec.sources.s3_prefixes or []):\n        return None\n",
        (TENANCY,),
        "a SageMaker model's files pass when any one of several policies allows their folder",
    ),
    Mutation(
        "max-models-counts-every-namespace",
        "controller/tenancy/view.py",
        "            return list(self._members.get(namespace, {}).values())",
        "            return [m for ms in self._members.values() for m in ms.values()]",
        (TENANCY,),
        "maxModels counts the models of every namespace",
    ),
    Mutation(
        "created-role-sibling-prefix",
        "controller/aws/clients.py",
        '        if prefix and not prefix.endswith("/"):',
        "        if False:",
        (CLIENTS,),
        "the created role for s3://b/llama (no trailing /) reads s3://b/llama-other/ too",
    ),
    Mutation(
        "created-role-trust-without-source-arn",
        "controller/aws/clients.py",
        '                        "ArnEquals": {\n'
        '                            "aws:SourceArn": f"arn:aws:bedrock:{self.region}:{account}:'
        'model-import-job/*"\n'
        "                        },\n",
        "",
        (CLIENTS,),
        "the created role's trust loses its aws:SourceArn condition (any Bedrock use may assume it)",
    ),
    Mutation(
        "assume-role-without-external-id",
        "controller/aws/session.py",
        '            "ExternalId": external_id(cluster_id, namespace),\n',
        "",
        ("tests/unit/test_aws_session.py",),
        "cross-account AssumeRole is sent without the namespace's external ID",
    ),
    Mutation(
        "tenant-session-per-role",
        "controller/reconcile/reconciler.py",
        "        tenant = (role, namespace) if role else None",
        '        tenant = (role, "") if role else None',
        ("tests/unit/test_aws_session.py",),
        "two namespaces sharing one account role share one session and one external ID",
    ),
    Mutation(
        "leader-watchdog-never-fires",
        "controller/runtime/leadership.py",
        "                if time.monotonic() - self._lock.renewed_at > self.deadline:",
        "                if False:",
        (LEADERSHIP,),
        "a leader that can no longer renew its Lease keeps reconciling",
    ),
    Mutation(
        "rate-limit-bucket-per-arn",
        "controller/aws/clients.py",
        "        self.limiter.acquire(action.split()[0])",
        "        self.limiter.acquire(action)",
        ("tests/unit/test_rate_limit.py",),
        "every object gets its own rate-limit bucket (CreateModelImportJob=1 never applies)",
    ),
    Mutation(
        "cluster-tests-unmarked",
        "tests/cluster/conftest.py",
        "            item.add_marker(pytest.mark.controlplane)",
        "            pass",
        (
            "tests/unit/test_suite_layout.py::test_the_no_cluster_selection_collects_nothing_of_the_cluster_or_node_levels",
        ),
        "the cluster level's tests run under -m 'not controlplane' and start servers",
    ),
    # ---- what is imported is what was validated
    Mutation(
        "pin-ignored-before-start",
        "controller/reconcile/source_pin.py",
        "    if digest == pinned:\n        return None",
        "    if True:\n        return None",
        ("tests/unit/test_source_pin.py",),
        "a folder swapped after validation is imported without being judged again",
    ),
    Mutation(
        "pin-not-checked-at-send",
        "controller/reconcile/importing.py",
        "if rec.sent_at is None and (refused := _not_as_validated(p, s3_uri)) is not None:",
        "if False:",
        ("tests/unit/test_source_pin.py",),
        "files swapped between the intent and its first send are sent",
    ),
    Mutation(
        "pin-no-etag",
        "controller/artifacts/pin.py",
        'f"{f.name}\\t{f.size}\\t{f.etag}\\n"',
        'f"{f.name}\\t{f.size}\\n"',
        ("tests/unit/test_source_pin.py",),
        "a file rewritten at the same size (a swapped config) keeps the fingerprint",
    ),
    Mutation(
        "pin-serving-drift-silent",
        "controller/reconcile/source_pin.py",
        "    if digest != pinned:\n        message = (",
        "    if False:\n        message = (",
        ("tests/unit/test_source_pin.py",),
        "a serving model's folder that changes is never said",
    ),
    Mutation(
        "pin-job-verdict-reused",
        "controller/reconcile/validation.py",
        "        jobs.delete_for_owner(p.view.namespace, p.view.uid)\n    p.st.phase = Phase.UPDATING",
        "        pass\n    p.st.phase = Phase.UPDATING",
        ("tests/unit/test_source_pin.py",),
        "after the files changed, the validation Job's verdict of the old files is read again",
    ),
    Mutation(
        "policy-any-kms-key",
        "controller/tenancy/rules.py",
        "    if spec.kms_key_id and not any(pattern_matches(k, spec.kms_key_id) for k in keys):",
        "    if False:",
        ("tests/unit/test_tenancy.py",),
        "a tenant names another team's KMS key",
    ),
    Mutation(
        "policy-security-groups-unchecked",
        "controller/tenancy/rules.py",
        "        bad += [\n",
        "        _ = [\n",
        ("tests/unit/test_tenancy.py",),
        "spec.vpcConfig's security groups are not checked when its subnets are allowed",
    ),
    Mutation(
        "revert-leaves-validation-running",
        "controller/reconcile/reconciler.py",
        '            elif shown(p.st, ConditionType.VALIDATED) not in (None, "True"):',
        "            elif False:",
        ("tests/unit/test_source_pin.py",),
        "a revert during a validation Job leaves Validated=Unknown beside Ready=True, the Job running",
    ),
    Mutation(
        "invalid-spec-drops-slot",
        "controller/reconcile/reconciler.py",
        "            if job is not None and self._paused_job_runs(v, st):",
        "            if False:",
        ("tests/unit/test_status_truth.py",),
        "a spec only the operator refuses gives its running job's slot to the next object",
    ),
    Mutation(
        "role-left-after-switch-and-delete",
        "controller/reconcile/reconciler.py",
        "        if True:\n            p.support.delete_role(p.support.role_name(p.me))",
        "        if spec.service_role.create:\n            p.support.delete_role(p.support.role_name(p.me))",
        ("tests/unit/test_partial_failures.py",),
        "an object that once created a role, then named its own, leaves the created role at deletion",
    ),
    Mutation(
        "role-left-after-switch",
        "controller/reconcile/serving.py",
        "        p.support.delete_role(p.support.role_name(p.me))",
        "        pass",
        ("tests/unit/test_partial_failures.py",),
        "the created role stays after a roleArn revision serves",
    ),
    Mutation(
        "status-write-unconditional",
        "controller/runtime/pass_runner.py",
        '            patch["metadata"] = {"resourceVersion": meta["resourceVersion"]}',
        "            pass",
        ("tests/unit/test_status_writes.py",),
        "a status PATCH carries no resourceVersion: a late write of an older leader undoes a newer status",
    ),
    Mutation(
        "slot-holder-backs-off",
        "controller/runtime/operator.py",
        "        cap = self.settings.poll_seconds if holds_slot else None",
        "        cap = None",
        ("tests/unit/test_invariants.py::test_a_slot_holder_under_throttling_looks_again_every_poll",),
        "a slot holder backs off exponentially: the region's only slot idles a minute under throttling",
    ),
    Mutation(
        "operator-and-crd-disagree",
        "controller/api/models.py",
        "        if (self.role_arn is not None) == bool(self.create):",
        "        if False:",
        ("tests/cluster/test_admission_agreement.py",),
        "the operator's model accepts a serviceRole the CRD refuses (both, or neither): model and CRD drift",
    ),
    Mutation(
        "skip-keeps-old-fingerprint",
        "controller/reconcile/validation.py",
        "        p.st.validation = None  # an earlier revision's summary",
        "        pass  # an earlier revision's summary",
        ("tests/unit/test_source_pin.py",),
        "validation Skip keeps an earlier revision's fingerprint: every start finds the folder changed",
    ),
    Mutation(
        "missing-model-forgotten",
        "controller/reconcile/serving.py",
        "        if st.model_arn and not any(x.arn == st.model_arn for x in st.superseded or []):",
        "        if False:",
        (
            "tests/unit/test_invariants.py::test_a_model_taken_for_deleted_stays_recorded_when_the_new_import_cannot_start",
        ),
        "a model taken for deleted (NotFound past the grace) is dropped from status: leaked if only hidden",
    ),
    Mutation(
        "serving-model-left-superseded",
        "controller/reconcile/serving.py",
        "    st.superseded = [x for x in st.superseded or [] if x.arn != model.arn] or None\n",
        "",
        (
            "tests/unit/test_invariants.py::test_a_model_not_shown_longer_than_the_grace_period_is_found_again_not_leaked",
        ),
        "a model adopted back after it was taken for deleted stays on the superseded list and is deleted",
    ),
    Mutation(
        "missing-model-deleted-while-hidden",
        "controller/reconcile/serving.py",
        "and old.region == p.region and not p.serving)",
        "and False)",
        ("tests/unit/test_adoption.py",),
        "a model only hidden past the grace is deleted before the import under its name can adopt it back",
    ),
    Mutation(
        "watchdog-not-armed",
        "controller/runtime/main.py",
        "    leadership.watchdog(lost)\n    return leadership",
        "    return leadership",
        (LEADERSHIP,),
        "the operator never arms the watchdog: a leader that cannot renew keeps reconciling",
    ),
    Mutation(
        "stale-source-warning-kept",
        "controller/reconcile/serving.py",
        "        p.out.drop_condition(ConditionType.SOURCE_IN_SYNC)",
        "        pass",
        ("tests/unit/test_source_pin.py",),
        "a new model keeps the replaced model's SourceInSync=False",
    ),
    Mutation(
        "tag-pattern-unicode-space",
        "controller/api/models.py",
        'TAG_PATTERN = r"^[a-zA-Z0-9 ._:/=+@-]*$"',
        'TAG_PATTERN = r"^[a-zA-Z0-9\\s._:/=+@-]*$"',
        ("tests/cluster/test_admission_agreement.py",),
        "a tag value with U+0085 passes the operator's model and is refused by the apiserver",
    ),
    Mutation(
        "conflict-always-redecides",
        "controller/runtime/pass_runner.py",
        '        if same:\n            patch["metadata"]',
        '        same = False\n        if same:\n            patch["metadata"]',
        ("tests/unit/test_status_writes.py",),
        "an annotation made during a pass makes it decide twice (metrics and Events counted twice)",
    ),
    Mutation(
        "invalid-role-retried-forever",
        "controller/reconcile/importing.py",
        "if err.reason == Reason.WAITING_FOR_IAM_PROPAGATION and p.seconds_since(rec.started_at) > iam_wait:",
        "if False:",
        ("tests/unit/test_importing.py",),
        "a role Bedrock keeps refusing is retried forever, holding the region's slot",
    ),
    Mutation(
        "revert-keeps-failure",
        "controller/reconcile/reconciler.py",
        "                p.st.failure, p.st.failure_message = None, None\n",
        "",
        ("tests/unit/test_reconciler.py",),
        "a revert to the serving revision keeps the failed revision's failure: Ready stays False",
    ),
    Mutation(
        "dropped-test-blocks-candidate",
        "controller/reconcile/smoke.py",
        "    if test is None:  # the test was dropped: the candidate serves as it would have without one",
        "    if False:  # the test was dropped: the candidate serves as it would have without one",
        ("tests/unit/test_smoke.py",),
        "a smoke test removed while its candidate is tested leaves the candidate waiting for a test",
    ),
    Mutation(
        "validation-job-names-collide",
        "controller/kube/validation_jobs.py",
        """    return f"bmo-validate-{owner_name[:30].rstrip('-.')}-{uid}-{rev[:8]}\"""",
        """    return f"bmo-validate-{owner_name[:40].rstrip('-.')}-{rev[:8]}\"""",
        ("tests/unit/test_source_pin.py",),
        "two objects whose names share 40 characters compute one validation Job name",
    ),
    Mutation(
        "serving-listing-error-fails-model",
        "controller/reconcile/source_pin.py",
        "    except SourceError:  # the model serves either way",
        "    except ZeroDivisionError:  # the model serves either way",
        ("tests/unit/test_source_pin.py",),
        "a serving model's folder that cannot be listed turns the working model Failed",
    ),
    Mutation(
        "late-create-not-remembered",
        "controller/reconcile/importing.py",
        "            given_up.remember(p, rec)  # Bedrock may still apply it late: looked up for a while",
        "            pass",
        ("tests/unit/test_partial_failures.py",),
        "an intent given up after the grace period is forgotten: a create applied late leaks its model",
    ),
    Mutation(
        "late-create-never-looked-up",
        "controller/reconcile/given_up.py",
        "        if model is not None and model not in _recorded(p):\n            p.st.superseded",
        "        if False:\n            p.st.superseded",
        ("tests/unit/test_partial_failures.py",),
        "the model of a create applied late is never retired while its object serves",
    ),
    Mutation(
        "late-create-running-not-awaited",
        "controller/reconcile/given_up.py",
        "        if keep:\n            why = ",
        "        if False:\n            why = ",
        ("tests/unit/test_partial_failures.py",),
        "an object is deleted while a create given up on runs late: its model is left behind",
    ),
    Mutation(
        "answer-no-choices-dumped",
        "controller/reconcile/smoke.py",
        '            return message["content"]\n    outputs = answer.get("outputs")',
        (
            '            return message["content"]\n    else:\n        return json.dumps(answer)[:2000]\n'
            '    outputs = answer.get("outputs")'
        ),
        ("tests/unit/test_smoke.py",),
        "an answer without choices is matched as raw JSON, never through outputs",
    ),
    Mutation(
        "answer-mistral-outputs-ignored",
        "controller/reconcile/smoke.py",
        "    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):",
        "    if False:",
        ("tests/unit/test_smoke.py",),
        "Mistral's outputs[0].text is not extracted: expect sees the JSON",
    ),
    Mutation(
        "answer-null-content-returned",
        "controller/reconcile/smoke.py",
        '        if isinstance(message, dict) and isinstance(message.get("content"), str):',
        "        if isinstance(message, dict):",
        ("tests/unit/test_smoke.py",),
        "a chat answer with null content gives None as its text",
    ),
    Mutation(
        "answer-unknown-shape-empty",
        "controller/reconcile/smoke.py",
        "    return json.dumps(answer)[:2000]",
        '    return ""',
        ("tests/unit/test_smoke.py",),
        "an answer of an unknown shape is matched as empty text",
    ),
    Mutation(
        "smoke-throttle-fails-candidate",
        "controller/reconcile/smoke.py",
        "        if err.kind is Kind.RETRYABLE:\n            raise  # throttled",
        "        if False:\n            raise  # throttled",
        ("tests/unit/test_smoke.py",),
        "a throttled InvokeModel fails the smoke test and deletes the candidate",
    ),
    Mutation(
        "smoke-denied-fails-candidate",
        "controller/reconcile/smoke.py",
        "        if err.reason == Reason.ACCESS_DENIED:",
        "        if False:",
        ("tests/unit/test_smoke.py",),
        "the operator's missing bedrock:InvokeModel fails the model as bad",
    ),
    Mutation(
        "pin-unlistable-retried-forever",
        "controller/reconcile/source_pin.py",
        "            raise SourceError(Kind.TERMINAL, exc.code, message, reason) from None",
        (
            "            raise SourceError(Kind.RETRYABLE, exc.code, message, "
            "Reason.SOURCE_UNREACHABLE) from None"
        ),
        ("tests/unit/test_source_pin.py",),
        "a folder that can no longer be listed is retried forever instead of failing",
    ),
    Mutation(
        "pin-hiccup-fails-revision",
        "controller/reconcile/source_pin.py",
        "        raise SourceError(Kind.RETRYABLE, exc.code, message, Reason.SOURCE_UNREACHABLE) from None",
        "        raise SourceError(Kind.TERMINAL, exc.code, message, Reason.SOURCE_UNREACHABLE) from None",
        ("tests/unit/test_source_pin.py",),
        "an S3 hiccup at the pre-import listing fails the revision for good",
    ),
    Mutation(
        "validation-job-failure-read-as-running",
        "controller/reconcile/validation.py",
        '        if result.kind == "running":',
        '        if result.kind in ("running", "failed"):',
        ("tests/unit/test_validation_flow.py",),
        "a validation Job that ended without a verdict is waited on forever",
    ),
    Mutation(
        "inline-gate-not-waited",
        "controller/reconcile/validation.py",
        "        if not INLINE_GATE.acquire(p.view.uid, timeout=INLINE_WAIT_SECONDS):",
        "        if not (INLINE_GATE.acquire(p.view.uid, timeout=INLINE_WAIT_SECONDS) or True):",
        ("tests/unit/test_validation_flow.py",),
        "an inline validation runs while another holds the gate",
    ),
    Mutation(
        "inline-hiccup-fails-revision",
        "controller/reconcile/validation.py",
        "            raise SourceError(\n                Kind.RETRYABLE,",
        "            raise SourceError(\n                Kind.TERMINAL,",
        ("tests/unit/test_validation_flow.py",),
        "an S3 hiccup during inline validation fails the revision for good",
    ),
    Mutation(
        "startup-listing-first-page-only",
        "controller/runtime/operator.py",
        "                if not token:\n                    break",
        "                break",
        ("tests/unit/test_startup_listing.py",),
        "the queue is rebuilt from the first 100 models only",
    ),
    Mutation(
        "delete-unseen-create-waits-forever",
        "controller/reconcile/deletion.py",
        '    if job is None or ownership(bedrock.tags(job.arn), p.me) == "other":\n        return None\n',
        (
            '    if job is None:\n        return "waiting for a job Bedrock does not show"\n'
            '    if ownership(bedrock.tags(job.arn), p.me) == "other":\n        return None\n'
        ),
        ("tests/unit/test_deletion.py",),
        "a create Bedrock never shows is waited for forever at deletion",
    ),
    Mutation(
        "delete-failed-job-as-completed",
        "controller/reconcile/deletion.py",
        'if job.status == "Completed" and job.model_arn and job.model_arn not in keep:',
        'if job.status != "InProgress" and job.model_arn not in keep:',
        ("tests/unit/test_deletion.py",),
        "a Failed job is handled like a Completed one (its model waited for)",
    ),
    Mutation(
        "retain-gone-model-counts-retained",
        "controller/reconcile/deletion.py",
        "            return False\n        raise",
        "            return True\n        raise",
        ("tests/unit/test_deletion.py",),
        "Retain reports a model deleted outside as retained",
    ),
    Mutation(
        "old-job-failure-fails-new-spec",
        "controller/reconcile/importing.py",
        "        if rec.revision == p.rev and rec.region == p.region:\n            fail(",
        "        if True:\n            fail(",
        ("tests/unit/test_importing.py",),
        "an earlier spec's failed job is recorded as the new spec's failure",
    ),
    Mutation(
        "terminal-create-refusal-dropped",
        "controller/reconcile/importing.py",
        "    fail(p, ConditionType.IMPORTED, err.reason, err.message)\n",
        "    return\n",
        ("tests/unit/test_importing.py",),
        "a terminal create refusal is dropped silently (retried forever)",
    ),
    Mutation(
        "own-other-revision-model-adopted",
        "controller/reconcile/importing.py",
        'if owner == "mine" and not adopted and not _from_revision(p, model, rec.revision):',
        "if False:",
        ("tests/unit/test_importing.py",),
        "an own model of another revision holding the name is adopted as the spec's revision",
    ),
    Mutation(
        "invalid-spec-keeps-queue-place",
        "controller/reconcile/reconciler.py",
        "            else:\n                self.queue.forget(v.uid)\n            if st.model_arn:",
        "            else:\n                pass\n            if st.model_arn:",
        ("tests/unit/test_reconciler.py",),
        "an operator-invalid spec without a job keeps its place in line",
    ),
    Mutation(
        "invalid-spec-ready-silent-on-model",
        "controller/reconcile/reconciler.py",
        "            if st.model_arn:\n                ready +=",
        "            if False:\n                ready +=",
        ("tests/unit/test_reconciler.py",),
        "Ready of an invalid spec does not name the model that keeps serving",
    ),
    Mutation(
        "account-change-not-refused",
        "controller/reconcile/reconciler.py",
        "if _owns(st) and (st.account_role_arn or None) != decision.account_role:",
        "if False:",
        ("tests/unit/test_reconciler.py",),
        "a policy moving the namespace's account is not a violation",
    ),
    Mutation(
        "revert-keeps-smoke-failed",
        "controller/reconcile/reconciler.py",
        "if p.st.failure.condition == ConditionType.SMOKE_TESTED:",
        "if False:",
        ("tests/unit/test_reconciler.py",),
        "a revert after a failed smoke test leaves SmokeTested False",
    ),
    Mutation(
        "revert-keeps-validated-failed",
        "controller/reconcile/reconciler.py",
        "if p.st.failure.condition == ConditionType.VALIDATED:",
        "if False:",
        ("tests/unit/test_reconciler.py",),
        "a revert after a failed validation leaves Validated False",
    ),
    Mutation(
        "invalid-spec-owning-nothing-uses-fallback",
        "controller/reconcile/reconciler.py",
        "            if not owns:\n",
        "            if False:\n",
        ("tests/unit/test_reconciler.py",),
        "an invalid spec that owns nothing goes through the fallback finalize (AWS calls)",
    ),
    Mutation(
        "invalid-spec-fallback-always-delete",
        "controller/reconcile/reconciler.py",
        '"deletionPolicy": "Retain" if v.spec.get("deletionPolicy") == "Retain" else "Delete",',
        '"deletionPolicy": "Delete",',
        ("tests/unit/test_reconciler.py",),
        "the fallback spec of an invalid object always deletes",
    ),
    Mutation(
        "invalid-spec-owner-released-at-once",
        "controller/reconcile/reconciler.py",
        "            if not owns:\n",
        "            if True:\n",
        ("tests/unit/test_reconciler.py",),
        "an invalid spec that owns models is released without deleting them",
    ),
    Mutation(
        "vj-architecture-dropped",
        "controller/kube/validation_jobs.py",
        "        if architecture:\n            args += [",
        "        if False:\n            args += [",
        ("tests/unit/test_validation_jobs.py",),
        "spec.architecture is not passed to the validation pod",
    ),
    Mutation(
        "vj-job-create-error-swallowed",
        "controller/kube/validation_jobs.py",
        "                if exc2.status != 409:\n                    raise",
        "                if False:\n                    raise",
        ("tests/unit/test_validation_jobs.py",),
        "any refused Job create reads as ValidationJobCreated",
    ),
    Mutation(
        "vj-config-error-not-seen",
        "controller/kube/validation_jobs.py",
        "                if waiting and waiting.reason in _CONFIG_ERRORS:",
        "                if False:",
        ("tests/unit/test_validation_jobs.py",),
        "a pod stuck in CreateContainerConfigError waits as Pending until the deadline",
    ),
    Mutation(
        "vj-eviction-after-failure-not-seen",
        "controller/kube/validation_jobs.py",
        '        if any(p.status and p.status.reason == "Evicted" for p in pods):',
        "        if False:",
        ("tests/unit/test_validation_jobs.py",),
        "an eviction seen after the Job failed reads as OOMKilled/crashed",
    ),
    Mutation(
        "vj-failed-without-why",
        "controller/kube/validation_jobs.py",
        "f\"validation Job {name} failed: {reason} {getattr(cond, 'message', '') or ''}\"",
        'f"validation Job {name} failed"',
        ("tests/unit/test_validation_jobs.py",),
        "a Job failed without a validator container says nothing of the job controller's reason",
    ),
    Mutation(
        "vj-error-record-ignored",
        "controller/kube/validation_jobs.py",
        '            if doc is not None and doc.verdict == "error":',
        "            if False:",
        ("tests/unit/test_validation_jobs.py",),
        "a validator that cannot read the source reads as ValidationJobCrashed",
    ),
    Mutation(
        "vj-runs-none-crashes",
        "controller/kube/validation_jobs.py",
        "    if container is None:\n        return {}\n",
        "",
        ("tests/unit/test_validation_jobs.py",),
        "a Job without a `validate` container crashes the pass instead of reading as foreign",
    ),
    Mutation(
        "vj-pod-without-validator-trusted",
        "controller/kube/validation_jobs.py",
        '        return "it has no validator container"',
        "        return None",
        ("tests/unit/test_validation_jobs.py",),
        "a pod of the Job without a validator container is trusted (a tenant's stray pod fails the revision)",
    ),
    Mutation(
        "bc-listing-first-page-only",
        "controller/aws/clients.py",
        '            token = page.get("nextToken")\n            if not token:\n                return\n',
        "            return\n",
        (CLIENTS,),
        "ListImportedModels (and the running-jobs listing) read only their first page",
    ),
    Mutation(
        "bc-sagemaker-could-not-find-is-invalid",
        "controller/aws/clients.py",
        '            if err.kind is Kind.NOT_FOUND or (\n                err.code == "ValidationException" and "not find" in err.message\n            ):',
        "            if err.kind is Kind.NOT_FOUND:",
        (CLIENTS,),
        "SageMaker's 'Could not find model' reads as InvalidRequest, not SageMakerModelNotFound",
    ),
    Mutation(
        "bc-sagemaker-any-error-is-missing",
        "controller/aws/clients.py",
        "            if err.kind is Kind.NOT_FOUND or (\n",
        "            if True or err.kind is Kind.NOT_FOUND or (\n",
        (CLIENTS,),
        "a denied or throttled DescribeModel fails the revision as SageMakerModelNotFound",
    ),
    Mutation(
        "bc-sagemaker-model-data-url-taken",
        "controller/aws/clients.py",
        '            uri = ((c.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")',
        '            uri = ((c.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri") or c.get("ModelDataUrl")',
        (CLIENTS,),
        "a model.tar.gz ModelDataUrl is taken as the folder to import",
    ),
    Mutation(
        "bc-sagemaker-primary-container-only",
        "controller/aws/clients.py",
        '        containers = [model.get("PrimaryContainer") or {}, *list(model.get("Containers") or [])]',
        '        containers = [model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]]',
        (CLIENTS,),
        "only the primary (or first) container is looked at",
    ),
    Mutation(
        "bc-create-role-any-error-is-exists",
        "controller/aws/clients.py",
        '                if exc.response.get("Error", {}).get("Code") != "EntityAlreadyExists":\n                    raise',
        "                if False:\n                    raise",
        (CLIENTS,),
        "every CreateRole error is taken for 'the role exists'",
    ),
    Mutation(
        "bc-role-always-recreated",
        "controller/aws/clients.py",
        "                if wanted and have != wanted:",
        "                if wanted:",
        (CLIENTS,),
        "an existing role is deleted and made again at every import",
    ),
    Mutation(
        "bc-empty-boundary-names-a-policy",
        "controller/aws/clients.py",
        "        if not name:\n            return {}\n",
        "",
        (CLIENTS,),
        "an empty boundary setting still sends a PermissionsBoundary",
    ),
    Mutation(
        "bc-kms-alias-arn-as-key",
        "controller/aws/clients.py",
        '        if key.startswith("arn:") and ":alias/" in key:\n            alias = "alias/" + key.split(":alias/", 1)[1]\n',
        "",
        (CLIENTS,),
        "an alias ARN is granted as if it were a key ARN",
    ),
    Mutation(
        "bc-kms-key-arn-wrapped",
        "controller/aws/clients.py",
        '        arn = key if key.startswith("arn:") else f"arn:aws:kms:{self.region}:{account}:key/{key}"',
        '        arn = f"arn:aws:kms:{self.region}:{account}:key/{key}"',
        (CLIENTS,),
        "a key ARN is wrapped into a key ARN again",
    ),
    Mutation(
        "bc-delete-role-errors-swallowed",
        "controller/aws/clients.py",
        "            if err.kind is not Kind.NOT_FOUND:\n                raise err from None",
        "            if False:\n                raise err from None",
        (CLIENTS,),
        "a refused DeleteRole is taken as done (the role leaks)",
    ),
    Mutation(
        "ld-failed-write-counts-as-renewal",
        "controller/runtime/leadership.py",
        "    def _done(self, ok: bool, what: str) -> bool:\n        if ok:",
        "    def _done(self, ok: bool, what: str) -> bool:\n        self.renewed_at = time.monotonic()\n        if ok:",
        (LEADERSHIP,),
        "a failed Lease write refreshes the last renewal",
    ),
    Mutation(
        "tn-exists-selects-everyone",
        "controller/tenancy/rules.py",
        '        if req.operator == "Exists" and not present:\n            return False\n',
        "",
        (TENANCY,),
        "an Exists selector selects namespaces without the label",
    ),
    Mutation(
        "tn-slower-first-list-wins",
        "controller/tenancy/view.py",
        "            if not self._policies_listed:\n                for name, policy in self._policy_events.items():",
        "            if True:\n                for name, policy in self._policy_events.items():",
        (TENANCY,),
        "the slower of two first policy listings replaces the picture the faster one applied",
    ),
    Mutation(
        "adoption-claim-not-confirmed",
        "controller/reconcile/importing.py",
        "        rec.claimed_at = p.now_rfc3339()\n        return\n",
        "        rec.claimed_at = p.now_rfc3339()\n        _adopt(p, bedrock, rec, model, owner)\n        return\n",
        ("tests/unit/test_adoption.py",),
        "an adoption serves the model in the pass that tags it: two clusters racing both serve one model",
    ),
    Mutation(
        "blind-promote-same-model-supersedes-itself",
        "controller/reconcile/serving.py",
        "if old_arn and old_arn != model.arn:",
        "if old_arn:",
        ("tests/unit/test_serving.py",),
        "Re-promoting the model that already serves records it as superseded, so the next pass deletes the serving model.",
    ),
    Mutation(
        "blind-smoke-pause-eats-deadline",
        "controller/reconcile/smoke.py",
        "min(gap, MAX_COUNTED_GAP)",
        "gap",
        ("tests/unit/test_smoke.py",),
        "A pause, operator outage or long backoff during a cold start counts toward the smoke-test deadline, so a healthy model fails SmokeTestDeadline and is deleted.",
    ),
    Mutation(
        "blind-smoke-runtime-lag-fails",
        "controller/reconcile/smoke.py",
        "if err.kind is Kind.NOT_FOUND:  # the runtime may lag behind the control plane",
        "if err.kind is Kind.CONFLICT:  # the runtime may lag behind the control plane",
        ("tests/unit/test_smoke.py",),
        "When InvokeModel does not know a just-imported model yet (runtime lagging the control plane), the smoke test fails for good and the new model is deleted instead of being tried again.",
    ),
    Mutation(
        "blind-smoke-openai-completion-wrong-key",
        "controller/reconcile/smoke.py",
        'doc = {"prompt": test.prompt, "max_tokens": test.max_tokens, "temperature": 0}',
        'doc = {"prompt": test.prompt, "max_gen_len": test.max_tokens, "temperature": 0}',
        ("tests/unit/test_smoke.py",),
        "An OpenAICompletion smoke test sends max_gen_len instead of max_tokens, so maxTokens is ignored (or the request refused) for that format.",
    ),
    Mutation(
        "blind-failure-ignores-attempt-inputs",
        "controller/reconcile/failures.py",
        "inputs=inputs or p.inputs,",
        "inputs=p.inputs,",
        ("tests/unit/test_importing.py",),
        "A job that failed with a role the user has since fixed is recorded against the fixed spec, so the fix is not retried and the object stays Failed.",
    ),
    Mutation(
        "blind-admission-sagemaker-source-unchecked",
        "controller/reconcile/admission.py",
        "sagemaker = p.spec.source.sage_maker_model_name and decision.policies",
        "sagemaker = p.spec.source.s3_uri and decision.policies",
        ("tests/unit/test_sagemaker_sources.py",),
        "A SageMaker source whose artifacts lie outside the policy's allowed S3 folders is imported instead of refused with SourceNotAllowed.",
    ),
    Mutation(
        "blind-validation-verdict-ignored",
        "controller/reconcile/validation.py",
        'refused = bool(problems) or verdict != "importable"',
        "refused = bool(problems)",
        ("tests/unit/test_validation_flow.py",),
        "A not-importable validation verdict that lists no error findings is accepted as validated and a paid import job is started.",
    ),
    Mutation(
        "blind-sagemaker-uri-cached-forever",
        "controller/reconcile/validation.py",
        "if not p.st.resolved_s3_uri or p.st.validated_inputs != p.inputs:",
        "if not p.st.resolved_s3_uri:",
        ("tests/unit/test_sagemaker_sources.py",),
        "After spec.source.sageMakerModelName is changed, the old SageMaker model's S3 folder is still validated and imported.",
    ),
    Mutation(
        "blind-ownership-needs-all-keys",
        "controller/naming.py",
        '    if not any(k in tags for k in OWNER_KEYS) or released(tags):\n        return "unowned"',
        '    if not all(k in tags for k in OWNER_KEYS) or released(tags):\n        return "unowned"',
        (NAMING,),
        "A model carrying only a uid ownership tag (legacy) or only another cluster's id is treated as unowned and may be adopted or deleted.",
    ),
    Mutation(
        "blind-inputs-ignore-adopt",
        "controller/naming.py",
        '        "adopt": bool(spec.adopt_existing),\n',
        "",
        (NAMING,),
        "Setting spec.adoptExisting after a ModelNameConflict failure does not retry the import; the object stays Failed.",
    ),
    Mutation(
        "blind-revision-ignores-vpc",
        "controller/naming.py",
        'REVISION_FIELDS = ("source", "architecture", "kms_key_id", "vpc_config")',
        'REVISION_FIELDS = ("source", "architecture", "kms_key_id")',
        (NAMING,),
        "Changing spec.vpcConfig no longer imports a new revision; the model keeps the old network settings.",
    ),
    Mutation(
        "blind-smoke-prompt-and-body-both-allowed",
        "controller/api/models.py",
        "if (self.prompt is None) == (self.body is None):",
        "if self.prompt is None and self.body is None:",
        ("tests/unit/test_smoke.py",),
        "A smokeTest with both prompt and body is accepted (the prompt is silently ignored) instead of being refused.",
    ),
    Mutation(
        "late-tag-write-keeps-dead-owner",
        "controller/naming.py",
        '    if not any(k in tags for k in OWNER_KEYS) or released(tags):\n        return "unowned"',
        '    if not any(k in tags for k in OWNER_KEYS):\n        return "unowned"',
        ("tests/unit/test_adoption.py",),
        "owner tags a late TagResource put back on a released model make a deleted object its owner",
    ),
    Mutation(
        "late-create-not-awaited-at-deletion",
        "controller/reconcile/deletion.py",
        "    return max(grace, LATE_CREATE_SECONDS)",
        "    return grace",
        ("tests/unit/test_deletion.py", "tests/unit/test_invariants.py"),
        "a deletion gives a sent create up after the grace period: one Bedrock applies later leaks its model",
    ),
    Mutation(
        "source-wait-on-any-missing-file",
        "controller/reconcile/validation.py",
        '    if errors and all(e["code"] in NOT_THERE_YET for e in errors):',
        '    if errors and any(e["code"] in NOT_THERE_YET for e in errors):',
        ("tests/unit/test_source_wait.py",),
        "a broken model with a file missing is waited for 30 minutes instead of refused at once",
    ),
    Mutation(
        "source-wait-pace-ignored",
        "controller/runtime/operator.py",
        "cap, floor=out.retry_error.retry_after",
        "cap, floor=None",
        ("tests/unit/test_source_wait.py",),
        "a Job-mode wait for an upload makes a new validation Job every few seconds (each pass resets the backoff)",
    ),
    Mutation(
        "role-preflight-skipped",
        "controller/reconcile/importing.py",
        "        problem = p.support.role_problem(role)  # before a job is spent on a role Bedrock cannot assume",
        "        problem = None",
        ("tests/unit/test_role_preflight.py",),
        "a service role that does not exist is found only after an import job ran on it (and held the slot)",
    ),
    Mutation(
        "role-trust-any-service",
        "controller/aws/role_check.py",
        'BEDROCK in _as_list(principal.get("Service") or [])',
        'bool(principal.get("Service"))',
        ("tests/unit/test_role_preflight.py",),
        "a role only EC2 may assume passes the pre-flight, and Bedrock fails the job minutes later",
    ),
    Mutation(
        "superseded-gauge-kept-after-delete",
        "controller/runtime/operator.py",
        "        self.reconciler.count(uid, None)",
        "        pass",
        ("tests/unit/test_fleet_gauges.py",),
        "a deleted object stays counted in bmo_models (and its superseded models in the alert's gauge)",
    ),
    Mutation(
        "import-outcomes-not-at-zero",
        "controller/metrics.py",
        "    IMPORT_JOBS.labels(_outcome)",
        "    pass",
        ("tests/cluster/test_monitoring.py",),
        "the first failed import of a process is a new series at 1, and the ImportFailed alert never sees it",
    ),
    Mutation(
        "typical-duration-counts-each-look",
        "controller/reconcile/durations.py",
        "            if all(name != job for name, _ in recent):",
        "            if True:",
        ("tests/unit/test_import_durations.py",),
        "a job seen ended on several passes counts several times: the typical duration leans to one job",
    ),
    Mutation(
        "inline-waiters-never-woken",
        "controller/reconcile/inline_gate.py",
        "            woken = list(self._waiting)[: max(0, free)]",
        "            woken = []",
        ("tests/unit/test_validation_flow.py",),
        "a model that found the inline validator busy waits for its next poll (10 s) instead of the free turn",
    ),
    Mutation(
        "outage-backoff-not-reset",
        "controller/runtime/work_queue.py",
        "                    item.outage, item.next_try = False, 0.0",
        "                    item.outage = False",
        ("tests/unit/test_outage_recovery.py",),
        "after an outage each object waits out a backoff grown to the cap (two minutes) before trying again",
    ),
    Mutation(
        "outage-not-flagged",
        "controller/runtime/operator.py",
        "        item.outage = out.retry_error.reason in OUTAGE_REASONS",
        "        item.outage = False",
        ("tests/unit/test_outage_recovery.py",),
        "nobody is woken when AWS answers again: the backoff that grew during the outage is waited out",
    ),
    Mutation(
        "refusal-is-an-outage",
        "controller/aws/clients.py",
        "                self._answered()  # a refusal is an answer: the service is there",
        "                pass",
        ("tests/unit/test_outage_recovery.py",),
        "an AccessDenied after an outage leaves the region marked unreachable: probes go on for ever",
    ),
    Mutation(
        "listed-job-arn-not-checked",
        "controller/reconcile/importing.py",
        "        if listed is not None and listed.arn == rec.job_arn:  # the job this object follows, by its ARN",
        "        if listed is not None:",
        ("tests/unit/test_job_listing.py",),
        "a job of the same name with another ARN in the listing is followed as this object's own",
    ),
    Mutation(
        "pause-case-sensitive-tick",
        "controller/runtime/work_queue.py",
        '    if meta.get("deletionTimestamp") or is_paused(meta.get("annotations")):',
        '    if meta.get("deletionTimestamp") or (meta.get("annotations") or {}).get(PAUSE_ANNOTATION) == "true":',
        ("tests/unit/test_ticks.py",),
        'an object paused with "True" beside a running job is polled every 0.5 s while nothing is done',
    ),
    Mutation(
        "job-event-wakes-nobody",
        "controller/runtime/operator.py",
        "        return item is not None and self._submit(owner, item)",
        "        return False",
        ("tests/unit/test_ticks.py",),
        "a validation Job's end is noticed only at the owner's next poll, not when the Job watch sees it",
    ),
    Mutation(
        "late-failed-job-watched-forever",
        "controller/reconcile/given_up.py",
        '    if job.status != "Completed" or not job.model_arn:\n        return False, None',
        '    if job.status != "Completed" or not job.model_arn:\n        return True, None',
        ("tests/unit/test_partial_failures.py",),
        "a given-up create whose late job failed is looked up until the horizon, a call every grace period",
    ),
    Mutation(
        "adoption-forgotten-model-kept",
        "controller/reconcile/importing.py",
        "    p.st.adopted = [a for a in p.st.adopted or [] if a != forgotten] or None",
        "    pass",
        ("tests/unit/test_adoption.py",),
        "an adoption given up (lost to another adopter, or its model gone) stays in status.adopted",
    ),
    Mutation(
        "deletion-waits-for-a-create-that-never-lands",
        "controller/reconcile/given_up.py",
        '        if job is None or ownership(bedrock.tags(job.arn), p.me) != "mine":\n            continue',
        '        if job is None:\n            return "waiting", {}\n        if ownership(bedrock.tags(job.arn), p.me) != "mine":\n            continue',
        ("tests/unit/test_partial_failures.py",),
        "a deletion waits the whole look-up horizon for a given-up create that never landed",
    ),
    Mutation(
        "queued-pass-shielded-at-stop",
        "controller/runtime/registry.py",
        "    return await asyncio.get_running_loop().run_in_executor(op.executor, call)",
        (
            "    future = asyncio.get_running_loop().run_in_executor(op.executor, call)\n"
            "    while not future.done():\n"
            "        try:\n"
            "            await asyncio.shield(future)\n"
            "        except asyncio.CancelledError:\n"
            "            pass\n"
            "    return future.result()"
        ),
        ("tests/unit/test_ticks.py",),
        "at SIGTERM every pass queued behind the workers still runs (kopf's sync-handler semantics): the stop "
        "outlasts the grace period and the Lease is not handed over",
    ),
    # ---- observe-only models (issue 26) ------------------------------------------------------------------
    Mutation(
        "observe-ignores-policy",
        "controller/reconcile/observe.py",
        "    if not decision.allowed:",
        "    if False:",
        ("tests/unit/test_observed.py",),
        "a namespace no policy lets import reads any model's tags, source and key in the operator's account",
    ),
    Mutation(
        "observed-gone-reads-present",
        "controller/reconcile/observe.py",
        "    if model is None:\n        st.exists = False",
        "    if model is None:\n        st.exists = None",
        ("tests/unit/test_observed.py",),
        "a model deleted by hand still reads as existing (status.exists keeps no answer)",
    ),
    Mutation(
        "observed-retained-reads-unowned",
        "controller/naming.py",
        "    retained = tags.get(TAG_RETAINED_FROM)\n    if retained:",
        "    retained = tags.get(TAG_RETAINED_FROM)\n    if False:",
        ("tests/unit/test_observed.py",),
        "a retained model reads as hand-made: nobody can tell which object it came from",
    ),
    Mutation(
        "orphans-superseded-model-listed",
        "controller/orphans.py",
        '            if old.get("arn"):\n                refs.setdefault(',
        "            if False:\n                refs.setdefault(",
        ("tests/unit/test_orphans.py",),
        "a superseded model the operator is about to delete is listed as an orphan (a human deletes it twice)",
    ),
    Mutation(
        "orphans-live-owner-listed",
        "controller/orphans.py",
        "        return None  # its object is alive",
        "        pass  # its object is alive",
        ("tests/unit/test_orphans.py",),
        "a model whose object is alive but has not written its status yet is listed as an orphan",
    ),
    Mutation(
        "orphans-observed-by-name-listed",
        "controller/orphans.py",
        '        arn = st.get("modelArn") or spec.get("modelArn")',
        '        arn = spec.get("modelArn")',
        ("tests/unit/test_orphans.py", "tests/cluster/test_orphans_e2e.py"),
        "a model observed by name is listed as an orphan",
    ),
    # ---- spec.exportTo (issue 26) ------------------------------------------------------------------------
    Mutation(
        "export-not-withdrawn",
        "controller/reconcile/exporting.py",
        "            exports.withdraw(ns, record.config_map_name, uid)",
        "            pass",
        ("tests/unit/test_exports.py",),
        "a renamed or removed exportTo leaves the old ConfigMap naming a model that may be deleted",
    ),
    Mutation(
        "export-conflict-reported-as-exported",
        "controller/reconcile/exporting.py",
        '    if outcome == "conflict":',
        '    if outcome == "never":',
        ("tests/unit/test_exports.py",),
        "a ConfigMap another app owns is reported as holding the model's ARN",
    ),
    Mutation(
        "export-writes-a-foreign-configmap",
        "controller/kube/exports.py",
        '        if not _owned_by(cm, owner_uid):\n            return "conflict"',
        '        if False:\n            return "conflict"',
        ("tests/cluster/test_exports_e2e.py",),
        "an app's own ConfigMap (or kube-root-ca.crt) is overwritten with the model's ARN",
    ),
    # ---- plan (issue 26) ---------------------------------------------------------------------------------
    Mutation(
        "plan-new-source-reads-in-place",
        "controller/planning.py",
        "    if serving_rev != revision(spec) or (serving_region and serving_region != region):",
        "    if serving_region and serving_region != region:",
        ("tests/unit/test_planning.py",),
        "a new source plans as a change in place: a reviewer does not see that it replaces the serving model",
    ),
    Mutation(
        "plan-queue-counts-other-accounts",
        "controller/planning.py",
        '        if (st.get("accountRoleArn") or None) != (account_role or None):\n            continue',
        "        if False:\n            continue",
        ("tests/unit/test_planning.py",),
        "another team account's jobs are counted ahead in a line they do not share",
    ),
    Mutation(
        "plan-taken-name-passes",
        "controller/cli/plan.py",
        '                plan.problems.append(f"model name {spec.model_name} is taken ({managed_by(tags)})")',
        "                pass",
        ("tests/cluster/test_plan_e2e.py::test_a_policy_refusal_and_a_taken_name_exit_1_with_the_reason",),
        "a manifest whose model name another object's model holds plans clean (exit 0), then fails at apply",
    ),
    # ---- smoke-test verdicts (issue 26) ------------------------------------------------------------------
    Mutation(
        "smoke-guardrail-fails-the-revision",
        "controller/reconcile/smoke.py",
        '    guarded = isinstance(answer, dict) and answer.get(GUARDRAIL_ACTION) == "INTERVENED"',
        "    guarded = False",
        ("tests/unit/test_smoke_verdicts.py",),
        "an account's enforced guardrail replacing the answer fails a model that works (and deletes it)",
    ),
    Mutation(
        "smoke-loading-fails-at-the-deadline",
        "controller/reconcile/smoke.py",
        "        if err.code == NOT_READY:  # loading",
        "        if err.code == NOT_READY and not overdue:  # loading",
        ("tests/unit/test_smoke_verdicts.py",),
        "a model still loading (or evicted and loading again) past the deadline is failed and deleted",
    ),
    Mutation(
        "smoke-loading-waited-for-ever",
        "controller/reconcile/smoke.py",
        "            if record.waited_seconds >= limit:",
        "            if False:",
        ("tests/unit/test_smoke_verdicts.py",),
        "a model that never loads is tested for ever: its revision neither serves nor fails",
    ),
    # ---- kstatus (issue 26) ------------------------------------------------------------------------------
    Mutation(
        "kstatus-blocked-reads-in-progress",
        "controller/conditions.py",
        "_STALLED_PHASES = (str(Phase.FAILED), str(Phase.BLOCKED))",
        "_STALLED_PHASES = (str(Phase.FAILED),)",
        ("tests/unit/test_kstatus.py",),
        "an object a policy refuses reads InProgress to Flux: it waits out its timeout instead of the reason",
    ),
    Mutation(
        "kstatus-conditions-left-when-ready",
        "controller/conditions.py",
        '    if ready.get("status") == "True":\n        return gone',
        '    if ready.get("status") == "True" and phase == "never":\n        return gone',
        ("tests/unit/test_kstatus.py",),
        "a Ready model keeps Reconciling=True: Flux never sees it Current",
    ),
    Mutation(
        "kstatus-paused-edit-reads-in-progress",
        "controller/conditions.py",
        '    if paused.get("status") == "True":\n        cause = paused',
        '    if paused.get("status") == "Never":\n        cause = paused',
        ("tests/unit/test_kstatus.py",),
        "a paused object with an edit not acted on reads InProgress: a pipeline waits for work nobody does",
    ),
)


def package_of(file: str) -> str:
    """Where a mutated file lives, as the kill rate is reported: controller/<package>, or a module's own
    name for controller's flat modules, or the top folder (deploy, tests)."""
    parts = Path(file).parts
    if parts[0] == "controller":
        return "/".join(parts[:2]) if len(parts) > 2 else f"controller/{Path(parts[1]).stem}"
    return parts[0]


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "*.pyc")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def locate(m: Mutation, root: Path = ROOT) -> tuple[Path | None, str]:
    """The file to mutate: `m.file` when its text occurs there exactly once, else the one Python file of the
    tree's `controller/`, `deploy/` and `hack/` where it does (code moved to another module keeps its
    mutations). (None, why) when no file, or several, hold it once."""
    named = root / m.file
    if named.is_file() and named.read_text().count(m.find) == 1:
        return named, ""
    found = [
        f
        for top in ("controller", "deploy", "hack")
        for f in sorted((root / top).rglob("*.py"))
        if f.name != "mutants.py" and f.read_text().count(m.find) == 1
    ]
    if len(found) == 1:
        return found[0], ""
    where = ", ".join(str(f.relative_to(root)) for f in found)
    return None, f"stale (the text to mutate is in {len(found)} files{': ' + where if where else ''})"


def run(m: Mutation, python: str, verbose: bool) -> tuple[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"bmo-mutant-{m.id}-") as tmp:
        tree = Path(tmp) / "tree"
        _copy_tree(tree)
        target, why = locate(m, tree)
        if target is None:
            return why, 0.0
        text = target.read_text()
        target.write_text(text.replace(m.find, m.replace))
        started = time.monotonic()
        proc = subprocess.run(
            [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
            cwd=tree,
            capture_output=not verbose,
            text=True,
        )
        took = time.monotonic() - started
        if proc.returncode == 0:
            return "survived", took
        if proc.returncode == 1:
            return "killed", took
        return f"error (pytest exit {proc.returncode})", took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ids", nargs="*", help="mutation ids (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="mutants run at once (one pytest each)")
    ap.add_argument(
        "-p", "--package", action="append", default=[], help="only mutations of this package (repeatable)"
    )
    args = ap.parse_args()
    chosen = [
        m
        for m in MUTATIONS
        if (not args.ids or m.id in args.ids) and (not args.package or package_of(m.file) in args.package)
    ]
    if args.list:
        for m in chosen:
            print(f"{m.id:34} {m.file:38} {m.what}")
        return 0
    unknown = set(args.ids) - {m.id for m in MUTATIONS}
    if unknown:
        print(f"unknown mutation ids: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    results: list[tuple[Mutation, str]] = []

    def one(m: Mutation) -> tuple[Mutation, str]:
        outcome, took = run(m, sys.executable, args.verbose)
        note = " (equivalent: not counted)" if m.equivalent else ""
        print(f"{outcome:10} {took:6.0f}s  {m.id}: {m.what}{note}", flush=True)
        return m, outcome

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:  # each mutant is its own pytest process
        results = list(pool.map(one, chosen))
    counted = [(m, o) for m, o in results if not m.equivalent]
    by_package: dict[str, list[str]] = {}
    for m, o in counted:
        by_package.setdefault(package_of(m.file), []).append(o)
    print()
    for package, outcomes in sorted(by_package.items()):
        k = outcomes.count("killed")
        print(f"{package:28} {k:3}/{len(outcomes):<3} killed ({100 * k / len(outcomes):.0f}%)")
    killed = sum(1 for _, o in counted if o == "killed")
    broken = [m.id for m, o in counted if o not in ("killed", "survived")]
    print(f"\nkill rate: {killed}/{len(counted)} non-equivalent mutations killed", end="")
    print(f" ({100 * killed / len(counted):.0f}%)" if counted else "")
    if broken:
        print(f"not run cleanly: {', '.join(broken)}")
    return 0 if killed == len(counted) and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
