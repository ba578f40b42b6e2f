"""BedrockImportPolicy rules without a server: which policies apply, what each refuses, and how the count
rule orders a namespace's objects. The same cases run through the apiserver's admission policy in
tests/cluster/test_tenancy_e2e.py (`CASES`), so the two enforcements cannot drift apart."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api.models import BedrockImportedModelSpec
from controller.api.policy import BedrockImportPolicy, NamespaceSelector, pattern_matches
from controller.tenancy.rules import (
    Member,
    Rule,
    check_count,
    check_resolved_source,
    check_size,
    decide,
    selects,
)
from controller.tenancy.view import TenancyView, member_of

TEAM_A = {
    "namespaceSelector": {"matchLabels": {"team": "a"}},
    "sources": {"s3Prefixes": ["s3://models/team-a/"], "sageMakerModelNames": ["team-a-*"]},
    "serviceRoles": {"roleArns": ["arn:aws:iam::123456789012:role/TeamAImport*"], "allowCreate": True},
    "regions": ["us-east-1", "us-west-2"],
    "validationModes": ["Job"],
    "requiredTags": ["cost-center"],
    "requireKmsKey": False,
}
GOOD = {
    "source": {"s3Uri": "s3://models/team-a/llama3/"},
    "serviceRole": {"create": True},
    "region": "us-east-1",
    "validation": {"mode": "Job"},
    "tags": {"cost-center": "42"},
}


def policy(name: str = "team-a", **changes) -> BedrockImportPolicy:
    return BedrockImportPolicy.model_validate({"name": name, "spec": {**TEAM_A, **changes}})


def spec(**changes) -> BedrockImportedModelSpec:
    return BedrockImportedModelSpec.model_validate({**GOOD, **changes})


#: (case, spec changes, policy changes, the field refused or None). Shared with the admission test.
CASES = [
    ("allowed", {}, {}, None),
    ("other team's folder", {"source": {"s3Uri": "s3://models/team-b/llama3/"}}, {}, "spec.source.s3Uri"),
    ("sibling prefix", {"source": {"s3Uri": "s3://models/team-ab/x/"}}, {}, "spec.source.s3Uri"),
    ("folder without slash", {"source": {"s3Uri": "s3://models/team-a"}}, {}, None),
    ("prefix of the folder", {"source": {"s3Uri": "s3://models/team"}}, {}, "spec.source.s3Uri"),
    ("no sources listed", {}, {"sources": None}, "spec.source.s3Uri"),
    ("sagemaker by pattern", {"source": {"sageMakerModelName": "team-a-llama"}}, {}, None),
    (
        "sagemaker of another team",
        {"source": {"sageMakerModelName": "team-b-llama"}},
        {},
        "spec.source.sageMakerModelName",
    ),
    (
        "create not allowed",
        {},
        {"serviceRoles": {"roleArns": ["arn:aws:iam::1:role/x"]}},
        "spec.serviceRole.create",
    ),
    (
        "role by pattern",
        {"serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/TeamAImportRole"}},
        {},
        None,
    ),
    (
        "another team's role",
        {"serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/TeamBImportRole"}},
        {},
        "spec.serviceRole.roleArn",
    ),
    (
        "exact role only",
        {"serviceRole": {"roleArn": "arn:aws:iam::123456789012:role/TeamAImportX"}},
        {"serviceRoles": {"roleArns": ["arn:aws:iam::123456789012:role/TeamAImport"]}},
        "spec.serviceRole.roleArn",
    ),
    ("region", {"region": "eu-central-1"}, {}, "spec.region"),
    ("any region", {"region": "eu-central-1"}, {"regions": None}, None),
    ("inline not allowed", {"validation": {"mode": "Inline"}}, {}, "spec.validation.mode"),
    ("skip not allowed", {"validation": {"mode": "Skip"}}, {}, "spec.validation.mode"),
    ("inline allowed", {"validation": {"mode": "Inline"}}, {"validationModes": ["Job", "Inline"]}, None),
    ("missing tag", {"tags": {"team": "a"}}, {}, "spec.tags"),
    ("no tags at all", {"tags": None}, {}, "spec.tags"),
    ("kms required", {}, {"requireKmsKey": True}, "spec.kmsKeyId"),
    ("kms given", {"kmsKeyId": "alias/team-a"}, {"requireKmsKey": True, "kmsKeys": ["alias/team-a"]}, None),
    ("another team's key", {"kmsKeyId": "alias/team-b"}, {"kmsKeys": ["alias/team-a*"]}, "spec.kmsKeyId"),
    ("a key, none listed", {"kmsKeyId": "alias/team-a"}, {}, "spec.kmsKeyId"),
    (
        "key by ARN pattern",
        {"kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
        {"kmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/*"]},
        None,
    ),
    (
        "listed network",
        {"vpcConfig": {"subnetIds": ["subnet-0a1"], "securityGroupIds": ["sg-0a1"]}},
        {"network": {"subnetIds": ["subnet-0a*"], "securityGroupIds": ["sg-0a1"]}},
        None,
    ),
    (
        "another team's subnet",
        {"vpcConfig": {"subnetIds": ["subnet-0a1", "subnet-0b2"], "securityGroupIds": ["sg-0a1"]}},
        {"network": {"subnetIds": ["subnet-0a*"], "securityGroupIds": ["sg-0a1"]}},
        "spec.vpcConfig",
    ),
    (
        "another team's security group",
        {"vpcConfig": {"subnetIds": ["subnet-0a1"], "securityGroupIds": ["sg-0b2"]}},
        {"network": {"subnetIds": ["subnet-0a*"], "securityGroupIds": ["sg-0a1"]}},
        "spec.vpcConfig",
    ),
    (
        "a VPC, no network listed",
        {"vpcConfig": {"subnetIds": ["subnet-0a1"], "securityGroupIds": ["sg-0a1"]}},
        {},
        "spec.vpcConfig",
    ),
    (
        "size limit needs validation",
        {"validation": {"mode": "Skip"}},
        {"validationModes": ["Skip"], "maxModelSize": "20Gi"},
        "spec.validation.mode",
    ),
    ("adoption not allowed", {"modelName": "shared", "adoptExisting": True}, {}, "spec.adoptExisting"),
    (
        "adoption of a listed name",
        {"modelName": "team-a-old", "adoptExisting": True},
        {"adoption": {"modelNames": ["team-a-*"]}},
        None,
    ),
    (
        "adoption of an unlisted name",
        {"modelName": "team-b-old", "adoptExisting": True},
        {"adoption": {"modelNames": ["team-a-*"]}},
        "spec.adoptExisting",
    ),
    (
        "adoption of this namespace's retained models",
        {"modelName": "anything", "adoptExisting": True},
        {"adoption": {"retainedFromNamespace": True}},
        None,
    ),
]


@pytest.mark.parametrize("case,spec_changes,policy_changes,refused", CASES, ids=[c[0] for c in CASES])
def test_each_rule_refuses_the_field_it_names(case, spec_changes, policy_changes, refused):
    s = spec(**spec_changes)
    mode = s.validation.mode if s.validation else "Job"
    d = decide([policy(**policy_changes)], {"team": "a"}, s, mode, s.region, "restricted")
    fields = [v.field for v in d.violations]
    assert fields == ([refused] if refused else []), d.summary()
    for v in d.violations:
        assert "BedrockImportPolicy team-a" in v.message  # the policy is named in every refusal


def test_policies_that_do_not_select_the_namespace_do_not_apply():
    other = policy("team-b", namespaceSelector={"matchLabels": {"team": "b"}}, sources=None)
    d = decide([policy(), other], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert d.allowed and [p.name for p in d.policies] == ["team-a"]


def test_every_policy_that_selects_the_namespace_must_allow():
    strict = policy("all-teams-need-kms", namespaceSelector={}, requireKmsKey=True)
    d = decide([policy(), strict], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert [(v.rule, v.field) for v in d.violations] == [(Rule.KMS, "spec.kmsKeyId")]
    assert "all-teams-need-kms" in d.violations[0].message


@pytest.mark.parametrize(
    "default,allowed,rule", [("open", True, None), ("restricted", False, Rule.NO_POLICY)]
)
def test_no_policy_the_operator_default_decides(default, allowed, rule):
    d = decide([], {"team": "a"}, spec(), "Job", "us-east-1", default)
    assert d.allowed is allowed
    assert [v.rule for v in d.violations] == ([rule] if rule else [])


def test_policies_naming_two_accounts_are_a_conflict():
    a = policy("a", account={"roleArn": "arn:aws:iam::111111111111:role/bmo"})
    b = policy("b", account={"roleArn": "arn:aws:iam::222222222222:role/bmo"})
    d = decide([a, b], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert [v.rule for v in d.violations] == [Rule.ACCOUNT] and d.account_role is None
    d = decide([a, policy("c")], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert d.allowed and d.account_role == "arn:aws:iam::111111111111:role/bmo"


@pytest.mark.parametrize(
    "selector,labels,expected",
    [
        ({}, {}, True),
        ({"matchLabels": {"team": "a"}}, {"team": "a", "x": "y"}, True),
        ({"matchLabels": {"team": "a"}}, {"team": "b"}, False),
        (
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]},
            {"team": "b"},
            True,
        ),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, {"team": "a"}, False),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, {"team": ""}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, {"team": "a"}, False),
    ],
)
def test_namespace_selector_has_kubernetes_semantics(selector, labels, expected):
    assert selects(NamespaceSelector.model_validate(selector), labels) is expected


def test_patterns_allow_one_trailing_star_only():
    assert pattern_matches("team-a-*", "team-a-llama") and not pattern_matches("team-a-*", "team-b")
    assert pattern_matches("exact", "exact") and not pattern_matches("exact", "exact-more")
    assert not pattern_matches("team-*-llama", "team-a-llama")  # a star inside is a literal


def test_size_is_checked_once_validation_measured_it():
    d = decide([policy(maxModelSize="20Gi")], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert check_size(d, 20 * 2**30) is None
    v = check_size(d, 21 * 2**30)
    assert v is not None and v.rule == Rule.SIZE and "21.0 GiB" in v.message and "at most 20Gi" in v.message
    d = decide([policy(maxModelSize="1.5G")], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert check_size(d, 1_500_000_000) is None and check_size(d, 1_500_000_001) is not None


def test_a_sagemaker_models_files_must_lie_in_the_allowed_folders():
    d = decide(
        [policy()], {"team": "a"}, spec(source={"sageMakerModelName": "team-a-x"}), "Job", "us-east-1", ""
    )
    assert check_resolved_source(d, "s3://models/team-a/sm/") is None
    v = check_resolved_source(d, "s3://models/team-b/stolen/")
    assert v is not None and v.rule == Rule.SOURCE and "team-b/stolen" in v.message


def _members(*rows: tuple[str, str, bool]) -> list[Member]:
    return [Member(uid, created, holds) for uid, created, holds in rows]


def test_count_keeps_serving_models_and_lets_the_oldest_waiting_objects_go_first():
    d = decide([policy(maxModels=2)], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    members = _members(("serving", "t1", True), ("old", "t2", False), ("new", "t3", False))
    assert check_count(d, "serving", members) is None  # what serves is never refused
    assert check_count(d, "old", members) is None  # one place left: the older object takes it
    v = check_count(d, "new", members)
    assert v is not None and v.rule == Rule.COUNT and "1 serve or import and 1 older" in v.message
    # the policy tightened below what serves: nothing serving is touched, nothing new starts
    d0 = decide([policy(maxModels=0)], {"team": "a"}, spec(), "Job", "us-east-1", "restricted")
    assert check_count(d0, "serving", members) is None and check_count(d0, "old", members) is not None


def test_failed_paused_and_deleted_objects_do_not_hold_a_place():
    def body(uid, **status):
        return {"metadata": {"uid": uid, "creationTimestamp": "t"}, "status": status}

    assert member_of(body("a", phase="Failed")) is None
    assert member_of(body("b", modelArn="arn", phase="Failed")).holds  # serves: counts
    assert member_of(body("c", importJob={"state": "InProgress"})).holds
    paused = body("d")
    paused["metadata"]["annotations"] = {"bedrock.modelops.io/paused": "true"}
    assert member_of(paused) is None
    assert member_of(body("e", phase="Queued")) == Member("e", "t", False)


def test_view_lists_once_then_follows_events():
    listed = []

    def list_policies():
        listed.append(1)
        return [{"metadata": {"name": "team-a"}, "spec": TEAM_A}]

    view = TenancyView("restricted", list_policies=list_policies, read_labels=lambda ns: {"team": "a"})
    assert view.decide("ns", spec(), "Job", "us-east-1").allowed
    assert view.decide("ns", spec(), "Job", "us-east-1").allowed and listed == [1]  # listed once
    view.policy_changed({"metadata": {"name": "team-a"}, "spec": {**TEAM_A, "regions": ["us-west-2"]}})
    assert [v.rule for v in view.decide("ns", spec(), "Job", "us-east-1").violations] == [Rule.REGION]
    view.namespace_changed("ns", {"team": "b"})
    assert [v.rule for v in view.decide("ns", spec(), "Job", "us-east-1").violations] == [Rule.NO_POLICY]
    view.policy_changed({"metadata": {"name": "team-a"}}, deleted=True)
    view.namespace_changed("ns", {"team": "a"})
    assert [v.rule for v in view.decide("ns", spec(), "Job", "us-east-1").violations] == [Rule.NO_POLICY]


def test_events_that_arrive_while_the_first_list_is_on_its_way_win_over_it():
    """The watch may report a change before the list (started earlier) returns: a policy deleted, or a
    model dropped, meanwhile must not come back from the older list."""
    view: TenancyView

    def list_policies():
        view.policy_changed({"metadata": {"name": "team-a"}}, deleted=True)  # deleted during the list
        view.policy_changed({"metadata": {"name": "deny"}, "spec": {"namespaceSelector": {}}})  # created
        return [{"metadata": {"name": "team-a"}, "spec": TEAM_A}]

    def list_models(ns):
        view.model_changed({"metadata": {"namespace": ns, "uid": "gone"}}, deleted=True)
        view.model_changed(
            {
                "metadata": {"namespace": ns, "uid": "failed", "creationTimestamp": "t"},
                "status": {"phase": "Failed"},
            }
        )
        return [
            {"metadata": {"namespace": ns, "uid": u, "creationTimestamp": "t"}, "status": {"phase": "Queued"}}
            for u in ("gone", "failed", "kept")
        ]

    view = TenancyView(
        "restricted",
        list_policies=list_policies,
        read_labels=lambda ns: {"team": "a"},
        list_models=list_models,
    )
    assert [p.name for p in view.policies()] == ["deny"]
    assert [m.uid for m in view.members("ns")] == ["kept"]


def test_an_object_blocked_by_another_rule_holds_no_place():
    def body(reason):
        return {
            "metadata": {"uid": "x", "creationTimestamp": "t"},
            "status": {
                "phase": "Blocked",
                "conditions": [{"type": "Allowed", "status": "False", "reason": reason}],
            },
        }

    assert member_of(body("SourceNotAllowed")) is None  # waits for a spec change, not for a place
    assert member_of(body("ModelLimitReached")) == Member("x", "t", False)  # waits for a place: in line


@pytest.mark.parametrize(
    "changes",
    [
        {"regions": []},
        {"sources": {"s3Prefixes": ["s3://models/team-a/../team-b/"]}},
        {"sources": {"s3Prefixes": ["s3://models/team-a"]}},
        {"maxModelSize": "20 GiB"},
        {"validationModes": []},
    ],
)
def test_a_policy_that_could_be_misread_is_refused(changes):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        policy(**changes)


def _policy(name: str, prefixes: list[str], **more: Any) -> BedrockImportPolicy:
    spec = {
        "namespaceSelector": {},
        "sources": {"s3Prefixes": prefixes, "sageMakerModelNames": ["team-*"]},
        "serviceRoles": {"allowCreate": True},
        "validationModes": ["Job"],
    } | more
    return BedrockImportPolicy.model_validate({"name": name, "spec": spec})


def _member_body(ns: str, name: str, serving: bool) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "status": {"modelArn": "arn:x"} if serving else {},
    }


def test_a_sagemaker_models_files_must_lie_in_a_folder_of_every_policy():
    spec = BedrockImportedModelSpec.model_validate(
        {"source": {"sageMakerModelName": "team-llama"}, "serviceRole": {"create": True}}
    )
    wide, narrow = _policy("wide", ["s3://models/"]), _policy("narrow", ["s3://models/team-a/"])
    d = decide([wide, narrow], {}, spec, "Job", "us-east-1", "restricted")
    assert d.allowed
    refused = check_resolved_source(d, "s3://models/team-b/llama/")
    assert refused is not None and "narrow" in refused.message  # the wide policy alone does not suffice
    assert check_resolved_source(d, "s3://models/team-a/llama/") is None


def test_a_policy_the_operator_cannot_read_allows_nothing():
    """An unparseable policy was dropped, so the namespaces it meant to restrict were open."""
    view = TenancyView("open", list_policies=lambda: [])
    view.policy_changed(
        {"metadata": {"name": "broken"}, "spec": {"namespaceSelector": {}, "maxModels": "many"}}
    )
    spec = BedrockImportedModelSpec.model_validate(
        {"source": {"s3Uri": "s3://models/a/"}, "serviceRole": {"create": True}}
    )
    d = view.decide("team-a", spec, "Job", "us-east-1")
    assert not d.allowed and "broken cannot be read" in d.summary(), d.summary()
    # its selector still says where it applies
    view.policy_changed(
        {"metadata": {"name": "broken"}, "spec": {"namespaceSelector": {"matchLabels": {"t": "b"}}, "x": 1}}
    )
    assert view.decide("team-a", spec, "Job", "us-east-1").allowed


def test_a_policy_selecting_namespaces_with_a_label_leaves_namespaces_without_it_alone():
    """tenancy/rules.py `if req.operator == "Exists" and not present: return False`: a policy whose
    namespaceSelector is `matchExpressions: [{key: team, operator: Exists}]` governs namespaces labelled
    `team` only. A namespace without the label is not bound by it: under the restricted default it has no
    policy (NoImportPolicy), and a labelled one gets the policy's own rules."""
    from controller.api.models import BedrockImportedModelSpec
    from controller.api.policy import BedrockImportPolicy
    from controller.tenancy.rules import Rule, decide

    policy = BedrockImportPolicy.model_validate(
        {
            "name": "teams",
            "spec": {
                "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
                "sources": {"s3Prefixes": ["s3://models/"]},
                "serviceRoles": {"allowCreate": True},
                "validationModes": ["Job"],
            },
        }
    )
    spec = BedrockImportedModelSpec.model_validate(
        {"source": {"s3Uri": "s3://elsewhere/llama/"}, "serviceRole": {"create": True}}
    )
    unlabelled = decide([policy], {"env": "dev"}, spec, "Job", "us-east-1", "restricted")
    assert unlabelled.policies == () and [v.rule for v in unlabelled.violations] == [Rule.NO_POLICY]
    labelled = decide([policy], {"team": "a"}, spec, "Job", "us-east-1", "restricted")
    assert [p.name for p in labelled.policies] == ["teams"]
    assert [v.rule for v in labelled.violations] == [Rule.SOURCE]


