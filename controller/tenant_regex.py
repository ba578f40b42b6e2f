"""Regular expressions a tenant writes (`smokeTest.expect`), compiled and matched in linear time.

Python's `re` backtracks: `(a|aa)*c` or `.*.*.*.*NOPE` against a long answer holds the GIL for minutes,
and with it the event loop, every worker and the Lease renewals (the standby then freezes on the same
candidate). RE2 (google-re2) matches in time linear in the text and in bounded memory, whatever the
pattern; a pattern RE2 cannot take (backreferences, lookaround, a program over the memory budget) is
refused at admission with the reason, never run.
"""

from __future__ import annotations

import functools

import re2

#: RE2's budget for one compiled pattern (its default is 8 MiB; a 1 KiB pattern needs far less).
MAX_PROGRAM_BYTES = 1 << 20


class PatternError(ValueError):
    """The pattern is not one RE2 runs: the message says why, in RE2's words."""


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re2._Regexp:
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_BYTES
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        why = exc.args[0] if exc.args else ""
        why = why.decode(errors="replace") if isinstance(why, bytes) else str(why)
        raise PatternError(why or "not a valid RE2 regular expression") from None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches anywhere in `text` (linear time; raises PatternError if it cannot run)."""
    return compile_pattern(pattern).search(text) is not None
