"""The `dev`, `model-folder` and `emulator` subcommands of `bedrock-model-operator` (this package)."""

from __future__ import annotations

import argparse

from controller.cli.help_format import DefaultsHelpFormatter


def _dev(args: argparse.Namespace) -> int:
    from bmo_devtools.dev.stack import run_dev_stack

    return run_dev_stack(args)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    dev = sub.add_parser(
        "dev",
        formatter_class=DefaultsHelpFormatter,
        help="run the whole product locally: control plane, AWS emulators, operator, examples",
        description="Start a local Kubernetes control plane, moto and the local Bedrock on loopback, the "
        "operator, and the examples; print how to reach them; run until Ctrl-C. Needs no AWS account.",
    )
    dev.add_argument(
        "--workdir", help="where the stack keeps its files (default ~/.cache/bedrock-model-operator/dev)"
    )
    dev.add_argument(
        "--use-current-context",
        action="store_true",
        help="use the cluster of the current kubeconfig context instead of a local control plane",
    )
    dev.add_argument(
        "--in-cluster",
        action="store_true",
        help="also run a real node (kubelet, containerd, runc), build the image from the Dockerfile, install "
        "the operator from deploy/overlays/local as a Deployment and validate in real Job pods (needs root)",
    )
    dev.add_argument(
        "--flux",
        action="store_true",
        help="sync the examples from a local git server with Flux (source-controller and "
        "kustomize-controller, built from the Go module proxy on the first run) instead of kubectl apply",
    )
    dev.add_argument("--job-duration", type=float, default=5.0, help="seconds each emulated import job runs")
    dev.add_argument(
        "--timeout", type=float, default=300.0, help="give up waiting for final states after this"
    )
    dev.add_argument(
        "--exit-after-setup",
        action="store_true",
        help="stop once every model is final (for scripts and tests)",
    )
    dev.set_defaults(func=_dev)

    from bmo_devtools.dev import model_folder
    from bmo_devtools.emulator import main as emulator_main

    model_folder.add_parser(sub)

    emulator_main.add_parser(sub)
