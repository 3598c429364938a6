#!/bin/sh
# Entry point of the handdoc-fastapi stand-in.
#   PORT (8000)     port to listen on, bound to 127.0.0.1
#   MODEL_LOAD_S    seconds the "model load" takes; unset = random 7..15, chosen now
PORT=${PORT:-8000}
if [ -z "$MODEL_LOAD_S" ]; then MODEL_LOAD_S=$(shuf -i 7-15 -n 1); fi
VERSION=$(cat /app/VERSION 2>/dev/null || echo unknown)
READY=/tmp/models.ready
export PORT VERSION READY
rm -f "$READY"

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S) INFO:     $*"; }

log "Started server process [1]"
log "Waiting for application startup."
log "loading models (${MODEL_LOAD_S}s)…"
( i=0
  while [ "$i" -lt "$MODEL_LOAD_S" ]; do
    sleep 1; i=$((i + 1))
    [ $((i % 5)) -eq 0 ] && [ "$i" -lt "$MODEL_LOAD_S" ] && log "still loading models (${i}s/${MODEL_LOAD_S}s)…"
  done
  touch "$READY"
  log "models loaded (sign-language + whisper) in ${MODEL_LOAD_S}s"
  log "Application startup complete." ) &
loader=$!

child=
trap 'log "Shutting down"; kill $child $loader 2>/dev/null; log "Finished server process [1]"; exit 0' TERM INT
# busybox nc: -ll = persistent server; each extra "l" adds one to the listen backlog (64).
nc -llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll \
   -p "$PORT" 127.0.0.1 -e /bin/sh /app/handler.sh &
child=$!
log "Uvicorn running on http://127.0.0.1:$PORT (Press CTRL+C to quit)"
wait "$child"
log "listener exited ($?)"
exit 1
