"""Who may import what: BedrockImportPolicies and how the operator applies them."""
