"""bedrock-model-operator: manage Amazon Bedrock Custom Model Import from Kubernetes."""

__version__ = "0.1.0"
