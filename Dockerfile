# syntax=docker/dockerfile:1
# The flux-adapter image. The builder stage turns the source into wheels (the
# project's and every dependency's); the final stage installs them, offline,
# into a clean virtual environment and keeps no build tools, sources or caches.

FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flux_adapter ./flux_adapter
COPY mapper ./mapper
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# Keep equal to pyproject.toml's version; CI passes --build-arg VERSION for a release.
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="flux-adapter" \
      org.opencontainers.image.description="Keeps an OpenovaFlow server's graph equal to a cluster's Flux HelmReleases." \
      org.opencontainers.image.source="https://github.com/openova-io/flux-adapter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels "flux-adapter==${VERSION}"
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
# A fixed UID and GID that own nothing in the image; the chart runs as the same.
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["flux-adapter"]
