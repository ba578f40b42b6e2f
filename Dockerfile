# syntax=docker/dockerfile:1
# One image for the operator and its validation Jobs. Multi-stage: uv resolves from uv.lock in a builder;
# the runtime stage has only the virtualenv (runtime dependencies, no dev group) and runs as non-root.
# NOTE: not built in this project's CI (no Docker engine on the build machine); see README.

FROM python:3.11.11-slim-bookworm AS builder
COPY --from=ghcr.io/astral-sh/uv:0.9.5 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# the workspace's dev-tools member is named in pyproject.toml; it is not installed (--no-dev)
COPY devtools/pyproject.toml devtools/
RUN uv sync --frozen --no-dev --no-install-project
COPY controller ./controller
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11.11-slim-bookworm
RUN groupadd --gid 65532 nonroot && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=builder --chown=65532:65532 /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
USER 65532:65532
ENTRYPOINT ["bedrock-model-operator"]
CMD ["run"]
