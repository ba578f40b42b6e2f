"""The BedrockImportedModel API: typed spec/status models and the CRD generated from them."""

from controller.api.models import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    BedrockImportedModelSpec,
    BedrockImportedModelStatus,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "BedrockImportedModelSpec",
    "BedrockImportedModelStatus",
]
