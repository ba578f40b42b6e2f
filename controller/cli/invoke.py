"""`bedrock-model-operator invoke NAMESPACE/NAME --prompt TEXT`: call the model an object serves.

The one-liner after `kubectl get bedrockmodels`: it reads the object (current kubeconfig), takes the model
ARN and region from its status, and calls bedrock-runtime InvokeModel with boto3's usual credentials. The
SDK's own retries ride out a cold start (ModelNotReadyException). Exit 0 answered, 1 the model refused or
errored, 2 no such object or no model yet.
"""

from __future__ import annotations

import argparse
import json
import sys

from controller.cli.help_format import DefaultsHelpFormatter

EXIT_OK, EXIT_MODEL_ERROR, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "invoke",
        formatter_class=DefaultsHelpFormatter,
        help="call the imported model a BedrockImportedModel serves (InvokeModel)",
        description="Resolve NAMESPACE/NAME to its model ARN and region (status), call InvokeModel with a "
        "prompt, print the answer. Kubernetes: the current kubeconfig; AWS: boto3's credential chain.",
    )
    p.add_argument(
        "object",
        metavar="[NAMESPACE/]NAME",
        help="the BedrockImportedModel, e.g. ml-models/llama3, or llama3 in -n's namespace",
    )
    p.add_argument(
        "-n",
        "--namespace",
        help="namespace of a NAME given alone (default: the kubeconfig context's namespace, else default)",
    )
    p.add_argument("--prompt", required=True, help="the prompt")
    p.add_argument(
        "--format",
        choices=("BedrockCompletion", "OpenAICompletion", "OpenAIChatCompletion"),
        default="BedrockCompletion",
        help="request format the prompt is wrapped in",
    )
    p.add_argument("--max-tokens", type=int, default=256, help="tokens to generate")
    p.add_argument("--raw", action="store_true", help="print the whole JSON answer, not only its text")
    p.add_argument(
        "--endpoint-url",
        help="bedrock-runtime endpoint, e.g. the local emulator "
        "(default: AWS_ENDPOINT_URL_BEDROCK_RUNTIME, else AWS)",
    )
    p.set_defaults(func=run)


def _context_namespace() -> str:
    """The current kubeconfig context's namespace, as kubectl uses it (else `default`)."""
    try:
        import os

        from kubernetes import config

        _, context = config.list_kube_config_contexts(config_file=os.environ.get("KUBECONFIG"))
        return (context or {}).get("context", {}).get("namespace") or "default"
    except Exception:  # no kubeconfig (in a pod): the reading below says what is wrong
        return "default"


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from controller.api.models import SmokeTest
    from controller.kube.client import raw
    from controller.reconcile.smoke import answer_text, request_body
    from controller.settings import Settings

    namespace, _, name = args.object.rpartition("/")
    namespace = namespace or args.namespace or _context_namespace()
    if not name or "/" in namespace:
        print("give the object as NAMESPACE/NAME or NAME", file=sys.stderr)
        return EXIT_USAGE
    status, body = raw(
        Settings(),
        "GET",
        f"/apis/bedrock.modelops.io/v1alpha1/namespaces/{namespace}/bedrockimportedmodels/{name}",
    )
    if status == 404:
        print(f"no BedrockImportedModel {namespace}/{name}", file=sys.stderr)
        return EXIT_USAGE
    if status >= 300:
        print(f"Kubernetes answered {status} reading {namespace}/{name}", file=sys.stderr)
        return EXIT_USAGE
    st = (body or {}).get("status") or {}
    arn, region = st.get("modelArn"), st.get("region")
    if not arn or not region:
        print(f"{namespace}/{name} serves no model yet (phase {st.get('phase')})", file=sys.stderr)
        return EXIT_USAGE
    client = boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=args.endpoint_url or None,
        config=Config(retries={"mode": "standard", "max_attempts": 10}, read_timeout=120),
    )
    request = request_body(SmokeTest(prompt=args.prompt, format=args.format, maxTokens=args.max_tokens))
    try:
        out = client.invoke_model(
            modelId=arn, body=request, contentType="application/json", accept="application/json"
        )
        answer = json.loads(out["body"].read())
    except (ClientError, BotoCoreError) as exc:
        print(f"InvokeModel on {arn}: {exc}", file=sys.stderr)
        return EXIT_MODEL_ERROR
    print(json.dumps(answer, indent=2) if args.raw else answer_text(answer))
    return EXIT_OK
