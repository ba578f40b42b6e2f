"""A local Amazon Bedrock model-import API that unmodified boto3 and the AWS CLI can talk to.

moto has no model-import API; this fills the gap for the dev stack and the tests. Routing, input
constraints and error shapes come from botocore's own service model, so the wire format is Bedrock's.
"""
