#!/bin/sh
# Entry point of the handdoc-spring stand-in.
#   PORT (8080)          port to listen on, bound to 127.0.0.1 (containers use host networking)
#   COLOR                blue | green, echoed by /api/*
#   STARTUP_DELAY_S (2)  seconds before the port opens (JVM start-up)
#   FAIL_HEALTH=1        /actuator/health answers 500
PORT=${PORT:-8080}
STARTUP_DELAY_S=${STARTUP_DELAY_S:-2}
VERSION=$(cat /app/VERSION 2>/dev/null || echo unknown)
export PORT COLOR VERSION FAIL_HEALTH

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)  INFO 1 --- [           main] c.h.api.HanddocApplication : $*"; }

log "Starting HanddocApplication $VERSION (color=$COLOR, port=$PORT)"
[ -e /app/BROKEN ] && log "WARN this build is broken: health will never be UP"
[ "$FAIL_HEALTH" = 1 ] && log "WARN FAIL_HEALTH=1: /actuator/health will answer 500"
log "No active profile set; datasource ${SPRING_DATASOURCE_URL:-<none>}"
sleep "$STARTUP_DELAY_S"

child=
trap 'log "Commencing graceful shutdown"; [ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM INT
# busybox nc: -ll = persistent server (one handler per connection, concurrently);
# every extra "l" raises the listen backlog by one, so 64 of them = backlog 64.
nc -llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll \
   -p "$PORT" 127.0.0.1 -e /bin/sh /app/handler.sh &
child=$!
log "Tomcat started on port(s): $PORT (http) with context path ''"
log "Started HanddocApplication in $STARTUP_DELAY_S seconds"
wait "$child"
log "listener exited ($?)"
exit 1
