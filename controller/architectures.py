"""The model architectures Bedrock Custom Model Import accepts, in one table.

Source: docs/bedrock-facts.md, "Architectures and regions" (the Bedrock user guide's
supported-architectures list). The API's
`spec.architecture` enum, the CRD's region rule and the artifact validator all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Regions where Custom Model Import is offered.
IMPORT_REGIONS: tuple[str, ...] = ("us-east-1", "us-east-2", "us-west-2", "eu-central-1")


@dataclass(frozen=True)
class Architecture:
    name: str  # the value users write in spec.architecture
    model_types: tuple[str, ...]  # config.json "model_type" values it covers
    description: str
    multimodal: bool = False
    regions: tuple[str, ...] = IMPORT_REGIONS
    architectures: tuple[str, ...] = ()  # when set, the only config.json "architectures" classes accepted
    converse: bool = True  # whether Bedrock's Converse API supports it


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("Llama2", ("llama",), "Meta Llama 2"),
    Architecture("Llama3", ("llama",), "Meta Llama 3"),
    Architecture("Llama3.1", ("llama",), "Meta Llama 3.1"),
    Architecture("Llama3.2", ("llama",), "Meta Llama 3.2 (text)"),
    Architecture("Llama3.3", ("llama",), "Meta Llama 3.3"),
    Architecture("Mllama", ("mllama",), "Meta Llama 3.2 vision (Mllama)", multimodal=True),
    Architecture("Mistral", ("mistral",), "Mistral"),
    Architecture("Mixtral", ("mixtral",), "Mixtral mixture-of-experts"),
    Architecture("FlanT5", ("t5",), "Flan-T5 (T5 encoder-decoder)"),
    Architecture("GPTBigCode", ("gpt_bigcode",), "GPTBigCode (StarCoder family)"),
    Architecture("Qwen2", ("qwen2",), "Qwen2"),
    Architecture("Qwen2.5", ("qwen2",), "Qwen2.5", converse=False),
    Architecture("Qwen2VL", ("qwen2_vl",), "Qwen2-VL", multimodal=True, converse=False),
    Architecture("Qwen2.5VL", ("qwen2_5_vl",), "Qwen2.5-VL", multimodal=True, converse=False),
    Architecture(
        "Qwen3",
        ("qwen3",),
        "Qwen3 (Qwen3ForCausalLM only)",
        architectures=("Qwen3ForCausalLM",),
        converse=False,
    ),
    Architecture(
        "Qwen3MoE",
        ("qwen3_moe",),
        "Qwen3 mixture-of-experts (Qwen3MoeForCausalLM only)",
        architectures=("Qwen3MoeForCausalLM",),
        converse=False,
    ),
    Architecture(
        "GPTOSS",
        ("gpt_oss",),
        "OpenAI GPT-OSS 20B/120B (us-east-1 only)",
        regions=("us-east-1",),
        converse=False,
    ),
)

BY_NAME: dict[str, Architecture] = {a.name: a for a in ARCHITECTURES}
ARCHITECTURE_NAMES: tuple[str, ...] = tuple(BY_NAME)
SUPPORTED_MODEL_TYPES: frozenset[str] = frozenset(t for a in ARCHITECTURES for t in a.model_types)


def region_restricted() -> dict[str, tuple[str, ...]]:
    """Architectures offered in fewer regions than Custom Model Import itself."""
    return {a.name: a.regions for a in ARCHITECTURES if a.regions != IMPORT_REGIONS}
