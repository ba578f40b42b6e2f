"""The process: kopf's registry and handlers, the clock and per-object memory, leader election, preflight
checks and the entry point of `bedrock-model-operator run`."""
