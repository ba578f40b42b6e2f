"""How long one reconcile pass holds the operator while tenants and AWS misbehave.

Replays, in the in-process World (the real pass logic, the local Bedrock's state, in-memory S3 folders and
validation Jobs), every sequence of `tests/unit/test_partial_failures.py` (the review's findings: creates
answered late, adversarial `expect` patterns, paused and deleting slot holders, tenant accounts, squatted
job names, created roles, creates applied late), the hostile-input tests and N sequences of the property
test, and reports the wall time of every pass: kopf runs passes in worker threads, so a pass that held the
GIL for a second would stop the event loop, every other object's pass and the Lease renewals for as long.

    uv run python bench/hostile_passes.py [--sequences 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = (
    "tests/unit/test_partial_failures.py",
    "tests/unit/test_validation_limits.py",
    "tests/unit/test_invariants.py",
)

_PLUGIN = """
import atexit, json, os
from tests.support import world

@atexit.register
def _dump():
    with open(os.environ["BMO_PASS_SECONDS_OUT"], "w") as fh:
        json.dump(world.PASS_SECONDS, fh)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", type=int, default=100, help="property-test sequences to replay")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "passes.json"
        (Path(tmp) / "bmo_pass_timer.py").write_text(_PLUGIN)
        env = os.environ | {
            "BMO_PASS_SECONDS_OUT": str(out),
            "BMO_INVARIANT_EXAMPLES": str(args.sequences),
            "PYTHONPATH": os.pathsep.join([tmp, str(ROOT)]),
        }
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bmo_pass_timer", *FILES],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        took = time.monotonic() - began
        if proc.returncode:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            return 1
        seconds = sorted(json.loads(out.read_text()))
    n = len(seconds)
    print(f"passes: {n} in {took:.0f} s ({proc.stdout.strip().splitlines()[-1]})")
    print(
        f"pass wall time: median {statistics.median(seconds) * 1000:.1f} ms, "
        f"p99 {seconds[int(n * 0.99)] * 1000:.1f} ms, max {seconds[-1] * 1000:.1f} ms"
    )
    print(f"passes over 1 s: {sum(1 for s in seconds if s > 1.0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
