"""How much of a model the validator reads, against downloading it, measured side by side in one run.

1. A synthetic 30-shard model (real safetensors headers, finite non-zero data) is uploaded to moto's S3,
   running as its own process on loopback. The validator judges it with headers only, then with weights
   sanity (a few ranges of every float tensor); then a naive check downloads every object whole (what a
   "download and load" validator would do). Bytes and seconds for each.
2. A 200 GB, 30-shard model as sparse local files (no disk used): the validator's bytes and time.

    uv run python bench/validate_io.py [--shard-mb 64] [--shards 30] [--sparse-gb 200]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmo_devtools.dev.model_factory import build_sharded_model
from controller.artifacts import LocalFolder, S3Folder, validate_source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except Exception:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.3f} MB"


def _figures(report, seconds: float, sampled, sampled_s: float) -> dict:
    """One model's figures: header-only validation, then with weights sanity, side by side."""
    s, w = report.summary, sampled.summary
    return {
        "total_bytes": s.total_bytes,
        "validator_bytes_read": s.bytes_read,
        "validator_requests": s.read_requests,
        "validator_fraction": s.bytes_read / s.total_bytes,
        "validator_seconds": round(seconds, 3),
        "sampled_tensors": w.sampled_tensors,
        "with_weights_bytes_read": w.bytes_read,
        "with_weights_requests": w.read_requests,
        "with_weights_fraction": w.bytes_read / s.total_bytes,
        "with_weights_seconds": round(sampled_s, 3),
        "with_weights_time_factor": round(sampled_s / seconds, 2),
    }


def _through_latency(url: str, latency_ms: int) -> dict:
    """Header-only and with weights sanity again, each request delayed `latency_ms` by a proxy in front of
    moto: what the request count costs against a far-away S3 (moto on loopback answers in microseconds)."""
    from urllib.parse import urlparse

    from bmo_devtools.dev.fault_proxy import FaultProxy

    target = urlparse(url)
    proxy = FaultProxy(target.hostname or "127.0.0.1", target.port or 80, latency=latency_ms / 1000)
    try:
        far = boto3.client(
            "s3", endpoint_url=proxy.url, region_name="us-east-1", config=Config(max_pool_connections=32)
        )
        t0 = time.perf_counter()
        validate_source(S3Folder("s3://bench/model/", client=far), sample_weights=False)
        header_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        validate_source(S3Folder("s3://bench/model/", client=far))
        sampled_s = time.perf_counter() - t0
    finally:
        proxy.stop()
    return {
        "latency_ms": latency_ms,
        "latency_validator_seconds": round(header_s, 3),
        "latency_with_weights_seconds": round(sampled_s, 3),
        "latency_with_weights_time_factor": round(sampled_s / header_s, 2),
    }


class _FarFolder(LocalFolder):
    """The model's files served at disk speed, each read delayed `latency`: S3's cost model (a request costs
    its latency; a byte range is served without reading the rest of the object), which moto's is not."""

    def __init__(self, path: Path, latency: float) -> None:
        super().__init__(path)
        self.latency = latency

    def list_files(self, limit: int | None = None):
        time.sleep(self.latency)
        return super().list_files(limit)

    def read(self, name: str, start: int, length: int) -> bytes:
        time.sleep(self.latency)
        return super().read(name, start, length)


def _far_files(folder: Path, latency_ms: int) -> dict:
    """Header-only and with weights sanity over local files, each read delayed `latency_ms`."""
    t0 = time.perf_counter()
    validate_source(_FarFolder(folder, latency_ms / 1000), sample_weights=False)
    header_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    validate_source(_FarFolder(folder, latency_ms / 1000))
    sampled_s = time.perf_counter() - t0
    return {
        "far_files_validator_seconds": round(header_s, 3),
        "far_files_with_weights_seconds": round(sampled_s, 3),
    }


