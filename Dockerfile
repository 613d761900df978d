# shipbot: the Slack bot in production mode (`shipbot run`). Settings come from the environment (.env.example).
# Sentry error reporting: docker build --build-arg WITH_SENTRY=1 . (then set SENTRY_DSN).
FROM python:3.11-slim AS build
ARG WITH_SENTRY=0
# the uv that reads uv.lock (the Makefile's UV_VERSION; tests/packaging checks they agree)
ARG UV_VERSION=0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# the packages pyproject.toml installs (tests/packaging checks the two lists agree)
COPY bot ./bot
COPY cli ./cli
COPY commands ./commands
COPY demo ./demo
COPY deploy ./deploy
COPY slack_emulator ./slack_emulator
COPY webhooks ./webhooks
COPY sinks ./sinks
# the dependencies exactly as uv.lock pins them (hashes checked), then shipbot itself without resolving anything again
RUN if [ "$WITH_SENTRY" = "1" ]; then extra="--extra sentry"; else extra=""; fi \
 && pip install --no-cache-dir "uv==$UV_VERSION" \
 && UV_PYTHON_DOWNLOADS=never uv export --frozen --no-emit-project --no-header $extra -o /tmp/requirements.txt \
 && pip install --no-cache-dir --require-hashes --prefix=/install -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps --prefix=/install .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin shipbot
COPY --from=build /install /usr/local
RUN mkdir -p /home/shipbot/data && chown shipbot:shipbot /home/shipbot/data
USER shipbot
WORKDIR /home/shipbot
ENV SHIPBOT_DATA_DIR=/home/shipbot/data \
    SHIPBOT_LOG_FORMAT=json \
    SHIPBOT_OPS_HOST=0.0.0.0 \
    SHIPBOT_OPS_PORT=9102 \
    PYTHONUNBUFFERED=1
# the SQLite store (unless SHIPBOT_DATABASE_URL names a PostgreSQL) and git mirrors: keep them across containers
VOLUME ["/home/shipbot/data"]
EXPOSE 9102
# the ops port is read from the environment, so `-e SHIPBOT_OPS_PORT=...` moves the check with it; not 200: unhealthy
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,urllib.request; port = os.environ.get('SHIPBOT_OPS_PORT') or '9102'; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"
# Mount the deploy config, SSH key and known_hosts, e.g. -v ./shipbot.yml:/home/shipbot/shipbot.yml:ro
STOPSIGNAL SIGTERM
# tini is pid 1: it forwards SIGTERM to the bot and reaps the git and ssh children it leaves behind
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["shipbot", "run"]
