#!/bin/sh
# Stop the app on $SHIPBOT_PORT or $APP_PORT; wait until the port is free.
port=${SHIPBOT_PORT:-$APP_PORT}
root=$(cd "$(pwd -P)/../.." && pwd)
pidfile="$root/run/app-$port.pid"
test -f "$pidfile" || exit 0
kill "$(cat "$pidfile")" 2>/dev/null || { rm -f "$pidfile"; exit 0; }
i=0
while curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/health"; test $? -ne 7; do
  i=$((i+1)); if [ $i -ge 100 ]; then kill -9 "$(cat "$pidfile")" 2>/dev/null; break; fi; sleep 0.1
done
rm -f "$pidfile"
