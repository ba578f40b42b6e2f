"""The AWS adapter: Bedrock and the support services (IAM roles, SageMaker, S3, the runtime), sessions for
tenant accounts, and client-side request-rate limits."""
