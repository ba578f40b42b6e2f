"""`bedrock-model-operator orphans`: every imported model in the account and region(s) that no live object
serves, supersedes, tests, adopted or observes, with why, its age and Custom Model Units.

Read-only (Kubernetes: LIST of the two kinds and the kube-system namespace; Bedrock: ListImportedModels,
ListTagsForResource of the models no object names, GetImportedModel of each orphan). Deleting stays a
human decision: the exact command is printed. Kubernetes: the current kubeconfig; AWS: boto3's credential
chain (a team's account: run it with that account's credentials). Exit 0; with --fail-on-orphans, 1 when
there is one (a CI gate); 2 when Kubernetes or Bedrock cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from controller.cli.help_format import DefaultsHelpFormatter

EXIT_OK, EXIT_ORPHANS, EXIT_UNREADABLE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "orphans",
        formatter_class=DefaultsHelpFormatter,
        help="list imported models no live object accounts for (read-only)",
        description="List every imported model in the account and region(s) that no live "
        "BedrockImportedModel serves, supersedes, tests or adopted and no BedrockObservedModel observes: why "
        "(its object is gone, retained, another cluster's, unowned), its age and CMUs, and the command that "
        "would delete it.",
    )
    p.add_argument("--region", action="append", help="region to look in (repeatable; default: BMO_REGION)")
    p.add_argument("--cluster-id", help="this cluster's id (default: the kube-system namespace's uid)")
    p.add_argument("--output", choices=("text", "json"), default="text", help="text, or one JSON document")
    p.add_argument("--fail-on-orphans", action="store_true", help="exit 1 when any model is an orphan")
    p.set_defaults(func=run)


def _items(settings: Any, plural: str) -> list[dict[str, Any]]:
    from controller.kube.client import raw

    status, body = raw(settings, "GET", f"/apis/bedrock.modelops.io/v1alpha1/{plural}")
    if status == 404:  # the kind is not installed: no such object
        return []
    if status >= 300:
        raise RuntimeError(f"Kubernetes answered {status} listing {plural}")
    return list((body or {}).get("items") or [])


def find(settings: Any, regions: list[str], cluster: str) -> list[Any]:
    """Every orphan in `regions`, oldest first, with its CMUs and age."""
    from controller.aws.clients import BedrockClient
    from controller.orphans import scan

    imported = _items(settings, "bedrockimportedmodels")
    observed = _items(settings, "bedrockobservedmodels")
    return scan(imported, observed, regions, lambda region: BedrockClient(settings, region), cluster)


def run(args: argparse.Namespace) -> int:
    from controller.errors import OperatorError
    from controller.runtime.main import cluster_id
    from controller.runtime.preflight import PreflightError
    from controller.settings import Settings

    settings = Settings(**({"cluster_id": args.cluster_id} if args.cluster_id else {}))
    regions = args.region or [settings.region]
    try:
        cluster = cluster_id(settings)
        orphans = find(settings, regions, cluster)
    except (PreflightError, OperatorError, RuntimeError) as exc:
        print(f"bedrock-model-operator orphans: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.output == "json":
        print(
            json.dumps({"clusterId": cluster, "regions": regions, "orphans": [o.as_dict() for o in orphans]})
        )
    elif not orphans:
        print(f"no orphaned models in {', '.join(regions)}")
    else:
        cmus = sum(o.custom_model_units or 0 for o in orphans)
        print(f"{len(orphans)} orphaned models in {', '.join(regions)} ({cmus} CMUs per copy in all):\n")
        for o in orphans:
            age = f"{o.age_days:.1f} days" if o.age_days is not None else "age unknown"
            print(f"{o.name}  [{o.kind}]  {o.region}  {age}  {o.custom_model_units or '?'} CMUs")
            print(f"  {o.why}")
            print(f"  delete: {o.delete_command}\n")
    return EXIT_ORPHANS if orphans and args.fail_on_orphans else EXIT_OK
