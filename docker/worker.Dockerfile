# syntax=docker/dockerfile:1
# A grading worker: `grader worker` (Celery) running submissions in bubblewrap sandboxes.
# One image for the GPU and the CPU workers: CUDA builds of torch and TensorFlow run on
# the CPU too. Build from the repository root: docker compose -f docker/compose.yaml build
# No secret is baked in: the database and broker URLs come at run time.
#
# The CUDA runtime matches the CUDA build of torch installed below (cu128: CUDA 12.8); change
# both together. The host needs an NVIDIA driver for CUDA 12.8 and the NVIDIA Container Toolkit.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
FROM ${CUDA_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128

# bubblewrap: the sandbox. util-linux and mount: unshare, setpriv and mount, with which the
# worker (root in its container) hands each run to the unprivileged sandbox user.
# python3 on Ubuntu 24.04 is 3.12. Versions are the release's own (pinned ones vanish from its archive).
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        bubblewrap util-linux mount python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/grader/venv \
    PATH=/opt/grader/venv/bin:$PATH

# The heavy frameworks first, in layers of their own: the CUDA build of torch from
# PyTorch's index, then TensorFlow with its CUDA libraries.
RUN python3 -m venv /opt/grader/venv \
    && pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
# torch==2.13.0 is already met by the CUDA build above (a local version, +cu128), so pip keeps it
# and picks TensorFlow's CUDA libraries to fit it; a conflict fails the build here, not at run time.
RUN pip install "torch==${TORCH_VERSION}" "tensorflow[and-cuda]>=2.18"

COPY pyproject.toml README.md /tmp/grader-src/
COPY grader /tmp/grader-src/grader
COPY workers /tmp/grader-src/workers
RUN pip install /tmp/grader-src && rm -rf /tmp/grader-src

COPY assignments /opt/grader/assignments
COPY rubrics /opt/grader/rubrics
COPY docker/entrypoint-worker.sh /usr/local/bin/grader-worker-entrypoint
RUN chmod 0755 /usr/local/bin/grader-worker-entrypoint

# GRADER_RUN_DIR must be a tmpfs (what a run writes counts against its memory limit):
# compose mounts one there. Docker's own /dev/shm is only 64 MiB, so it is not used.
ENV GRADER_ASSIGNMENTS_DIR=/opt/grader/assignments \
    GRADER_RUBRICS_DIR=/opt/grader/rubrics \
    GRADER_DATA_DIR=/var/lib/grader/data \
    GRADER_CACHE_DIR=/var/cache/grader \
    GRADER_RUN_DIR=/run/grader \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /var/lib/grader

# The worker stays root inside its container: it creates cgroups, and each run gets the
# unprivileged host uid GRADER_SANDBOX_UID (60000) before bubblewrap starts (grader/sandbox/launch.py).
ENTRYPOINT ["/usr/local/bin/grader-worker-entrypoint"]
CMD ["grader", "worker"]
