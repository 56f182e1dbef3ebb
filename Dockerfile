# Thresher's HTTP service: `docker build -t thresher .` then `docker run -p 8000:8000 thresher`.
# Options after the image name go to `thresher serve` (e.g. `--workers 2`); every THRESHER_* setting
# applies (see service/settings.py). Change the port with THRESHER_PORT, not --port: the health check
# reads THRESHER_PORT.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --gid 10001 thresher \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin thresher

WORKDIR /app

# The package: a regular (non-editable) install into site-packages; the sources are removed afterwards.
COPY pyproject.toml README.md ./
COPY training/ training/
COPY service/ service/
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info training service

# The shipped model. An installed `thresher` would look for models/default next to site-packages, so
# the folder is named explicitly.
COPY models/default/ /app/models/default/

ENV THRESHER_MODEL_DIR=/app/models/default \
    THRESHER_HOST=0.0.0.0 \
    THRESHER_PORT=8000

# Numeric, so that a runtime can tell it is not root (Kubernetes' runAsNonRoot) without the passwd file.
USER 10001:10001

EXPOSE 8000

# No curl in the slim image: the check is one line of Python. /healthz answers once a worker has
# loaded and warmed its model (~10 s per worker), hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('THRESHER_PORT', '8000') + '/healthz', timeout=4)"]

ENTRYPOINT ["thresher", "serve"]
