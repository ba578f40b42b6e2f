"""`bedrock-model-operator plan -f model.yaml`: what applying a manifest would do, before the merge.

Read-only, like `terraform plan` or `argocd app diff`: Kubernetes (the live object, the
BedrockImportPolicies, the namespace's labels, the objects in the import line; the current kubeconfig) and
AWS (the model folder's headers, read by the validator; whether the model name is taken; boto3's credential
chain). Exit 0: it would import (or change in place) cleanly; 1: it would not (the validator or a policy
refuses it, its name is taken); 2: it could not be planned (the file, Kubernetes or AWS unreadable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from controller.cli.help_format import DefaultsHelpFormatter

EXIT_OK, EXIT_REFUSED, EXIT_UNPLANNABLE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        formatter_class=DefaultsHelpFormatter,
        help="say what applying a BedrockImportedModel manifest would do (read-only)",
        description="For each BedrockImportedModel in the file: new model, new revision (and which model it "
        "replaces), a change in place, or nothing; the validator's verdict; the namespace's policy "
        "decision; the model name and whether it is taken; the objects ahead in the import line; an "
        "estimate of its Custom Model Units and of one 5-minute billing window at your price.",
    )
    p.add_argument("-f", "--filename", required=True, help="the manifest (YAML, several documents allowed)")
    p.add_argument("-n", "--namespace", default="default", help="namespace of documents that name none")
    p.add_argument(
        "--price-per-cmu-minute", type=float, help="your region's price of one CMU-minute, for the cost line"
    )
    p.add_argument("--no-validate", action="store_true", help="do not read the model folder")
    p.add_argument("--output", choices=("text", "json"), default="text", help="text, or one JSON document")
    p.set_defaults(func=run)


def _get(settings: Any, path: str) -> dict[str, Any] | None:
    from controller.kube.client import raw

    status, body = raw(settings, "GET", path)
    if status == 404:
        return None
    if status >= 300:
        raise RuntimeError(f"Kubernetes answered {status} to GET {path}")
    return body


def plan_document(settings: Any, doc: dict[str, Any], namespace: str, price: float | None, validate: bool):
    """One manifest document's Plan (reads only)."""
    from pydantic import ValidationError

    from controller import planning
    from controller.api.models import GROUP, PLURAL, VERSION, BedrockImportedModelSpec, default_model_name
    from controller.aws.clients import BedrockClient, SupportClients
    from controller.kube.client import tenancy_readers
    from controller.naming import Identity, managed_by, owner_in
    from controller.reconcile.context import parse_status, wanted_region
    from controller.reconcile.validation import mode_of
    from controller.tenancy.rules import check_size
    from controller.tenancy.view import TenancyView

    meta = doc.get("metadata") or {}
    ns, name = meta.get("namespace") or namespace, meta.get("name") or "?"
    try:
        spec = BedrockImportedModelSpec.model_validate(doc.get("spec") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        plan = planning.Plan(object=f"{ns}/{name}", action=planning.NOTHING, region="")
        plan.problems.append(f"the spec is invalid (kubectl apply refuses it): spec.{where}: {first['msg']}")
        return plan
    live = _get(settings, f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}/{name}")
    st = parse_status((live or {}).get("status") or {})
    region = wanted_region(spec, st, settings.region)
    action, changes = planning.action_of(spec, live, region)
    plan = planning.Plan(object=f"{ns}/{name}", action=action, region=region, changes=changes)
    if action == planning.NEW_REVISION and st.model_arn:
        plan.replaces = f"{st.model_name} ({st.model_arn})"

    mode = mode_of(spec, settings)
    decision = TenancyView(settings.import_policy_default, **tenancy_readers(settings)).decide(
        ns, spec, mode, region
    )
    if validate and planning.imports(action):
        from controller.artifacts.sources import S3Folder
        from controller.artifacts.validate import validate_source

        uri = spec.source.s3_uri or SupportClients(settings, region).sagemaker_s3_uri(
            spec.source.sage_maker_model_name or ""
        )
        report = validate_source(S3Folder(uri, region=region), architecture=spec.architecture, region=region)
        plan.validation = {
            "source": uri,
            "verdict": report.verdict,
            "errors": sorted(f.code for f in report.errors),
            "warnings": sorted(f.code for f in report.warnings),
            "architecture": report.summary.architecture,
            "weightBytes": report.summary.weight_bytes,
        }
        if not report.importable:
            plan.problems.append(f"the validator refuses the files: {', '.join(plan.validation['errors'])}")
        too_large = check_size(decision, report.summary.weight_bytes)
        if too_large is not None:
            decision = dataclasses.replace(decision, violations=(*decision.violations, too_large))
        plan.cmus_estimate = planning.estimate_cmus(report.summary.weight_bytes)
        plan.price_per_cmu_minute = price
        plan.window_cost = planning.window_cost(plan.cmus_estimate, price)
    plan.policy = {
        "allowed": decision.allowed,
        "summary": decision.summary(),
        "violations": [{"rule": v.rule, "field": v.field, "message": v.message} for v in decision.violations],
    }
    if not decision.allowed and planning.imports(action):
        plan.problems.append(f"a policy refuses it: {decision.summary()}")

    if spec.model_name:
        plan.model_name = spec.model_name
        model = (
            BedrockClient(settings, region).find_model(spec.model_name) if planning.imports(action) else None
        )
        if model is None:
            plan.model_name_note = "free"
        else:
            tags = BedrockClient(settings, region).tags(model.arn)
            mine = live is not None and tags.get("bedrock.modelops.io/uid") == live["metadata"]["uid"]
            if mine:
                plan.model_name_note = "this object's model"
            elif spec.adopt_existing and owner_in(tags) is None:
                plan.model_name_note = (
                    f"taken; adopted (adoptExisting) if the policy allows: {managed_by(tags)}"
                )
            else:
                plan.model_name_note = f"taken: {managed_by(tags)}"
                plan.problems.append(f"model name {spec.model_name} is taken ({managed_by(tags)})")
    elif live is not None:
        from controller.runtime.main import cluster_id

        me = Identity(cluster_id(settings), "", ns, name, live["metadata"]["uid"])
        plan.model_name = st.model_name or default_model_name(ns, name, me.hash)
        plan.model_name_note = "derived from the object's identity: never collides"
    else:
        plan.model_name = default_model_name(ns, name, "<hash>")
        plan.model_name_note = "derived from the object's identity once it is created: never collides"

    if planning.imports(action):
        models = _get(settings, f"/apis/{GROUP}/{VERSION}/{PLURAL}") or {}
        uid = (live or {}).get("metadata", {}).get("uid", "")
        plan.queue_ahead = planning.queue_ahead(models.get("items") or [], region, decision.account_role, uid)
    return plan


def _text(plan: Any) -> str:
    what = {
        "create": "a new model",
        "new-revision": "a new revision",
        "in-place": "changed in place, no import",
        "nothing": "nothing changes",
    }[plan.action]
    lines = [f"{plan.object}: {plan.action} ({what}){' in ' + plan.region if plan.region else ''}"]
    if plan.changes:
        lines.append(f"  changes:    {', '.join(plan.changes)}")
    if plan.replaces:
        lines.append(f"  replaces:   {plan.replaces}, deleted once the new model serves")
    if plan.validation:
        v = plan.validation
        gb = f"{v['weightBytes'] / 1e9:.1f} GB of weights" if v["weightBytes"] else "no weights found"
        codes = f"; {', '.join(v['errors'])}" if v["errors"] else ""
        lines.append(
            f"  validation: {v['verdict']} ({v['architecture'] or 'architecture unknown'}, {gb}){codes}"
        )
    if plan.policy:
        lines.append(f"  policy:     {plan.policy['summary']}")
    if plan.model_name:
        lines.append(f"  model name: {plan.model_name} ({plan.model_name_note})")
    if plan.queue_ahead is not None:
        lines.append(
            f"  queue:      {plan.queue_ahead} ahead in {plan.region} (one import job per account and region)"
        )
    if plan.cmus_estimate is not None:
        cost = (
            f"; one 5-minute window: {plan.cmus_estimate} x {plan.price_per_cmu_minute} x 5 = "
            f"{plan.window_cost}"
            if plan.window_cost is not None
            else " (give --price-per-cmu-minute for the cost of a 5-minute window)"
        )
        lines.append(f"  cost:       ~{plan.cmus_estimate} CMUs per copy (estimate){cost}")
    for problem in plan.problems:
        lines.append(f"  REFUSED:    {problem}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import yaml

    from controller.errors import OperatorError
    from controller.runtime.preflight import PreflightError
    from controller.settings import Settings

    try:
        with open(args.filename) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError) as exc:
        print(f"bedrock-model-operator plan: cannot read {args.filename}: {exc}", file=sys.stderr)
        return EXIT_UNPLANNABLE
    docs = [d for d in docs if d.get("kind") == "BedrockImportedModel"]
    if not docs:
        print(f"bedrock-model-operator plan: no BedrockImportedModel in {args.filename}", file=sys.stderr)
        return EXIT_UNPLANNABLE
    settings = Settings()
    try:
        plans = [
            plan_document(settings, d, args.namespace, args.price_per_cmu_minute, not args.no_validate)
            for d in docs
        ]
    except (PreflightError, OperatorError, RuntimeError, OSError) as exc:
        print(f"bedrock-model-operator plan: {exc}", file=sys.stderr)
        return EXIT_UNPLANNABLE
    if args.output == "json":
        print(json.dumps({"plans": [p.as_dict() for p in plans]}))
    else:
        print("\n\n".join(_text(p) for p in plans))
    return EXIT_REFUSED if any(p.problems for p in plans) else EXIT_OK
