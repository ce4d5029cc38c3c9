# Kanal Aduan: a small image that runs `aduan run` as an unprivileged user.
# Build: docker build -t kanal-aduan .     Run with PostgreSQL: docker compose up -d
# Data (SQLite file, photos, backups) lives in the volume /app/data.

FROM python:3.12-slim-trixie AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY alembic ./alembic
COPY bot ./bot
COPY conversations ./conversations
COPY handlers ./handlers
COPY storage ./storage
# Editable: the migrations stay in /app/alembic, where storage/migrate.py looks for them.
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -e . \
    && find /app /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM python:3.12-slim-trixie
# postgresql-client: pg_dump/pg_restore for `aduan backup`; tzdata: the city's time zone.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin aduan
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
RUN mkdir -p /app/data && chown aduan:aduan /app/data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER aduan
VOLUME ["/app/data"]
# The bot's web server answers /healthz (database reachable, backlogs) on WEB_PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-c", \
    "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WEB_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["aduan"]
CMD ["run"]
