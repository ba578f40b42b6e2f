"""Parse and check a safetensors header from its first bytes, never trusting a length in the file.

Format (https://github.com/huggingface/safetensors): u64 little-endian header length N, then N bytes of
JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data.
Offsets are relative to the end of the header, must tile the data exactly, and each tensor's byte size
must equal prod(shape) x dtype size. This module only decides; reading is the caller's job.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

from controller.artifacts.report import Finding

#: Longest header we will read. The reference implementation refuses more than 100 MB; real headers of
#: the largest public checkpoints are well under 1 MiB, so 16 MiB leaves room and bounds memory.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: Bytes to fetch in the first read: the length prefix and, for nearly all real checkpoints (headers of
#: 5-15 KB), the whole header; a larger header costs one more ranged read.
FIRST_READ_BYTES = 16 * 1024

#: Bits per element for every dtype safetensors defines.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "U16": 16,
    "I16": 16,
    "U32": 32,
    "I32": 32,
    "U64": 64,
    "I64": 64,
    "F16": 16,
    "BF16": 16,
    "F32": 32,
    "F64": 64,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "C64": 64,
}
FLOAT_WEIGHT_DTYPES = frozenset({"F32", "F16", "BF16"})


@dataclass(frozen=True, slots=True)  # slots: a folder may hold tens of thousands
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass
class ParsedHeader:
    file: str
    header_len: int
    tensors: list[TensorInfo] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    errors: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def header_length(
    prefix: bytes, file: str, file_size: int, max_bytes: int = MAX_HEADER_BYTES, mode: str = "Job"
) -> tuple[int | None, Finding | None]:
    """Decode the 8-byte length prefix, refusing lengths the file cannot hold or we will not read."""
    if file_size < 8 or len(prefix) < 8:
        return None, Finding(
            "SafetensorsTruncated",
            f"{file} is {file_size} bytes: too short to be "
            "safetensors (no 8-byte header length). Re-save or re-upload it.",
            file=file,
        )
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > max_bytes:
        return None, Finding(
            "SafetensorsHeaderTooLarge",
            f"{file} declares a {n}-byte header (limit {max_bytes} for {mode} validation): the file is "
            "corrupt or not safetensors.",
            file=file,
        )
    if n < 2 or 8 + n > file_size:
        return None, Finding(
            "SafetensorsTruncated",
            f"{file} declares a {n}-byte header but is only "
            f"{file_size} bytes long: the upload was cut short; upload it again.",
            file=file,
        )
    return n, None


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:80]!r}")
        out[key] = value
    return out


def _short(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_header(raw: bytes, file: str, file_size: int) -> ParsedHeader:
    """Check a header's JSON against the format and against the file's real size."""
    n = len(raw)
    result = ParsedHeader(file=file, header_len=n)

    def bad(code: str, message: str) -> ParsedHeader:
        result.errors.append(Finding(code, f"{file}: {message}", file=file))
        return result

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return bad("SafetensorsHeaderInvalid", "header is not UTF-8 JSON; the file is not valid safetensors")
    if not text.lstrip().startswith("{"):
        return bad(
            "SafetensorsHeaderInvalid", "header is not a JSON object; the file is not valid safetensors"
        )
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        return bad("SafetensorsHeaderInvalid", f"header is not valid JSON ({str(exc)[:120]})")
    if not isinstance(doc, dict):
        return bad("SafetensorsHeaderInvalid", "header is not a JSON object")

    meta = doc.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        return bad("SafetensorsHeaderInvalid", "__metadata__ must map strings to strings")
    result.metadata = meta

    for name, info in doc.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            return bad(
                "SafetensorsHeaderInvalid",
                f"tensor {_short(name)} must have exactly dtype, shape and data_offsets",
            )
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            return bad("SafetensorsHeaderInvalid", f"tensor {_short(name)} has unknown dtype {_short(dtype)}")
        if (
            not isinstance(shape, list)
            or len(shape) > 16
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**48 for d in shape)
        ):
            return bad("SafetensorsHeaderInvalid", f"tensor {_short(name)} has an invalid shape")
        if (
            not (
                isinstance(offsets, list)
                and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) and 0 <= o < 2**63 for o in offsets)
            )
            or offsets[0] > offsets[1]
        ):
            return bad("SafetensorsHeaderInvalid", f"tensor {_short(name)} has invalid data_offsets")
        result.tensors.append(TensorInfo(name, dtype, tuple(shape), offsets[0], offsets[1]))

    data_len = file_size - 8 - n
    cursor = 0
    for t in sorted(result.tensors, key=lambda t: (t.begin, t.end)):
        if t.begin != cursor:
            what = "overlaps the previous tensor" if t.begin < cursor else "leaves a gap before it"
            return bad(
                "SafetensorsOffsetsInvalid",
                f"tensor {_short(t.name)} {what} (data_offsets {t.begin}..{t.end}); the file is corrupt",
            )
        bits = t.elements * DTYPE_BITS[t.dtype]
        if bits % 8 or bits // 8 != t.end - t.begin:
            return bad(
                "SafetensorsShapeMismatch",
                f"tensor {_short(t.name)} is {t.dtype}{list(t.shape)} = "
                f"{bits / 8:.0f} bytes but its data_offsets span {t.end - t.begin} bytes",
            )
        cursor = t.end
    if cursor > data_len:
        return bad(
            "SafetensorsTruncated",
            f"tensors need {cursor} data bytes but the file holds {data_len}: "
            "the upload was cut short; upload it again",
        )
    if cursor != data_len:
        return bad(
            "SafetensorsSizeMismatch",
            f"tensor data ends at byte {cursor} but the file has "
            f"{data_len} data bytes: trailing bytes mean a corrupt or wrong file",
        )
    return result
