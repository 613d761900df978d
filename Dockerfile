# shipbot: the Slack bot in production mode (`shipbot run`). Settings come from the environment (.env.example).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
# the packages pyproject.toml installs (tests/packaging checks the two lists agree)
COPY bot ./bot
COPY cli ./cli
COPY commands ./commands
COPY demo ./demo
COPY deploy ./deploy
COPY slack_emulator ./slack_emulator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --shell /usr/sbin/nologin shipbot
COPY --from=build /install /usr/local
USER shipbot
WORKDIR /home/shipbot
ENV SHIPBOT_DATA_DIR=/home/shipbot/data \
    SHIPBOT_LOG_FORMAT=json \
    SHIPBOT_OPS_HOST=0.0.0.0 \
    SHIPBOT_OPS_PORT=9102 \
    PYTHONUNBUFFERED=1
EXPOSE 9102
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9102/healthz', timeout=4).status == 200 else 1)"
# Mount the deploy config, SSH key and known_hosts, e.g. -v ./shipbot.yml:/home/shipbot/shipbot.yml:ro
STOPSIGNAL SIGTERM
CMD ["shipbot", "run"]
