#!/bin/sh
# Graceful restart into this release: the running app hands its socket over (SIGHUP); start it if none runs.
port=${SHIPBOT_PORT:-$APP_PORT}
here=$(pwd -P)
root=$(cd "$here/../.." && pwd)
pidfile="$root/run/app-$port.pid"
old=$(cat "$pidfile" 2>/dev/null)
if [ -z "$old" ] || ! kill -0 "$old" 2>/dev/null; then exec ./start.sh; fi
printf '%s\n' "$here/app.py" > "$root/run/app-$port.next"
kill -HUP "$old"
want=$(cat REVISION)
i=0
until [ "$(cat "$pidfile" 2>/dev/null)" != "$old" ] && [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$port/version")" = "$want" ]; do
  i=$((i+1)); if [ $i -ge 200 ]; then echo "the app did not reload into $want on port $port" >&2; exit 1; fi; sleep 0.05
done
