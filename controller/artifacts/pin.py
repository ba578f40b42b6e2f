"""What validation saw, in one value: a fingerprint of the folder's files (names, sizes, ETags).

Validation reads the source; the import job reads it minutes later, after the queue. A fingerprint taken
by the validator and compared with a fresh listing before the job is created (and while the model serves)
says whether the files Bedrock reads are the ones that were judged. An ETag changes whenever an object's
bytes are written again, so a swapped shard or config is seen even at the same size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from controller.artifacts.sources import FileInfo


def source_digest(files: Iterable[FileInfo]) -> str:
    """A fingerprint of the folder's files, independent of listing order."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        h.update(f"{f.name}\t{f.size}\t{f.etag}\n".encode())
    return "sha256:" + h.hexdigest()[:32]
