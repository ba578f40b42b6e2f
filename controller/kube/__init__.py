"""The Kubernetes adapter: the API client, Events, the status store and validation Jobs (their pod template
and the verdict reader)."""