def test_a_policy_deleted_while_two_first_passes_list_policies_stays_deleted():
    """tenancy/view.py `if not self._policies_listed:` false (in `policies()`): at start-up several
    workers' first passes list the policies at once. The one that finishes last must not replace what the
    first applied: a policy deleted (watch event) after the first list was applied would come back from
    the slower, older list and keep restricting (or allowing) a namespace it no longer governs."""
    from controller.tenancy.view import TenancyView

    def body(name: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "sources": {"s3Prefixes": ["s3://models/"]},
                "validationModes": ["Job"],
            },
        }

    calls = 0

    def list_policies() -> list[dict[str, Any]]:
        nonlocal calls
        calls += 1
        if calls == 1:  # the slow worker: while its list is on the way, another pass lists and applies
            assert [p.name for p in view.policies()] == ["old", "keep"]
            view.policy_changed(body("old"), deleted=True)  # then the watch says `old` is gone
        return [body("old"), body("keep")]

    view = TenancyView("restricted", list_policies=list_policies)
    assert [p.name for p in view.policies()] == ["keep"]
    assert [p.name for p in view.policies()] == ["keep"] and calls == 2


def test_max_models_counts_only_the_namespaces_own_models():
    view = TenancyView("open")
    view.model_changed(_member_body("team-a", "a1", True))
    view.model_changed(_member_body("team-b", "b1", True))
    view.model_changed(_member_body("team-b", "b2", True))
    assert [m.uid for m in view.members("team-a")] == ["uid-a1"]
    assert {m.uid for m in view.members("team-b")} == {"uid-b1", "uid-b2"}


