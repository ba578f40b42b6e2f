"""Development tools of bedrock-model-operator, packaged apart from the operator (not in its image): the
local dev stack (control plane, local AWS, examples), the local Bedrock, and the test-model factory."""