def bench_s3(shards: int, shard_mb: int, latency_ms: int = 30) -> dict:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    moto, url = _start_moto()
    try:
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", config=Config(max_pool_connections=32)
        )
        s3.create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory() as tmp:
            folder = build_sharded_model(Path(tmp) / "m", shards * shard_mb * 10**6, shards)
            t0 = time.perf_counter()
            for path in sorted(folder.iterdir()):
                s3.upload_file(str(path), "bench", f"model/{path.name}")
            upload_s = time.perf_counter() - t0
            far_files = _far_files(folder, latency_ms) if latency_ms else {}

        src = S3Folder("s3://bench/model/", client=s3)
        t0 = time.perf_counter()
        report = validate_source(src, sample_weights=False)  # headers only
        validate_s = time.perf_counter() - t0
        assert report.importable, report.to_dict()
        sampled_src = S3Folder("s3://bench/model/", client=s3)
        t0 = time.perf_counter()
        sampled = validate_source(sampled_src)  # headers, then a few ranges of every float tensor
        sampled_s = time.perf_counter() - t0
        assert sampled.importable, sampled.to_dict()

        t0 = time.perf_counter()
        naive_bytes = 0
        for obj in s3.list_objects_v2(Bucket="bench", Prefix="model/")["Contents"]:
            body = s3.get_object(Bucket="bench", Key=obj["Key"])["Body"]
            for chunk in iter(lambda b=body: b.read(8 * 1024 * 1024), b""):
                naive_bytes += len(chunk)
        naive_s = time.perf_counter() - t0
        far = _through_latency(url, latency_ms) if latency_ms else {}
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    return {
        "case": f"moto S3, {shards} shards x {shard_mb} MB",
        **_figures(report, validate_s, sampled, sampled_s),
        "naive_bytes_read": naive_bytes,
        "naive_seconds": round(naive_s, 3),
        "speedup": round(naive_s / validate_s, 1),
        "upload_seconds": round(upload_s, 1),
        **far,
        **far_files,
    }


def bench_sparse(shards: int, gb: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_sharded_model(Path(tmp) / "m", gb * 10**9 - 1, shards)
        t0 = time.perf_counter()
        report = validate_source(LocalFolder(folder), sample_weights=False)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        sampled = validate_source(LocalFolder(folder))  # sparse: the samples read zeros (warned), same reads
        sampled_s = time.perf_counter() - t0
    return {
        "case": f"local sparse files, {shards} shards, {gb} GB",
        **_figures(report, seconds, sampled, sampled_s),
        "verdict": report.verdict,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", type=int, default=30)
    ap.add_argument("--shard-mb", type=int, default=64, help="size of each shard uploaded to moto")
    ap.add_argument("--sparse-gb", type=int, default=200, help="size of the sparse local model (0: skip)")
    ap.add_argument(
        "--latency-ms",
        type=int,
        default=30,
        help="then again through a proxy adding this per request (0: skip)",
    )
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)

    results = [bench_s3(args.shards, args.shard_mb, args.latency_ms)]
    if args.sparse_gb:
        results.append(bench_sparse(args.shards, args.sparse_gb))
    for r in results:
        print(f"\n{r['case']}: {_mb(r['total_bytes'])} in total")
        print(
            f"  validator: read {_mb(r['validator_bytes_read'])} in {r['validator_requests']} requests "
            f"({r['validator_fraction']:.6%} of the bytes) in {r['validator_seconds']} s"
        )
        if "with_weights_seconds" in r:
            print(
                f"  with weights sanity ({r['sampled_tensors']} tensors sampled): read "
                f"{_mb(r['with_weights_bytes_read'])} in {r['with_weights_requests']} requests "
                f"({r['with_weights_fraction']:.6%}) in {r['with_weights_seconds']} s "
                f"({r['with_weights_time_factor']}x the header-only time)"
            )
        if "latency_ms" in r:
            print(
                f"  through a proxy adding {r['latency_ms']} ms per request: header-only "
                f"{r['latency_validator_seconds']} s, with weights sanity "
                f"{r['latency_with_weights_seconds']} s ({r['latency_with_weights_time_factor']}x)"
            )
            print(
                f"  local files, each read delayed {r['latency_ms']} ms (ranges served without reading the "
                f"rest): header-only {r['far_files_validator_seconds']} s, with weights sanity "
                f"{r['far_files_with_weights_seconds']} s"
            )
        if "naive_seconds" in r:
            print(
                f"  naive whole-file download: {_mb(r['naive_bytes_read'])} in {r['naive_seconds']} s "
                f"({r['speedup']}x slower)"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
