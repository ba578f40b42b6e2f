"""The shipped monitoring (deploy/monitoring, and the chart's copy): every alert run by Prometheus' own
promtool over the metrics the operator really exported, first healthy (none fires), then with each fault the
alerts are about (each fires, with its labels and text); the dashboard's queries parse and name only metrics
the operator exports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import metrics_scenario

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
CHART_FILES = ROOT / "deploy" / "helm" / "bedrock-model-operator" / "files"
HEALTHY_MINUTES = 60  # the healthy scrape's values from 0m to 60m, the faulty one's from 61m on
FAULTY_MINUTES = 300


@pytest.fixture(scope="session")
def promtool() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-promtool.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def scrapes() -> dict[str, str]:
    """The operator's /metrics text, healthy and faulty, from a run in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.metrics_scenario"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def rules() -> dict[str, Any]:
    return yaml.safe_load((MONITORING / "prometheus-rule.yaml").read_text())["spec"]


def samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value for every sample (not the `_created` timestamps, which Prometheus drops)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def input_series(healthy: str, faulty: str) -> list[dict[str, str]]:
    before, after = samples(healthy), samples(faulty)
    series = []
    for key in sorted(before.keys() | after.keys()):
        first = f"{before[key]:g}+0x{HEALTHY_MINUTES}" if key in before else f"_x{HEALTHY_MINUTES + 1}"
        # a series the healthy run had and the faulty one lost keeps its last value (Prometheus would)
        last = after.get(key, before.get(key))
        series.append({"series": key, "values": f"{first} {last:g}+0x{FAULTY_MINUTES}"})
    return series


def exported_names() -> set[str]:
    """Every series name the operator's metrics module defines (a family with no sample yet included)."""
    from prometheus_client import REGISTRY

    import controller.metrics  # noqa: F401  (registers the families)

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("bmo_")
        for suffix in suffixes.get(family.type, ("",))
    }


def rendered(alert: str, labels: dict[str, str], value: float) -> dict[str, str]:
    """The alert's annotations as Prometheus renders them here: only `$labels.x` and `$value` are used."""
    rule = next(r for r in rules()["groups"][0]["rules"] if r.get("alert") == alert)
    out = {}
    for key, text in rule["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        out[key] = text.replace("{{ $value }}", f"{value:g}")
    return out


def expect(alert: str, severity: str, value: float = 0, **labels: str) -> dict[str, Any]:
    return {
        "exp_labels": {"severity": severity, **labels},
        "exp_annotations": rendered(alert, labels, value),
    }


ALERTS = [r["alert"] for r in rules()["groups"][0]["rules"] if "alert" in r]


def run_promtool(promtool: str, tmp_path: Path, cases: list[dict[str, Any]], series) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": cases}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, width=1000))
    out = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]


def test_each_alert_fires_on_its_fault_and_none_on_a_healthy_operator(promtool, scrapes, tmp_path):
    region = {"region": "us-east-1"}
    firing = {
        # an hour of a healthy operator (two models Ready): nothing fires
        "59m": {},
        # ten minutes after the faults: the failed import and the refused delete at once; the queue has
        # just moved, and the superseded model and the orphan have not stayed an hour yet
        "70m": {
            "BedrockModelImportFailed": [expect("BedrockModelImportFailed", "warning")],
            "BedrockOperatorAccessDenied": [
                expect(
                    "BedrockOperatorAccessDenied",
                    "warning",
                    service="bedrock",
                    operation="DeleteImportedModel",
                )
            ],
        },
        # four hours in: the failure and the refusal are old news; what stayed fires
        "240m": {
            "BedrockImportQueueStuck": [
                expect("BedrockImportQueueStuck", "warning", metrics_scenario.QUEUED, **region)
            ],
            "BedrockSupersededModelsNotDeleted": [
                expect("BedrockSupersededModelsNotDeleted", "warning", metrics_scenario.SUPERSEDED, **region)
            ],
            "BedrockOrphanedModels": [
                expect("BedrockOrphanedModels", "info", metrics_scenario.ORPHANS, **region)
            ],
        },
    }
    cases = [
        {"eval_time": at, "alertname": alert, "exp_alerts": fired.get(alert, [])}
        for at, fired in firing.items()
        for alert in ALERTS
    ]
    assert {a for fired in firing.values() for a in fired} == set(ALERTS), "every shipped alert is tested"
    run_promtool(promtool, tmp_path, cases, input_series(scrapes["healthy"], scrapes["faulty"]))


def test_the_queue_alert_waits_while_imports_still_move(promtool, scrapes, tmp_path):
    """A queue with a running import is not stuck: the stuck-queue alert needs two hours with no import
    started or ended (here the faulty scrape's counters keep rising by one an hour)."""
    series = input_series(scrapes["healthy"], scrapes["faulty"])
    for s in series:
        if s["series"].startswith('bmo_import_jobs_total{outcome="started"'):
            base = float(s["values"].split(" ")[1].split("+")[0])
            s["values"] = s["values"].split(" ")[0] + f" {base:g}+{1 / 60:.6f}x{FAULTY_MINUTES}"
    cases = [{"eval_time": "240m", "alertname": "BedrockImportQueueStuck", "exp_alerts": []}]
    run_promtool(promtool, tmp_path, cases, series)


def test_the_dashboard_queries_parse_and_name_only_exported_metrics(promtool, scrapes, tmp_path):
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    exported = exported_names()
    assert {key.split("{")[0] for key in samples(scrapes["faulty"])} <= exported
    for expr in exprs + [r["expr"] for r in rules()["groups"][0]["rules"]]:
        for name in re.findall(r"\bbmo_\w+", expr):
            assert name in exported, f"{name} in {expr!r} is not a metric the operator exports"
    recorded = [{"record": f"panel:{i}", "expr": e} for i, e in enumerate(exprs)]
    recording = {"groups": [{"name": "dashboard", "rules": recorded}]}
    (tmp_path / "dashboard-rules.yaml").write_text(yaml.safe_dump(recording))
    out = subprocess.run(
        [promtool, "check", "rules", "dashboard-rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_chart_ships_the_monitoring_of_deploy_monitoring():
    for name in ("prometheus-rule.yaml", "grafana-dashboard.json"):
        assert (CHART_FILES / name).read_text() == (MONITORING / name).read_text(), f"make crds copies {name}"
