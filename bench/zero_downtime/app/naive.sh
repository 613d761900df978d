#!/bin/sh
# Stop, then start: the app is down in between.
./stop.sh && ./start.sh
