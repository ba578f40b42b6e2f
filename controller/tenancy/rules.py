"""Which BedrockImportPolicies apply to a namespace, and what of a model's spec they refuse. Pure functions.

The same rules run twice: as CEL in the ValidatingAdmissionPolicy (`deploy/base/admission-policy.yaml`,
at `kubectl apply`) and here, at every import (a policy or a namespace's labels may change after the apply;
a size or a count is only known later). Each refusal names the policy, the field and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from controller.api.models import BedrockImportedModelSpec
from controller.api.policy import (
    BedrockImportPolicy,
    NamespaceSelector,
    folder,
    pattern_matches,
    quantity_bytes,
)
from controller.api.reasons import Reason
from controller.naming import TAG_RETAINED_BY_CLUSTER, TAG_RETAINED_FROM

#: With no policy for a namespace: `open` imports anything (the dev stack), `restricted` nothing.
DEFAULT_OPEN, DEFAULT_RESTRICTED = "open", "restricted"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class Rule:
    """Reasons of the `Allowed` condition: one per rule a policy can break."""

    NO_POLICY = Reason.NO_IMPORT_POLICY
    SOURCE = Reason.SOURCE_NOT_ALLOWED
    SERVICE_ROLE = Reason.SERVICE_ROLE_NOT_ALLOWED
    REGION = Reason.REGION_NOT_ALLOWED
    VALIDATION_MODE = Reason.VALIDATION_MODE_NOT_ALLOWED
    REQUIRED_TAG = Reason.REQUIRED_TAG_MISSING
    KMS = Reason.KMS_KEY_REQUIRED
    KMS_KEY = Reason.KMS_KEY_NOT_ALLOWED
    NETWORK = Reason.NETWORK_NOT_ALLOWED
    SIZE = Reason.MODEL_TOO_LARGE
    COUNT = Reason.MODEL_LIMIT_REACHED
    ACCOUNT = Reason.ACCOUNT_CONFLICT
    ADOPTION = Reason.ADOPTION_NOT_ALLOWED


@dataclass(frozen=True)
class Violation:
    rule: str  # CamelCase, one of Rule
    field: str  # the spec field at fault, e.g. spec.source.s3Uri
    message: str  # names the policy and what it allows

    def text(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Decision:
    """What the policies of one namespace make of one spec."""

    policies: tuple[BedrockImportPolicy, ...]
    violations: tuple[Violation, ...] = ()
    account_role: str | None = None  # the role to assume for this namespace (None: the operator's account)
    default: str = DEFAULT_RESTRICTED
    names: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        if self.violations:
            return "; ".join(v.text() for v in self.violations)
        if not self.policies:
            return "no BedrockImportPolicy selects this namespace; the operator's default is open"
        return f"allowed by BedrockImportPolicy {', '.join(p.name for p in self.policies)}"


def selects(selector: NamespaceSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions or []:
        present = req.key in labels
        values = req.values or []
        if req.operator == "In" and not (present and labels[req.key] in values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def applicable(
    policies: Iterable[BedrockImportPolicy], labels: Mapping[str, str]
) -> list[BedrockImportPolicy]:
    return sorted((p for p in policies if selects(p.spec.namespace_selector, labels)), key=lambda p: p.name)


def _listed(values: Iterable[str]) -> str:
    values = list(values)
    return ", ".join(values) if values else "nothing"


def check_policy(
    pol: BedrockImportPolicy, spec: BedrockImportedModelSpec, mode: str, region: str
) -> list[Violation]:
    """What one policy refuses in a spec (`mode`: the validation mode that will run; `region`: where)."""
    s, name, out = pol.spec, f"BedrockImportPolicy {pol.name}", []
    if pol.unreadable is not None:
        return [
            Violation(
                Rule.NO_POLICY,
                "metadata.namespace",
                f"{name} cannot be read ({pol.unreadable}): it allows nothing until a cluster admin fixes it",
            )
        ]
    sources = s.sources
    prefixes = (sources.s3_prefixes if sources else None) or []
    if spec.source.s3_uri is not None:
        if not any(folder(spec.source.s3_uri).startswith(p) for p in prefixes):
            out.append(
                Violation(
                    Rule.SOURCE,
                    "spec.source.s3Uri",
                    f"{spec.source.s3_uri} is not in a folder {name} allows ({_listed(prefixes)})",
                )
            )
    else:
        allowed = (sources.sage_maker_model_names if sources else None) or []
        sm = spec.source.sage_maker_model_name or ""
        if not any(pattern_matches(p, sm) for p in allowed):
            out.append(
                Violation(
                    Rule.SOURCE,
                    "spec.source.sageMakerModelName",
                    f"SageMaker model {sm} is not one {name} allows ({_listed(allowed)})",
                )
            )
    roles = s.service_roles
    if spec.service_role.create:
        if not (roles and roles.allow_create):
            out.append(
                Violation(
                    Rule.SERVICE_ROLE,
                    "spec.serviceRole.create",
                    f"{name} does not allow the operator to create service roles (serviceRoles.allowCreate)",
                )
            )
    else:
        arns = (roles.role_arns if roles else None) or []
        arn = spec.service_role.role_arn or ""
        if not any(pattern_matches(p, arn) for p in arns):
            out.append(
                Violation(
                    Rule.SERVICE_ROLE,
                    "spec.serviceRole.roleArn",
                    f"role {arn} is not one {name} allows ({_listed(arns)})",
                )
            )
    if s.regions and region not in s.regions:
        out.append(
            Violation(
                Rule.REGION, "spec.region", f"region {region} is not one {name} allows ({_listed(s.regions)})"
            )
        )
    if mode not in s.validation_modes:
        out.append(
            Violation(
                Rule.VALIDATION_MODE,
                "spec.validation.mode",
                f"validation mode {mode} is not one {name} allows ({_listed(s.validation_modes)})",
            )
        )
    missing = [k for k in s.required_tags or [] if k not in (spec.tags or {})]
    if missing:
        out.append(
            Violation(
                Rule.REQUIRED_TAG, "spec.tags", f"{name} requires the tags {_listed(missing)} in spec.tags"
            )
        )
    if s.require_kms_key and not spec.kms_key_id:
        out.append(
            Violation(
                Rule.KMS, "spec.kmsKeyId", f"{name} requires a customer-managed KMS key (spec.kmsKeyId)"
            )
        )
    keys = s.kms_keys or []
    if spec.kms_key_id and not any(pattern_matches(k, spec.kms_key_id) for k in keys):
        out.append(
            Violation(
                Rule.KMS_KEY,
                "spec.kmsKeyId",
                f"key {spec.kms_key_id} is not one {name} allows ({_listed(keys)})",
            )
        )
    if spec.vpc_config is not None:
        net = s.network
        subnets, groups = (
            (net.subnet_ids if net else None) or [],
            (net.security_group_ids if net else None) or [],
        )
        bad = [i for i in spec.vpc_config.subnet_ids if not any(pattern_matches(p, i) for p in subnets)]
        bad += [
            i for i in spec.vpc_config.security_group_ids if not any(pattern_matches(p, i) for p in groups)
        ]
        if bad:
            out.append(
                Violation(
                    Rule.NETWORK,
                    "spec.vpcConfig",
                    f"{_listed(bad)} not allowed by {name} (network.subnetIds: {_listed(subnets)}; "
                    f"network.securityGroupIds: {_listed(groups)})",
                )
            )
    if spec.adopt_existing:
        rule, wanted = s.adoption, spec.model_name or ""
        if not (
            rule is not None
            and (
                rule.retained_from_namespace
                or any(pattern_matches(n, wanted) for n in rule.model_names or [])
            )
        ):
            out.append(
                Violation(
                    Rule.ADOPTION,
                    "spec.adoptExisting",
                    f"{name} allows adopting "
                    + (f"models named {_listed(rule.model_names or [])}" if rule else "no existing model")
                    + " (adoption.retainedFromNamespace, adoption.modelNames)",
                )
            )
    if s.max_model_size is not None and mode == "Skip":
        out.append(
            Violation(
                Rule.SIZE,
                "spec.validation.mode",
                f"{name} limits the model size to {s.max_model_size}, which only validation can prove",
            )
        )
    return out


def _decision(
    policies: Iterable[BedrockImportPolicy],
    labels: Mapping[str, str],
    default: str,
    check: Callable[[BedrockImportPolicy], Iterable[Violation]],
) -> Decision:
    """Every policy that selects the namespace must allow (`check`); with none, `default` decides; the
    selected policies must agree on one account."""
    chosen = tuple(applicable(policies, labels))
    if not chosen:
        if default == DEFAULT_OPEN:
            return Decision((), default=default)
        v = Violation(
            Rule.NO_POLICY,
            "metadata.namespace",
            "no BedrockImportPolicy selects this namespace, and the operator's default is restricted: a "
            "cluster admin must create one (see docs/tenancy.md)",
        )
        return Decision((), (v,), default=default)
    violations = [v for pol in chosen for v in check(pol)]
    accounts = sorted({pol.spec.account.role_arn for pol in chosen if pol.spec.account})
    if len(accounts) > 1:
        violations.append(
            Violation(
                Rule.ACCOUNT,
                "metadata.namespace",
                f"the policies {_listed(p.name for p in chosen)} name different accounts "
                f"({_listed(accounts)})",
            )
        )
    return Decision(chosen, tuple(violations), accounts[0] if len(accounts) == 1 else None, default)


def decide(
    policies: Iterable[BedrockImportPolicy],
    labels: Mapping[str, str],
    spec: BedrockImportedModelSpec,
    mode: str,
    region: str,
    default: str,
) -> Decision:
    """Every policy that selects the namespace must allow the spec; with none, `default` decides."""
    return _decision(policies, labels, default, lambda pol: check_policy(pol, spec, mode, region))


def _observed_region(pol: BedrockImportPolicy, region: str) -> list[Violation]:
    if pol.spec.regions and region not in pol.spec.regions:
        return [
            Violation(
                Rule.REGION,
                "spec.region",
                f"region {region} is not one {pol.name} allows ({_listed(pol.spec.regions)})",
            )
        ]
    return []


def decide_observation(
    policies: Iterable[BedrockImportPolicy], labels: Mapping[str, str], region: str, default: str
) -> Decision:
    """Whether a namespace may observe models (BedrockObservedModel) in `region`, and in which account.

    Observing only reads, but it reads a model's tags, source and key, which may be another team's: a
    namespace observes only where it could import (a policy selects it, or the operator's default is open),
    in the regions its policies allow and in the account they name."""
    return _decision(policies, labels, default, lambda pol: _observed_region(pol, region))


def check_resolved_source(decision: Decision, s3_uri: str) -> Violation | None:
    """A SageMaker source's artifacts must lie in the allowed folders too (known once it is resolved)."""
    for pol in decision.policies:
        prefixes = (pol.spec.sources.s3_prefixes if pol.spec.sources else None) or []
        if not any(folder(s3_uri).startswith(p) for p in prefixes):
            return Violation(
                Rule.SOURCE,
                "spec.source.sageMakerModelName",
                f"the SageMaker model's artifacts ({s3_uri}) are not in a folder BedrockImportPolicy "
                f"{pol.name} allows ({_listed(prefixes)})",
            )
    return None


def check_size(decision: Decision, weight_bytes: int | None) -> Violation | None:
    for pol in decision.policies:
        limit = pol.spec.max_model_size
        if limit is not None and weight_bytes is not None and weight_bytes > quantity_bytes(limit):
            return Violation(
                Rule.SIZE,
                "spec.source",
                f"the weights are {_size(weight_bytes)}; BedrockImportPolicy {pol.name} allows at most "
                f"{limit}",
            )
    return None


@dataclass(frozen=True)
class Member:
    """One model object of a namespace, as the count rule sees it."""

    uid: str
    created: str  # creationTimestamp: older objects keep their place
    holds: bool  # it serves a model or imports one


def check_count(decision: Decision, uid: str, members: Iterable[Member]) -> Violation | None:
    """Objects that serve or import always count; of the others, the oldest get the places left."""
    members = list(members)
    for pol in decision.policies:
        limit = pol.spec.max_models
        if limit is None:
            continue
        me = next((m for m in members if m.uid == uid), None)
        if me is not None and me.holds:
            continue
        holding = sum(1 for m in members if m.holds and m.uid != uid)
        waiting = sorted(
            (m for m in members if not m.holds and m.uid != uid), key=lambda m: (m.created, m.uid)
        )
        mine = (me.created, uid) if me else ("~", uid)
        ahead = sum(1 for m in waiting if (m.created, m.uid) < mine)
        if holding + ahead >= limit:
            return Violation(
                Rule.COUNT,
                "metadata.namespace",
                f"BedrockImportPolicy {pol.name} allows {limit} models in this namespace; {holding} serve or "
                f"import and {ahead} older objects wait before this one (delete one to make room)",
            )
    return None


def check_adoption(
    decision: Decision, namespace: str, cluster_id: str, model_name: str, tags: Mapping[str, str]
) -> Violation | None:
    """Whether the namespace may take over an existing model no object owns: every policy that selects it
    must allow that model (retained by an object of the same namespace in this cluster, or a listed name).
    With no policy, the operator's default decides (open: yes)."""
    retained_from = tags.get(TAG_RETAINED_FROM, "")
    same_namespace = (
        retained_from.startswith(f"{namespace}/") and tags.get(TAG_RETAINED_BY_CLUSTER) == cluster_id
    )
    for pol in decision.policies:
        rule = pol.spec.adoption
        if rule is not None and rule.retained_from_namespace and same_namespace:
            continue
        if rule is not None and any(pattern_matches(n, model_name) for n in rule.model_names or []):
            continue
        origin = f"retained from {retained_from}" if retained_from else "owned by no object"
        return Violation(
            Rule.ADOPTION,
            "spec.adoptExisting",
            f"model {model_name} ({origin}) may not be adopted in this namespace: BedrockImportPolicy "
            f"{pol.name} allows adopting "
            + (
                _listed(
                    [
                        *(
                            ["models retained from this namespace"]
                            if rule and rule.retained_from_namespace
                            else []
                        ),
                        *(rule.model_names or [] if rule else []),
                    ]
                )
            )
            + " (adoption.retainedFromNamespace, adoption.modelNames); choose another spec.modelName",
        )
    if not decision.policies and decision.default != DEFAULT_OPEN:
        return Violation(Rule.ADOPTION, "spec.adoptExisting", "no BedrockImportPolicy selects this namespace")
    return None
