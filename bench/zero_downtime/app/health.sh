#!/bin/sh
curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${SHIPBOT_PORT:-$APP_PORT}/health"
