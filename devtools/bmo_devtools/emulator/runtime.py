"""bedrock-runtime for the models the emulator imported: InvokeModel, InvokeModelWithResponseStream and
Converse, with the wire shapes of botocore's `bedrock-runtime` model.

The answers are canned and deterministic: the model's name, how many characters it was sent, and the
first words of the prompt, e.g. `llama3-support-bot-1a2b3c4d (local Bedrock, canned answer) read 42
characters: "Say hello"`. Nothing is generated. What is emulated faithfully is the conversation around it:
a model loads on its first invocation and answers ModelNotReadyException (HTTP 429) until it is warm
(`cold_start_seconds`), is evicted after `idle_evict_seconds` without a call, the three request bodies
imported models accept since late 2025 (BedrockCompletion, OpenAI completion, OpenAI chat completion),
Converse only for models that support it, and the errors AWS gives for an unknown model or a bad body.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from typing import Any
from urllib.parse import unquote

from bmo_devtools.emulator.protocol import ApiError

ROUTES = (
    (re.compile(r"^/model/(?P<modelId>[^/]+)/invoke$"), "InvokeModel"),
    (re.compile(r"^/model/(?P<modelId>[^/]+)/invoke-with-response-stream$"), "InvokeModelWithResponseStream"),
    (re.compile(r"^/model/(?P<modelId>[^/]+)/converse$"), "Converse"),
)
#: Architectures Bedrock does not serve Converse for (docs/bedrock-facts.md).
NO_CONVERSE = {"qwen2", "qwen2_5", "qwen2_vl", "qwen2_5_vl", "qwen3", "gpt_oss", "Qwen2.5", "GPTOSS"}


def route(method: str, path: str) -> tuple[str, str] | None:
    """(operation, model id) of a runtime call, or None for a control-plane path."""
    if method != "POST":
        return None
    for regex, operation in ROUTES:
        if match := regex.match(path):
            return operation, unquote(match.group("modelId"))
    return None


# ---- the canned answer -----------------------------------------------------------------------------
def _answer(model_name: str, prompt: str) -> str:
    words = " ".join(prompt.split()[:8])
    return f'{model_name} (local Bedrock, canned answer) read {len(prompt)} characters: "{words}"'


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _body(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw or b"")
    except ValueError:
        raise ApiError(
            "ValidationException", "Malformed input request, please reformat your input and try again."
        ) from None
    if not isinstance(doc, dict):
        raise ApiError("ValidationException", "Malformed input request: the body must be a JSON object.")
    return doc


def _prompt_of(doc: dict[str, Any]) -> tuple[str, str]:
    """(format, prompt text) of an InvokeModel body an imported model accepts."""
    messages = doc.get("messages")
    if isinstance(messages, list) and messages:
        parts = [m.get("content") for m in messages if isinstance(m, dict)]
        text = " ".join(p if isinstance(p, str) else json.dumps(p) for p in parts if p is not None)
        return "OpenAIChatCompletion", text
    prompt = doc.get("prompt")
    if isinstance(prompt, str):
        return ("OpenAICompletion" if "max_tokens" in doc else "BedrockCompletion"), prompt
    raise ApiError(
        "ValidationException",
        'Malformed input request: expected a BedrockCompletion body ({"prompt": ...}), an OpenAI completion '
        'body ({"prompt": ..., "max_tokens": ...}) or an OpenAI chat completion body ({"messages": [...]}).',
    )


def completion(model_name: str, doc: dict[str, Any]) -> dict[str, Any]:
    kind, prompt = _prompt_of(doc)
    text = _answer(model_name, prompt)
    usage = {"prompt_tokens": _tokens(prompt), "completion_tokens": _tokens(text)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    if kind == "OpenAIChatCompletion":
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "model": model_name,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": usage,
        }
    if kind == "OpenAICompletion":
        return {
            "id": "cmpl-local",
            "object": "text_completion",
            "model": model_name,
            "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
            "usage": usage,
        }
    return {
        "generation": text,
        "prompt_token_count": usage["prompt_tokens"],
        "generation_token_count": usage["completion_tokens"],
        "stop_reason": "stop",
    }


#: what a guardrail with no custom message puts in place of the model's text
BLOCKED_MESSAGE = "Sorry, the model cannot answer this question."


def intervened(answer: dict[str, Any]) -> dict[str, Any]:
    """An InvokeModel answer as an enforced guardrail leaves it: the text replaced by the blocked message,
    and `amazon-bedrock-guardrailAction: INTERVENED` beside it."""
    out = json.loads(json.dumps(answer))
    if "generation" in out:
        out["generation"] = BLOCKED_MESSAGE
    for choice in out.get("choices") or []:
        if "text" in choice:
            choice["text"] = BLOCKED_MESSAGE
        if isinstance(choice.get("message"), dict):
            choice["message"]["content"] = BLOCKED_MESSAGE
    out["amazon-bedrock-guardrailAction"] = "INTERVENED"
    return out


def converse(model_name: str, architecture: str, instruct: bool, doc: dict[str, Any]) -> dict[str, Any]:
    if architecture in NO_CONVERSE or not instruct:
        raise ApiError(
            "ValidationException",
            "This action doesn't support the model that you provided. Try again with a supported text or "
            "chat model.",
        )
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError("ValidationException", "The messages field is required and must not be empty.")
    texts = [
        c.get("text", "")
        for m in messages
        if isinstance(m, dict)
        for c in (m.get("content") or [])
        if isinstance(c, dict)
    ]
    prompt = " ".join(t for t in texts if isinstance(t, str))
    text = _answer(model_name, prompt)
    tokens_in, tokens_out = _tokens(prompt), _tokens(text)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": tokens_in,
            "outputTokens": tokens_out,
            "totalTokens": tokens_in + tokens_out,
        },
        "metrics": {"latencyMs": 1},
    }


# ---- the event stream of InvokeModelWithResponseStream ---------------------------------------------------
def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value
    )


def event_message(payload: bytes, event_type: str = "chunk") -> bytes:
    """One `application/vnd.amazon.eventstream` message (prelude, headers, payload, CRC32s)."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def stream(model_name: str, doc: dict[str, Any]) -> bytes:
    """The answer in a few chunks, each `{"bytes": base64(json)}`, as imported models stream."""
    full = completion(model_name, doc)
    text = full.get("generation") or ""
    if "choices" in full:
        choice = full["choices"][0]
        text = choice.get("text") or choice.get("message", {}).get("content", "")
    words = text.split(" ")
    pieces = [
        " ".join(words[i : i + 4]) + (" " if i + 4 < len(words) else "") for i in range(0, len(words), 4)
    ]
    out = b""
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        chunk = {
            "generation": piece,
            "generation_token_count": _tokens(piece),
            "stop_reason": "stop" if last else None,
        }
        out += event_message(
            json.dumps({"bytes": base64.b64encode(json.dumps(chunk).encode()).decode()}).encode()
        )
    return out