def test_an_object_being_deleted_takes_no_place_under_max_models():
    from controller.tenancy.view import member_of

    body = _member_body("team-a", "old", serving=False)
    assert member_of(body) is not None  # waiting for a place: it counts
    body["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    assert member_of(body) is None  # being deleted and holding nothing: it frees its place
    body["status"] = {"modelArn": "arn:x"}
    assert member_of(body) is not None  # still holding a model: it counts until that is gone


def test_max_models_counts_each_namespace_on_its_own():
    """Through the operator's passes: team-b's two models take none of team-a's single place."""
    from tests.support.world import World
    from tests.unit.test_invariants import ROLE

    w = World()
    c = w.cluster("east")
    c.set_policy(
        "one-each",
        {
            "namespaceSelector": {},
            "sources": {"s3Prefixes": ["s3://models/"]},
            "serviceRoles": {"roleArns": [ROLE]},
            "validationModes": ["Skip"],
            "maxModels": 2,
        },
    )

    def spec(source: str) -> dict[str, Any]:
        return {"source": {"s3Uri": source}, "serviceRole": {"roleArn": ROLE}, "region": "us-east-1"}

    b = [c.create("team-b", f"b{i}", spec(f"s3://models/b{i}/")) for i in range(2)]
    w.advance(60.0)
    assert [x["status"]["phase"] for x in b] == ["Ready", "Ready"]
    a = c.create("team-a", "a1", spec("s3://models/a/"))
    w.advance(30.0)
    assert a["status"]["phase"] == "Ready", a["status"]["conditions"]
