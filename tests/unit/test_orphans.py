"""Which models no live object accounts for (`controller/orphans.py`), without servers: every way a live
object names a model, and the reason read from the tags of each kind of orphan."""

from __future__ import annotations

import datetime as dt

from controller import metrics
from controller.orphans import accounted_for, classify, slim
from tests.support.world import World
from tests.unit.test_invariants import SOURCES, spec

ME = "cluster-me"
ARN = "arn:aws:bedrock:us-east-1:123456789012:imported-model/abcdefghijkl"
NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def _owner(uid: str, cluster: str = ME, ns: str = "team-a", name: str = "m") -> dict[str, str]:
    return {
        "bedrock.modelops.io/cluster-id": cluster,
        "bedrock.modelops.io/uid": uid,
        "bedrock.modelops.io/namespace": ns,
        "bedrock.modelops.io/name": name,
    }


def _kind(
    tags: dict[str, str], refs: dict[str, str] | None = None, live: set[str] | None = None
) -> str | None:
    orphan = classify(ARN, "m", "us-east-1", tags, refs or {}, live or set(), ME, now=NOW)
    return orphan.kind if orphan else None


def test_every_way_a_live_object_names_a_model_accounts_for_it() -> None:
    imported = [
        {"metadata": {"namespace": "a", "name": "serves"}, "status": {"modelArn": "arn:serving"}},
        {
            "metadata": {"namespace": "a", "name": "rolls"},
            "status": {
                "superseded": [{"arn": "arn:old", "region": "us-east-1"}],
                "importJob": {"modelArn": "arn:candidate"},
                "adopted": ["arn:adopted"],
            },
        },
    ]
    observed = [
        {"metadata": {"namespace": "b", "name": "w"}, "spec": {"modelArn": "arn:watched-by-spec"}},
        {
            "metadata": {"namespace": "b", "name": "v"},
            "spec": {"modelName": "x"},
            "status": {"modelArn": "arn:by-name"},
        },
    ]
    refs = accounted_for(imported, observed)
    # the operator's count keeps a few fields of each object, not whole bodies: the same accounting
    assert accounted_for([slim(b) for b in imported], [slim(b) for b in observed]) == refs
    assert set(refs) == {
        "arn:serving",
        "arn:old",
        "arn:candidate",
        "arn:adopted",
        "arn:watched-by-spec",
        "arn:by-name",
    }
    assert refs["arn:old"] == "superseded, to be deleted by BedrockImportedModel a/rolls"
    assert refs["arn:by-name"] == "observed by BedrockObservedModel b/v"
    assert _kind(_owner("u-gone"), refs={ARN: "served"}) is None


def test_each_kind_of_orphan_and_its_reason() -> None:
    assert _kind(_owner("u-live"), live={"u-live"}) is None  # its status not written yet
    assert _kind(_owner("u-gone")) == "object-gone"
    assert _kind(_owner("u-live", cluster="other"), live={"u-live"}) == "other-cluster"  # a uid of theirs
    retained = {
        "bedrock.modelops.io/retained-from": "team-a/m",
        "bedrock.modelops.io/retained-by-cluster-id": ME,
    }
    assert _kind(retained) == "retained"
    assert (
        _kind({**_owner("u-live"), **retained}, live={"u-live"}) == "retained"
    )  # a late tag write: released
    assert _kind({"team": "x"}) == "unowned"
    orphan = classify(
        ARN, "m", "us-east-1", retained, {}, set(), ME, created=NOW - dt.timedelta(days=3), cmus=2, now=NOW
    )
    assert orphan is not None and orphan.age_days == 3.0 and orphan.custom_model_units == 2
    assert orphan.why == "retained from BedrockImportedModel team-a/m of cluster cluster-me (this cluster)"
    assert (
        orphan.delete_command
        == f"aws bedrock delete-imported-model --model-identifier {ARN} --region us-east-1"
    )


def _gauge(region: str, kind: str) -> float:
    return metrics.ORPHANED_MODELS.labels(region, kind)._value.get()


def test_the_operator_counts_its_accounts_orphans_by_region_and_why() -> None:
    """`bmo_orphaned_models`: what `orphans` lists, counted once per resync period by the operator."""
    w = World()
    c = w.cluster("east")
    kept = c.create("team-a", "kept", spec(SOURCES[0], "us-east-1", "Retain", {"team": "a"}, None))
    served = c.create("team-a", "served", spec(SOURCES[1], "us-east-1", "Delete", {"team": "a"}, None))
    for _ in range(40):
        w.advance(5.0)
    assert kept["status"]["phase"] == served["status"]["phase"] == "Ready"
    assert c.operator.count_orphans() == 0 and _gauge("us-east-1", "retained") == 0
    c.delete(kept)
    w.advance(30.0)
    assert c.operator.count_orphans() == 1
    assert _gauge("us-east-1", "retained") == 1 and _gauge("us-east-1", "unowned") == 0
    watched = c.observe("team-b", "watch", {"modelArn": kept["status"]["modelArn"]})
    assert watched["status"]["exists"] is True
    assert c.operator.count_orphans() == 0 and _gauge("us-east-1", "retained") == 0  # observed: accounted for
    c.operator.settings = c.operator.settings.model_copy(update={"namespaces": ["team-a"]})
    assert c.operator.count_orphans() == 0  # a shard cannot tell another shard's models from orphans
