# syntax=docker/dockerfile:1
# The web app (gunicorn grader.wsgi:app); the same image runs the one-shot `migrate` service.
# Build from the repository root: docker compose -f docker/compose.yaml build
# No secret is baked in: GRADER_SECRET_KEY, GRADER_DATABASE_URL and the others come at run time.
FROM python:3.12-slim-bookworm

# The web app never trains anything, but grader depends on torch==2.13.0: take the CPU
# build, a fraction of the size of the CUDA one PyPI gives on Linux.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/grader/venv \
    PATH=/opt/grader/venv/bin:$PATH

RUN python -m venv /opt/grader/venv \
    && pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

COPY pyproject.toml README.md /tmp/grader-src/
COPY grader /tmp/grader-src/grader
COPY workers /tmp/grader-src/workers
RUN pip install /tmp/grader-src && rm -rf /tmp/grader-src

# The assignments and rubrics live beside the code; an installed package cannot find them by itself.
COPY assignments /opt/grader/assignments
COPY rubrics /opt/grader/rubrics
# Cookies only over HTTPS: TLS ends at the reverse proxy in front (GRADER_SECURE_COOKIES=false to try it on plain HTTP).
ENV GRADER_ASSIGNMENTS_DIR=/opt/grader/assignments \
    GRADER_RUBRICS_DIR=/opt/grader/rubrics \
    GRADER_DATA_DIR=/var/lib/grader/data \
    GRADER_SECURE_COOKIES=true \
    WEB_CONCURRENCY=4

# An unprivileged user of its own; the uploads volume is made its own here, so a fresh
# named volume starts with that owner.
RUN useradd --system --uid 10001 --home-dir /var/lib/grader --shell /usr/sbin/nologin grader \
    && mkdir -p /var/lib/grader/data \
    && chown -R grader:grader /var/lib/grader
USER 10001:10001
WORKDIR /var/lib/grader

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/up', timeout=4)"]
# gunicorn takes its number of worker processes from WEB_CONCURRENCY (set above, override at run time).
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "grader.wsgi:app"]
