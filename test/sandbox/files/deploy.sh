#!/bin/bash
# Blue-green deploy of the Spring API. Run by GitHub Actions over SSH after the image is pushed:
#   ssh ec2-user@<host> 'cd ~/apps && ./deploy.sh'
# 1. find the live color in active-upstream.conf  2. pull + start the idle color
# 3. wait until docker says it is healthy          4. point nginx at it and reload
# 5. give nginx a few seconds to drain, then stop the old color
set -euo pipefail
cd "$(dirname "$0")"

NGINX_CONF=@NGINX_CONF@                  # real host: /etc/nginx/nginx.conf
UPSTREAM_CONF=@CONF_DIR@/active-upstream.conf
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-180}    # seconds to wait for the new color
DRAIN_SECONDS=${DRAIN_SECONDS:-5}

log() { echo "[deploy $(date +%H:%M:%S)] $*"; }
compose() { # color args...
  local color=$1; shift
  docker-compose -p "handdoc-spring-$color" -f "docker-compose.spring-$color.yml" "$@"
}

if grep -Eq '^[[:space:]]*server[[:space:]]+127\.0\.0\.1:8081' "$UPSTREAM_CONF"; then
  LIVE=green; IDLE=blue; IDLE_PORT=8080
else
  LIVE=blue; IDLE=green; IDLE_PORT=8081
fi
NEW=handdoc-spring-$IDLE
log "live color: $LIVE -> deploying $IDLE (port $IDLE_PORT)"

compose "$IDLE" pull
compose "$IDLE" up -d

log "waiting for $NEW to become healthy (max ${HEALTH_TIMEOUT}s)"
waited=0
while true; do
  status=$(docker inspect -f '{{.State.Health.Status}}' "$NEW" 2>/dev/null || echo missing)
  [ "$status" = healthy ] && break
  if [ "$waited" -ge "$HEALTH_TIMEOUT" ] || [ "$status" = unhealthy ] || [ "$status" = missing ]; then
    log "ERROR: $NEW is '$status' after ${waited}s — keeping $LIVE live"
    docker logs --tail 20 "$NEW" 2>&1 || true
    compose "$IDLE" stop
    exit 1
  fi
  sleep 2; waited=$((waited + 2))
done
log "$NEW is healthy after ~${waited}s"

OLD_UPSTREAM=$(cat "$UPSTREAM_CONF")
cat > "$UPSTREAM_CONF" <<CONF
# Live Spring color: $IDLE. Rewritten by ~/apps/deploy.sh at every switch, then nginx reload.
upstream spring_backend {
    server 127.0.0.1:$IDLE_PORT;
}
CONF
if ! sudo nginx -c "$NGINX_CONF" -t; then
  log "ERROR: nginx config test failed — restoring the old upstream"
  printf '%s\n' "$OLD_UPSTREAM" > "$UPSTREAM_CONF"
  compose "$IDLE" stop
  exit 1
fi
sudo nginx -c "$NGINX_CONF" -s reload
log "nginx now sends /api/ to $IDLE"

sleep "$DRAIN_SECONDS"
compose "$LIVE" stop
log "stopped $LIVE. done: $IDLE is live"
