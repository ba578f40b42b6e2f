"""The command line as a reference and as a first contact: every subcommand and flag explained, every
setting listed (in `run --help` and docs/settings.md), and mistakes at start-up said in one line."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli.commands import build_parser
from controller.settings import Settings, settings_markdown

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text()
#: every page a user reads: the front page and docs/
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_and_flag_is_explained():
    for name, sub in _subparsers().items():
        assert sub.description, f"`{name}` has no description"
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"`{name} {action.option_strings[0]}` has no help"
        text = sub.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, name
        if name != "run":  # run's defaults come from the settings and are in each help text
            for action in sub._actions:
                if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                    assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)


def test_run_help_lists_every_setting_with_its_variable():
    text = " ".join(_subparsers()["run"].format_help().split())
    for name in Settings.model_fields:
        assert Settings.flag_name(name) in text, name
        assert Settings.env_name(name).replace("_", "") in text.replace("_", "").replace("- ", "-"), name


def test_the_settings_page_table_is_generated_from_the_settings():
    table = settings_markdown()
    assert table in SETTINGS_DOC, (
        "docs/settings.md's table differs: paste `bedrock-model-operator settings` output"
    )


def test_every_bmo_variable_the_code_reads_is_documented():
    read = set()
    for path in [*(ROOT / "controller").rglob("*.py"), *(ROOT / "devtools").rglob("*.py")]:
        read |= set(re.findall(r"BMO_[A-Z][A-Z0-9_]*[A-Z0-9]", path.read_text()))
    read |= {Settings.env_name(n) for n in Settings.model_fields}
    missing = sorted(v for v in read if f"`{v}`" not in DOCS)
    assert missing == [], f"not in the README or docs/: {missing}"


def _run(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", "run"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def _kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
    )
    return path


@pytest.mark.parametrize("content", [None, "clusters: [", "apiVersion: v1\nkind: Config\n"])
def test_run_with_a_missing_or_bad_kubeconfig_says_so_in_one_line(tmp_path, content):
    kubeconfig = tmp_path / "config"
    if content is not None:
        kubeconfig.write_text(content)
    proc = _run({"KUBECONFIG": str(kubeconfig)}, tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no usable Kubernetes credentials" in lines[0] and str(kubeconfig) in lines[0]


def test_run_without_aws_credentials_says_so_in_one_line(tmp_path):
    proc = _run({"KUBECONFIG": str(_kubeconfig(tmp_path))}, tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "bedrock-model-operator: no AWS credentials found (environment variables, shared config or profile, "
        "web identity / IRSA / Pod Identity, container or instance role); the operator needs them to call "
        "Bedrock"
    ]


def test_run_with_an_unreachable_bedrock_says_so_in_one_line(tmp_path):
    env = {
        "KUBECONFIG": str(_kubeconfig(tmp_path)),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_ENDPOINT_URL_BEDROCK": "http://127.0.0.1:1",
    }
    proc = _run(env, tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("bedrock-model-operator: cannot reach Bedrock at http://127.0.0.1:1")


def test_invoke_takes_a_name_alone_in_the_given_or_the_contexts_namespace(monkeypatch, capsys, tmp_path):
    """`invoke NAME` as kubectl takes it: -n's namespace, else the kubeconfig context's, else default."""
    import controller.kube.client as kube_client
    from controller.cli.commands import main

    asked = []

    def raw(settings, method, path, *a, **kw):
        asked.append(path.rsplit("/namespaces/", 1)[1])
        return 404, None

    monkeypatch.setattr(kube_client, "raw", raw)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: team-a}}]\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert main(["invoke", "llama", "--prompt", "hi"]) == 2
    assert main(["invoke", "llama", "-n", "team-b", "--prompt", "hi"]) == 2
    assert main(["invoke", "ml/llama", "--prompt", "hi"]) == 2
    assert asked == [
        "team-a/bedrockimportedmodels/llama",
        "team-b/bedrockimportedmodels/llama",
        "ml/bedrockimportedmodels/llama",
    ]
    assert "no BedrockImportedModel team-a/llama" in capsys.readouterr().err
