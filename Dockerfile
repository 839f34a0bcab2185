# One container: gunicorn (one process, threads) with the scheduler inside, SQLite on /data.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    APP_ENV=production \
    DATA_DIR=/data \
    PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY webapp ./webapp
# Install the pinned dependencies only; the app runs from /app (templates and static live there).
RUN pip install --no-compile . && pip uninstall -y webapp
COPY . .

RUN useradd --system --uid 10001 --home /app inbox \
    && mkdir -p /data && chown inbox /data
USER inbox
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"
ENTRYPOINT ["/app/docker/entrypoint.sh"]
