#!/bin/sh
# Start this release's app in the background on $SHIPBOT_PORT (blue/green) or $APP_PORT; wait until it answers.
port=${SHIPBOT_PORT:-$APP_PORT}
here=$(pwd -P)
root=$(cd "$here/../.." && pwd)
mkdir -p "$root/run"
setsid nohup python3 "$here/app.py" >>"$root/run/app-$port.log" 2>&1 </dev/null &
i=0
until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/health"; do
  i=$((i+1)); if [ $i -ge 100 ]; then echo "the app did not answer on port $port" >&2; exit 1; fi; sleep 0.1
done
