# syntax=docker/dockerfile:1
# One image for the operator and its validation Jobs. Multi-stage: uv resolves from uv.lock in a builder;
# the runtime stage has only the virtualenv (runtime dependencies, no dev group) and runs as non-root.
# BASE_IMAGE: any Debian-based image with python3 (3.11) and python3-venv; the public default is what users
# build on. The test suite builds this same file FROM a base made from Debian's packages (hack/build-images.sh).
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
# uv from PyPI, pinned, in a venv of its own: needs no second registry image
ARG UV_VERSION=0.9.5
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
    && ln -s /opt/uv/bin/uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# the workspace's dev-tools member is named in pyproject.toml; it is not installed (--no-dev)
COPY devtools/pyproject.toml devtools/
RUN uv sync --frozen --no-dev --no-install-project
COPY controller ./controller
RUN uv sync --frozen --no-dev --no-editable

FROM ${BASE_IMAGE}
RUN groupadd --gid 65532 nonroot && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=builder --chown=65532:65532 /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
USER 65532:65532
ENTRYPOINT ["bedrock-model-operator"]
CMD ["run"]
