"""Judge a Hugging Face model folder (local or S3) for Bedrock Custom Model Import, cheaply and safely."""

from controller.artifacts.report import Finding, Report, Severity
from controller.artifacts.sources import LocalFolder, S3Folder, SourceAccessError, open_source
from controller.artifacts.validate import validate_source

__all__ = [
    "Finding",
    "LocalFolder",
    "Report",
    "S3Folder",
    "Severity",
    "SourceAccessError",
    "open_source",
    "validate_source",
]
