#!/bin/bash
# Switchyard sandbox host: a loopback copy of the handDoc EC2 host (see shared/CONTEXT.md).
#
#   bash test/sandbox/sandbox.sh up       start (or repair) everything; a no-op when healthy
#   bash test/sandbox/sandbox.sh status   one line per component; exit 0 only if all are up
#   bash test/sandbox/sandbox.sh down     stop everything it started and remove what it created
#
# What runs (all on 127.0.0.1, all containers on host networking, no docker bridge):
#   sshd :2222 (user ec2-user), dockerd (own socket/data-root), docker-registry :5005,
#   nginx :8088/:8443 (handdoc.store), containers handdoc-spring-blue :8080,
#   handdoc-spring-green :8081, handdoc-fastapi :8000.
# Everything lives in $SWITCHYARD_SANDBOX_DIR (default /var/lib/switchyard-sandbox) except the
# user ec2-user (+ /home/ec2-user), /etc/sudoers.d/switchyard-sandbox and /run/sshd.
# $SANDBOX_DIR/sandbox.json describes the running sandbox for tests and the extension.
set -euo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SANDBOX_DIR=${SWITCHYARD_SANDBOX_DIR:-/var/lib/switchyard-sandbox}
SANDBOX_DIR=${SANDBOX_DIR%/}
SSH_PORT=${SWITCHYARD_SSH_PORT:-2222}
REGISTRY_PORT=${SWITCHYARD_REGISTRY_PORT:-5005}
HTTP_PORT=${SWITCHYARD_HTTP_PORT:-8088}
HTTPS_PORT=${SWITCHYARD_HTTPS_PORT:-8443}
BLUE_PORT=8080 GREEN_PORT=8081 FASTAPI_PORT=8000
HEALTH_TIMEOUT=${SWITCHYARD_HEALTH_TIMEOUT:-120}

USER_NAME=ec2-user
USER_HOME=/home/$USER_NAME
USER_GECOS="Switchyard sandbox user"
APPS_DIR=$USER_HOME/apps
SUDOERS_FILE=/etc/sudoers.d/switchyard-sandbox
REGISTRY=127.0.0.1:$REGISTRY_PORT
RUN_DIR=$SANDBOX_DIR/run
DOCKER_SOCK=$RUN_DIR/docker.sock
NGINX_BIN=/usr/sbin/nginx
NGINX_CONF=$SANDBOX_DIR/etc/nginx/nginx.conf
CONF_DIR=$SANDBOX_DIR/etc/nginx/conf.d
NGINX_LOG_DIR=$SANDBOX_DIR/var/log/nginx
ACCESS_LOG=$NGINX_LOG_DIR/access.log
ERROR_LOG=$NGINX_LOG_DIR/error.log
CLIENT_KEY=$SANDBOX_DIR/client/id_ed25519
HOST_KEY=$SANDBOX_DIR/ssh/ssh_host_ed25519_key
MARKER=$SANDBOX_DIR/.switchyard-sandbox
DOCKER=/usr/bin/docker                      # Debian's 20.10 client, same version as the engine
CONTAINERS=(handdoc-fastapi handdoc-spring-blue handdoc-spring-green)
PACKAGES=(openssh-server docker.io docker-compose nginx docker-registry busybox-static wrk sudo
          openssl curl iproute2 procps passwd)
# Tests check the message for a package apt cannot install with this (space-separated names).
read -r -a EXTRA_PACKAGES <<<"${SWITCHYARD_SANDBOX_EXTRA_PACKAGES:-}"
PACKAGES+=("${EXTRA_PACKAGES[@]}")

export DOCKER_HOST=unix://$DOCKER_SOCK DOCKER_BUILDKIT=0 COMPOSE_INTERACTIVE_NO_CLI=1

say()  { echo "sandbox: $*"; }
die()  { echo "sandbox: ERROR: $*" >&2; exit 1; }
warn() { echo "sandbox: warning: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# helpers

check_env() {
  [ "$(id -u)" -eq 0 ] || die "needs root: run 'sudo bash $0 ${CMD:-up}'"
  [[ $SANDBOX_DIR =~ ^/[A-Za-z0-9._/-]+$ ]] || die "SWITCHYARD_SANDBOX_DIR must be an absolute path of [A-Za-z0-9._/-] (got '$SANDBOX_DIR')"
  case "$SANDBOX_DIR" in
    /|/bin*|/boot*|/dev*|/etc*|/home|/home/$USER_NAME*|/lib*|/proc*|/root|/run|/sbin*|/sys*|/usr*|/var|/var/lib|/var/log|/tmp)
      die "refusing SWITCHYARD_SANDBOX_DIR=$SANDBOX_DIR (use a dedicated directory such as /var/lib/switchyard-sandbox)" ;;
  esac
  local p
  for p in SSH_PORT REGISTRY_PORT HTTP_PORT HTTPS_PORT; do
    [[ ${!p} =~ ^[0-9]+$ ]] && [ "${!p}" -gt 0 ] && [ "${!p}" -lt 65536 ] || die "$p='${!p}' is not a port number"
  done
}

# Is $1 a process of a container of our engine? Its root mount ("/") is an overlay under our
# data root. (Host processes see those overlays too, but never as their own root.)
is_container_of_ours() {
  awk -v d="$SANDBOX_DIR/docker/" '$5 == "/" && index($0, d) { found = 1 } END { exit !found }' "/proc/$1/mountinfo" 2>/dev/null
}

# Leftovers of a sandbox whose processes were killed (dockerd -9, a machine's session ended):
# processes of containers whose dockerd is gone (their root is our overlay), and orphans (parent 1)
# that keep files under SANDBOX_DIR open, e.g. nginx workers of a killed master holding :8088.
# Nobody would ever stop them, and they hold the ports. Live components (pid files) are kept.
kill_orphans() {
  local keep=" " f pid p parent docker_alive=0 left=()
  for f in "$RUN_DIR"/*.pid; do
    pid=$(live_pid "$f") && keep+="$pid $(descendants "$pid" | tr '\n' ' ') "
  done
  live_pid "$RUN_DIR/docker.pid" >/dev/null && docker_alive=1
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    [[ $keep == *" $p "* ]] && continue
    if [ "$docker_alive" = 0 ] && is_container_of_ours "$p"; then left+=("$p"); continue; fi
    # A process may exit during the walk: its vanished /proc entry must not end the script (set -e).
    parent=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    [ "$parent" = 1 ] || continue
    # Components name SANDBOX_DIR on their command line (containerd shims re-parent to 1 by design).
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$SANDBOX_DIR/" && continue
    find "/proc/$p/fd" -lname "$SANDBOX_DIR/*" -print -quit 2>/dev/null | grep -q . && left+=("$p")
  done
  [ ${#left[@]} -eq 0 ] && return 0
  say "stopping leftovers of an earlier sandbox whose parents are gone: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
  sleep 1
}

# Does the process $1 (or one of its ancestors) belong to this sandbox? True when its command
# line names SANDBOX_DIR (sshd/nginx/registry/dockerd configs, containerd shims of our engine).
is_ours_pid() {
  local p=$1 i k v args
  for ((i = 0; i < 40; i++)); do
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -gt 1 ] && [ -r "/proc/$p/cmdline" ] || return 1
    args=()
    mapfile -d '' args <"/proc/$p/cmdline" 2>/dev/null || true
    [[ " ${args[*]} " == *"$SANDBOX_DIR/"* ]] && return 0
    v=
    while read -r k v; do [ "$k" = PPid: ] && break; v=; done <"/proc/$p/status" 2>/dev/null || true
    p=$v
  done
  return 1
}

# pid from a pid file if that process is alive and is ours
live_pid() {
  local f=$1 pid
  [ -s "$f" ] || return 1
  pid=$(head -n1 "$f" 2>/dev/null | tr -dc 0-9)
  [ -n "$pid" ] && alive "$pid" && is_ours_pid "$pid" && { echo "$pid"; return 0; }
  return 1
}

listen_pids() { # port -> pids listening on 127.0.0.1/any:port
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}
port_listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

check_ports() {
  local spec name port pids p ours bad=0 desc
  for spec in "sshd:$SSH_PORT" "registry:$REGISTRY_PORT" "nginx-http:$HTTP_PORT" "nginx-https:$HTTPS_PORT" \
              "spring-blue:$BLUE_PORT" "spring-green:$GREEN_PORT" "fastapi:$FASTAPI_PORT"; do
    name=${spec%%:*} port=${spec##*:}
    port_listening "$port" || continue
    pids=$(listen_pids "$port")
    ours=0
    for p in $pids; do is_ours_pid "$p" && { ours=1; break; }; done
    [ "$ours" = 1 ] && continue
    desc=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(.*' | head -n1 || true)
    for p in $pids; do desc+=" [pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120 || true)]"; done
    echo "sandbox: ERROR: port $port (for $name) is already taken by another process: ${desc:-unknown (see: ss -ltnp)}" >&2
    bad=1
  done
  [ "$bad" = 0 ] || die "stop the process(es) above (the app ports 8080/8081/8000 are fixed); sshd/registry/nginx ports can be moved with SWITCHYARD_SSH_PORT / SWITCHYARD_REGISTRY_PORT / SWITCHYARD_HTTP_PORT / SWITCHYARD_HTTPS_PORT"
}

render() { # template -> stdout, placeholders replaced
  sed -e "s|@SANDBOX_DIR@|$SANDBOX_DIR|g" -e "s|@SSH_PORT@|$SSH_PORT|g" \
      -e "s|@REGISTRY_PORT@|$REGISTRY_PORT|g" -e "s|@REGISTRY@|$REGISTRY|g" \
      -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" \
      -e "s|@NGINX_CONF@|$NGINX_CONF|g" -e "s|@CONF_DIR@|$CONF_DIR|g" "$HERE/files/$1"
}

# write_if_changed dest mode owner < content ; returns 0 if the file was (re)written
write_if_changed() {
  local dest=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$SANDBOX_DIR/tmp/.w.XXXXXX")
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"; chmod "$mode" "$dest"; chown "$owner" "$dest"; return 1
  fi
  chmod "$mode" "$tmp"; chown "$owner" "$tmp"; mv -f "$tmp" "$dest"; return 0
}

# start a daemon detached from our terminal/pipes; its pid (after exec) goes to $pidfile
spawn() { # pidfile logfile cmd...
  local pidfile=$1 log=$2; shift 2
  ( exec 9>&- ; setsid "$@" </dev/null >>"$log" 2>&1 & echo $! >"$pidfile" )
}

alive() { # pid -> running (zombies waiting for their parent to reap them count as gone)
  local k v
  kill -0 "$1" 2>/dev/null || return 1
  while read -r k v; do [ "$k" = State: ] && { [[ $v != Z* ]]; return; }; done <"/proc/$1/status" 2>/dev/null
  return 1
}

stop_pid() { # name pid [timeout]
  local name=$1 pid=$2 t=${3:-15} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < t * 20; i++)); do alive "$pid" || return 0; sleep 0.05; done
  warn "$name (pid $pid) did not stop in ${t}s, killing it"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

wait_for() { # seconds description command...
  local t=$1 what=$2 i; shift 2
  for ((i = 0; i < t * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

as_user() { runuser -u "$USER_NAME" -- env HOME="$USER_HOME" DOCKER_HOST="$DOCKER_HOST" "$@"; }

ssh_user() { # command -> runs as ec2-user over the sandbox sshd
  ssh -F /dev/null -i "$CLIENT_KEY" -p "$SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
      -o ConnectTimeout=5 "$USER_NAME@127.0.0.1" "$@"
}

live_color() { # the color of the first live (not down/backup) server in active-upstream.conf
  local port
  port=$(awk '$1 == "server" && $2 ~ /^127\.0\.0\.1:808[01]([^0-9]|$)/ && $0 !~ /[[:space:]](down|backup)([[:space:];]|$)/ {
                sub(/^127\.0\.0\.1:/, "", $2); print substr($2, 1, 4); exit }' \
         "$CONF_DIR/active-upstream.conf" 2>/dev/null || true)
  if [ "$port" = 8081 ]; then echo green; else echo blue; fi
}

# ---------------------------------------------------------------------------------------------
# up: steps (each one idempotent and cheap when already done)

install_packages() {
  local missing=() p installed
  installed=" $(dpkg-query -W -f='${Package}:${Status}\n' "${PACKAGES[@]}" 2>/dev/null |
               awk -F: '$2 ~ /install ok installed/ {printf "%s ", $1}' || true) "
  for p in "${PACKAGES[@]}"; do
    [[ $installed == *" $p "* ]] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing Debian packages: ${missing[*]}"
  # keep the packages' own services (system dockerd with its bridge, nginx on :80, sshd on :22)
  # from being started by the installation
  local policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy_added=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -qq >"$SANDBOX_TMP_LOG" 2>&1; then
    [ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
    tail -n 5 "$SANDBOX_TMP_LOG" >&2
    die "apt-get update failed; check the network/apt sources, then rerun"
  fi
  for p in "${missing[@]}"; do
    if ! apt-get install -y -qq --no-install-recommends "$p" >>"$SANDBOX_TMP_LOG" 2>&1; then
      [ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
      tail -n 5 "$SANDBOX_TMP_LOG" >&2
      die "could not install Debian package '$p' (apt-get install -y $p); install it by hand and rerun"
    fi
    say "installed $p"
  done
  [ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

check_traversable() { # every parent of SANDBOX_DIR must be o+x for ec2-user
  local d=$SANDBOX_DIR
  while d=$(dirname "$d"); [ "$d" != / ]; do
    [ -d "$d" ] || continue
    [ "$(( 0$(stat -c %a "$d") & 1 ))" -eq 1 ] ||
      die "$d is not traversable by other users (mode $(stat -c %a "$d")); ec2-user must reach $DOCKER_SOCK: chmod o+x $d or choose another SWITCHYARD_SANDBOX_DIR"
  done
}

# is SANDBOX_DIR (or what is left of it after a partial rm -rf) ours?
is_our_dir() {
  [ -e "$MARKER" ] && return 0
  grep -qs 'Switchyard sandbox' "$SANDBOX_DIR/ssh/sshd_config" "$SANDBOX_DIR/registry/config.yml" \
    "$SANDBOX_DIR/etc/nginx/nginx.conf" && return 0
  [ -d "$SANDBOX_DIR/docker" ] && [ -d "$SANDBOX_DIR/exec" ]
}

make_dirs() {
  if [ -d "$SANDBOX_DIR" ] && ! is_our_dir && [ -n "$(ls -A "$SANDBOX_DIR" 2>/dev/null)" ]; then
    die "$SANDBOX_DIR exists, is not empty and was not made by this script; remove it or set SWITCHYARD_SANDBOX_DIR"
  fi
  mkdir -p "$SANDBOX_DIR"
  [ -e "$MARKER" ] || echo "switchyard sandbox; remove with: bash test/sandbox/sandbox.sh down" >"$MARKER"
  chmod 755 "$SANDBOX_DIR"
  mkdir -p "$RUN_DIR" "$SANDBOX_DIR"/{ssh,client,tmp,build,registry/data,docker,exec,var/log,var/lib/nginx} \
           "$SANDBOX_DIR/etc/nginx/conf.d" "$SANDBOX_DIR/etc/nginx/ssl" "$NGINX_LOG_DIR"
  chmod 755 "$RUN_DIR" "$SANDBOX_DIR/etc" "$SANDBOX_DIR/etc/nginx" "$CONF_DIR" "$SANDBOX_DIR/var" "$SANDBOX_DIR/var/log" "$NGINX_LOG_DIR"
  chmod 700 "$SANDBOX_DIR/client" "$SANDBOX_DIR/etc/nginx/ssl" "$SANDBOX_DIR/tmp"
  mkdir -p /run/sshd && chmod 755 /run/sshd
}

setup_user() {
  if ! getent group docker >/dev/null; then
    groupadd --system docker
    touch "$SANDBOX_DIR/created-group"
    say "created group docker"
  fi
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    [ -e "$USER_HOME" ] && die "$USER_HOME exists but user $USER_NAME does not; remove $USER_HOME and rerun"
    useradd --create-home --home-dir "$USER_HOME" --shell /bin/bash --groups docker \
            --comment "$USER_GECOS" "$USER_NAME"
    touch "$SANDBOX_DIR/created-user"
    say "created user $USER_NAME (home $USER_HOME, group docker)"
  fi
  # the comment field marks a user made by an earlier 'up' even if $SANDBOX_DIR was lost since
  [ "$(getent passwd "$USER_NAME" | cut -d: -f5)" = "$USER_GECOS" ] && touch "$SANDBOX_DIR/created-user"
  id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx docker || usermod -aG docker "$USER_NAME"
  [ "$(getent passwd "$USER_NAME" | cut -d: -f7)" = /bin/bash ] || usermod -s /bin/bash "$USER_NAME"
  # no password, but not "locked" ('!'): with UsePAM no, sshd refuses locked accounts even for keys
  [ "$(getent shadow "$USER_NAME" | cut -d: -f2)" = '*' ] || usermod -p '*' "$USER_NAME"
  chmod 755 "$USER_HOME"   # StrictModes: not group/world writable; 755 like a default Amazon Linux home

  local tmp; tmp="$SANDBOX_DIR/tmp/sudoers"
  cat >"$tmp" <<EOF
# Switchyard sandbox (test/sandbox/sandbox.sh): what ec2-user may run as root without a password.
# Removed by 'sandbox.sh down'.
Cmnd_Alias SWITCHYARD_NGINX = $NGINX_BIN
Cmnd_Alias SWITCHYARD_LOGS = /usr/bin/tail $NGINX_LOG_DIR/*, /usr/bin/tail * $NGINX_LOG_DIR/*, \\
                             /usr/bin/cat $NGINX_LOG_DIR/*, /usr/bin/cat * $NGINX_LOG_DIR/*
Cmnd_Alias SWITCHYARD_TEST = /usr/bin/test
$USER_NAME ALL=(root) NOPASSWD: SWITCHYARD_NGINX, SWITCHYARD_LOGS, SWITCHYARD_TEST
EOF
  chmod 440 "$tmp"
  visudo -cqf "$tmp" >/dev/null || { rm -f "$tmp"; die "generated sudoers file does not validate (visudo -cf); please report this"; }
  if ! cmp -s "$tmp" "$SUDOERS_FILE" 2>/dev/null; then
    install -m 0440 -o root -g root "$tmp" "$SUDOERS_FILE"
  fi
  rm -f "$tmp"
}

setup_ssh() {
  if [ ! -s "$HOST_KEY" ]; then
    rm -f "$HOST_KEY" "$HOST_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "switchyard-sandbox-host" -f "$HOST_KEY"
  fi
  chmod 600 "$HOST_KEY"; chmod 644 "$HOST_KEY.pub"
  if [ ! -s "$CLIENT_KEY" ]; then
    rm -f "$CLIENT_KEY" "$CLIENT_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "switchyard-sandbox-client" -f "$CLIENT_KEY"
  fi
  chown root:root "$CLIENT_KEY" "$CLIENT_KEY.pub"; chmod 600 "$CLIENT_KEY"; chmod 644 "$CLIENT_KEY.pub"

  local sshdir=$USER_HOME/.ssh pub
  pub=$(cat "$CLIENT_KEY.pub")
  install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$sshdir"
  touch "$sshdir/authorized_keys"
  grep -qxF "$pub" "$sshdir/authorized_keys" || echo "$pub" >>"$sshdir/authorized_keys"
  chown "$USER_NAME:$USER_NAME" "$sshdir/authorized_keys"; chmod 600 "$sshdir/authorized_keys"

  local changed=0 pid
  render sshd_config | write_if_changed "$SANDBOX_DIR/ssh/sshd_config" 644 root:root && changed=1
  /usr/sbin/sshd -t -f "$SANDBOX_DIR/ssh/sshd_config" 2>"$SANDBOX_TMP_LOG" ||
    die "sshd rejects $SANDBOX_DIR/ssh/sshd_config: $(head -n1 "$SANDBOX_TMP_LOG")"
  if pid=$(live_pid "$RUN_DIR/sshd.pid"); then
    [ "$changed" = 1 ] || return 0
    say "sshd config changed, restarting sshd"
    stop_pid sshd "$pid"
  fi
  rm -f "$RUN_DIR/sshd.pid"
  /usr/sbin/sshd -f "$SANDBOX_DIR/ssh/sshd_config" -E "$SANDBOX_DIR/var/log/sshd.log" </dev/null >/dev/null 2>&1 9>&- ||
    die "sshd did not start; see $SANDBOX_DIR/var/log/sshd.log"
  wait_for 10 sshd live_pid "$RUN_DIR/sshd.pid" && wait_for 10 sshd port_listening "$SSH_PORT" ||
    die "sshd did not come up on 127.0.0.1:$SSH_PORT; see $SANDBOX_DIR/var/log/sshd.log"
  say "sshd listening on 127.0.0.1:$SSH_PORT"
}

docker_ok() { "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_dockerd() {
  if live_pid "$RUN_DIR/docker.pid" >/dev/null && docker_ok; then return 0; fi
  local pid
  if pid=$(live_pid "$RUN_DIR/docker.pid"); then
    say "dockerd (pid $pid) is not answering, restarting it"
    stop_pid dockerd "$pid" 30
  fi
  rm -f "$RUN_DIR/docker.pid" "$DOCKER_SOCK"
  spawn "$RUN_DIR/dockerd.spawn.pid" "$SANDBOX_DIR/var/log/dockerd.log" \
    /usr/sbin/dockerd --host "unix://$DOCKER_SOCK" --group docker \
      --data-root "$SANDBOX_DIR/docker" --exec-root "$SANDBOX_DIR/exec" --pidfile "$RUN_DIR/docker.pid" \
      --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
      --userland-proxy=false --log-driver json-file --log-opt max-size=10m
  if ! wait_for 60 dockerd docker_ok; then
    tail -n 5 "$SANDBOX_DIR/var/log/dockerd.log" >&2 || true
    die "dockerd did not answer on $DOCKER_SOCK within 60s; see $SANDBOX_DIR/var/log/dockerd.log"
  fi
  say "dockerd $("$DOCKER" version --format '{{.Server.Version}}') up on $DOCKER_SOCK (no bridge)"
}

registry_ok() { curl -fsS -m 2 -o /dev/null "http://$REGISTRY/v2/"; }

start_registry() {
  local changed=0 pid
  render registry.yml | write_if_changed "$SANDBOX_DIR/registry/config.yml" 644 root:root && changed=1
  if pid=$(live_pid "$RUN_DIR/registry.pid"); then
    if [ "$changed" = 0 ] && registry_ok; then return 0; fi
    say "restarting registry"
    stop_pid registry "$pid"
  fi
  spawn "$RUN_DIR/registry.pid" "$SANDBOX_DIR/var/log/registry.log" \
    /usr/bin/docker-registry serve "$SANDBOX_DIR/registry/config.yml"
  wait_for 20 registry registry_ok ||
    die "registry did not answer on http://$REGISTRY/v2/ within 20s; see $SANDBOX_DIR/var/log/registry.log"
  say "registry up on $REGISTRY"
}

nginx_ok() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$HTTP_PORT/nginx-health"; }

setup_nginx() {
  local crt=$SANDBOX_DIR/etc/nginx/ssl/handdoc.store.crt key=$SANDBOX_DIR/etc/nginx/ssl/handdoc.store.key
  if [ ! -s "$crt" ] || [ ! -s "$key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
      -keyout "$key" -out "$crt" -subj "/CN=handdoc.store" \
      -addext "subjectAltName=DNS:handdoc.store,DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
      die "openssl could not create the self-signed certificate for handdoc.store"
    chmod 600 "$key"; chmod 644 "$crt"
  fi
  mkdir -p "$SANDBOX_DIR"/var/lib/nginx/{body,proxy,fastcgi,uwsgi,scgi}
  local f
  for f in "$ACCESS_LOG" "$ERROR_LOG"; do
    [ -e "$f" ] || touch "$f"
    chown root:root "$f"; chmod 640 "$f"
  done
  local changed=0
  render nginx.conf | write_if_changed "$NGINX_CONF" 644 root:root && changed=1
  render handdoc.conf | write_if_changed "$CONF_DIR/handdoc.conf" 644 root:root && changed=1
  # the live color is state: keep it if the file is valid, otherwise start with blue
  if ! grep -Eq '^[[:space:]]*server[[:space:]]+127\.0\.0\.1:808[01]([^0-9]|$)' "$CONF_DIR/active-upstream.conf" 2>/dev/null; then
    render active-upstream.conf >"$CONF_DIR/active-upstream.conf"; changed=1
  fi
  # deploy.sh (run by ec2-user) rewrites this file in place, as on the real host
  chown "$USER_NAME:$USER_NAME" "$CONF_DIR/active-upstream.conf"; chmod 644 "$CONF_DIR/active-upstream.conf"

  "$NGINX_BIN" -e "$ERROR_LOG" -c "$NGINX_CONF" -t >"$SANDBOX_TMP_LOG" 2>&1 ||
    die "nginx -t failed: $(grep -m1 emerg "$SANDBOX_TMP_LOG" || tail -n1 "$SANDBOX_TMP_LOG")"
  local pid
  if pid=$(live_pid "$RUN_DIR/nginx.pid"); then
    if [ "$changed" = 1 ]; then
      "$NGINX_BIN" -e "$ERROR_LOG" -c "$NGINX_CONF" -s reload; say "nginx config changed, reloaded"
    fi
    nginx_ok && return 0
    say "nginx (pid $pid) is not answering, restarting it"
    stop_pid nginx "$pid"
  fi
  rm -f "$RUN_DIR/nginx.pid"
  ( exec 9>&-; "$NGINX_BIN" -e "$ERROR_LOG" -c "$NGINX_CONF" </dev/null >>"$SANDBOX_DIR/var/log/nginx-stdout.log" 2>&1 ) ||
    die "nginx did not start; see $ERROR_LOG"
  wait_for 10 nginx nginx_ok || die "nginx does not answer on http://127.0.0.1:$HTTP_PORT/nginx-health; see $ERROR_LOG"
  say "nginx up on 127.0.0.1:$HTTP_PORT (http) and 127.0.0.1:$HTTPS_PORT (https, handdoc.store)"
}

setup_apps() {
  install -d -m 755 -o "$USER_NAME" -g "$USER_NAME" "$APPS_DIR"
  local f dest wrote=()
  # written only when missing: the extension and its tests edit these like a user would
  for f in env docker-compose.spring-blue.yml docker-compose.spring-green.yml docker-compose.fastapi.yml deploy.sh; do
    dest=$APPS_DIR/$f; [ "$f" = env ] && dest=$APPS_DIR/.env
    [ -e "$dest" ] && continue
    render "$f" >"$dest"
    chown "$USER_NAME:$USER_NAME" "$dest"
    case $f in env) chmod 600 "$dest" ;; deploy.sh) chmod 755 "$dest" ;; *) chmod 644 "$dest" ;; esac
    wrote+=("${dest##*/}")
  done
  [ ${#wrote[@]} -eq 0 ] || say "wrote $APPS_DIR/{$(IFS=,; echo "${wrote[*]}")}"
}

# --- images --------------------------------------------------------------------------------

src_hash() { # image dir -> hash of its sources + the busybox binary
  (cd "$HERE/images/$1" && cat Dockerfile start.sh handler.sh && sha256sum /bin/busybox) | sha256sum | cut -c1-16
}

image_hash() { "$DOCKER" image inspect -f '{{index .Config.Labels "io.switchyard.sandbox.src"}}' "$1" 2>/dev/null || true; }

build_image() { # dir tag hash build-args...
  local dir=$1 tag=$2 hash=$3; shift 3
  [ "$(image_hash "$tag")" = "$hash" ] && return 0
  local ctx=$SANDBOX_DIR/build/$dir
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$HERE/images/$dir/"{Dockerfile,start.sh,handler.sh} "$ctx/"
  cp /bin/busybox "$ctx/busybox"
  if ! "$DOCKER" build -q --network host --build-arg "SRC_HASH=$hash" "$@" -t "$tag" "$ctx" >"$SANDBOX_TMP_LOG" 2>&1; then
    tail -n 8 "$SANDBOX_TMP_LOG" >&2
    die "docker build of $tag failed (context $ctx)"
  fi
  say "built $tag"
}

registry_has() { # name tag
  curl -fs -m 5 -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/$1/manifests/$2"
}

# config digest (= image id) of what a registry tag points to; empty if the tag is missing
registry_image_id() {
  curl -fs -m 5 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
       "http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null | tr -d ' \n' |
    grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]*' | head -n1 || true
}

# push name:tag unless the registry already has it; with "same" also when it holds another image
# (latest is only pushed when missing: tests may point it at another version)
ensure_tag_in_registry() { # name tag [same]
  if registry_has "$1" "$2"; then
    [ "${3:-}" = same ] || return 0
    [ "$(registry_image_id "$1" "$2")" = "$("$DOCKER" image inspect -f '{{.Id}}' "$REGISTRY/$1:$2" 2>/dev/null)" ] && return 0
  fi
  "$DOCKER" push -q "$REGISTRY/$1:$2" >"$SANDBOX_TMP_LOG" 2>&1 || {
    tail -n 5 "$SANDBOX_TMP_LOG" >&2; die "docker push $REGISTRY/$1:$2 failed; is the registry up? (sandbox.sh status)"; }
  say "pushed $REGISTRY/$1:$2"
}

images_fastapi() {
  local h; h=$(src_hash fastapi)
  build_image fastapi "$REGISTRY/handdoc-fastapi:v1" "$h" --build-arg VERSION=v1
  [ "$(image_hash "$REGISTRY/handdoc-fastapi:latest")" = "$h" ] || "$DOCKER" tag "$REGISTRY/handdoc-fastapi:v1" "$REGISTRY/handdoc-fastapi:latest"
  ensure_tag_in_registry handdoc-fastapi v1 same
  ensure_tag_in_registry handdoc-fastapi latest
}

images_spring() {
  local h v; h=$(src_hash spring)
  for v in v1 v2 v3; do
    build_image spring "$REGISTRY/handdoc-spring:$v" "$h" --build-arg "VERSION=$v"
  done
  build_image spring "$REGISTRY/handdoc-spring:broken" "$h" --build-arg VERSION=broken --build-arg BROKEN=1
  [ "$(image_hash "$REGISTRY/handdoc-spring:latest")" = "$h" ] || "$DOCKER" tag "$REGISTRY/handdoc-spring:v1" "$REGISTRY/handdoc-spring:latest"
  for v in v1 v2 v3 broken; do ensure_tag_in_registry handdoc-spring "$v" same; done
  ensure_tag_in_registry handdoc-spring latest
}

# --- containers ----------------------------------------------------------------------------

compose_file_of() {
  case $1 in
    handdoc-fastapi) echo docker-compose.fastapi.yml ;;
    handdoc-spring-blue) echo docker-compose.spring-blue.yml ;;
    handdoc-spring-green) echo docker-compose.spring-green.yml ;;
  esac
}

start_container() { # name ; project name = container name (what deploy.sh uses)
  local c=$1 state
  state=$("$DOCKER" inspect -f '{{.State.Status}}' "$c" 2>/dev/null) || state=missing
  [ "$state" = running ] && return 0
  if ! (cd "$APPS_DIR" && as_user docker-compose -p "$c" -f "$(compose_file_of "$c")" up -d) >"$SANDBOX_TMP_LOG.$c" 2>&1; then
    tail -n 8 "$SANDBOX_TMP_LOG.$c" >&2
    die "docker-compose could not start $c (see above; files in $APPS_DIR)"
  fi
  say "started $c ($state -> running)"
}

container_health() {
  local h
  h=$("$DOCKER" inspect -f '{{if ne .State.Status "running"}}{{.State.Status}}{{else if .State.Health}}{{.State.Health.Status}}{{else}}running{{end}}' "$1" 2>/dev/null) || h=missing
  echo "$h"
}

last_health_log() {
  "$DOCKER" inspect -f '{{if .State.Health}}{{range .State.Health.Log}}exit {{.ExitCode}}: {{.Output}}{{"\x1e"}}{{end}}{{end}}' "$1" 2>/dev/null |
    tr '\036' '\n' | grep -v '^$' | tail -n1 | tr '\n' ' ' | cut -c1-200 || true
}

whoami_color() {
  curl -fsS -m 3 "http://127.0.0.1:$HTTP_PORT/api/whoami" 2>/dev/null | grep -o '"color":"[a-z]*"' | cut -d'"' -f4 || true
}

wait_healthy() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) c h all pending=""
  while true; do
    all=1 pending=""
    for c in "${CONTAINERS[@]}"; do
      h=$(container_health "$c")
      [ "$h" = healthy ] || { all=0; pending+=" $c=$h"; }
      if [ "$h" = unhealthy ] || [ "$h" = exited ] || [ "$h" = missing ]; then
        die "container $c is $h; last health check: $(last_health_log "$c") — see 'docker logs $c' (DOCKER_HOST=$DOCKER_HOST); to start over: sandbox.sh down && sandbox.sh up"
      fi
    done
    [ "$all" = 1 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for c in "${CONTAINERS[@]}"; do
        h=$(container_health "$c")
        [ "$h" = healthy ] || echo "sandbox: ERROR: $c is '$h' after ${HEALTH_TIMEOUT}s; last health check: $(last_health_log "$c")" >&2
      done
      die "containers not healthy in time; look at 'docker logs <name>' (DOCKER_HOST=$DOCKER_HOST), or raise SWITCHYARD_HEALTH_TIMEOUT"
    fi
    sleep 1
  done
  local want got
  want=$(live_color)
  for ((i = 0; i < 20; i++)); do got=$(whoami_color); [ "$got" = "$want" ] && break; sleep 0.5; done
  [ "$got" = "$want" ] || die "http://127.0.0.1:$HTTP_PORT/api/whoami answers color '${got:-<nothing>}', expected '$want'; see $ERROR_LOG"
}

write_json() {
  local tmp=$SANDBOX_DIR/tmp/sandbox.json
  cat >"$tmp" <<EOF
{
  "sshHost": "127.0.0.1",
  "sshPort": $SSH_PORT,
  "user": "$USER_NAME",
  "identityFile": "$CLIENT_KEY",
  "hostKeyFile": "$HOST_KEY.pub",
  "dockerSocket": "$DOCKER_SOCK",
  "registry": "$REGISTRY",
  "appsDir": "$APPS_DIR",
  "nginx": {
    "binary": "$NGINX_BIN",
    "mainConfig": "$NGINX_CONF",
    "confDir": "$CONF_DIR",
    "accessLog": "$ACCESS_LOG",
    "errorLog": "$ERROR_LOG",
    "httpUrl": "http://127.0.0.1:$HTTP_PORT",
    "httpsUrl": "https://127.0.0.1:$HTTPS_PORT"
  },
  "containers": {
    "blue": { "name": "handdoc-spring-blue", "port": $BLUE_PORT, "composeFile": "docker-compose.spring-blue.yml", "composeProject": "handdoc-spring-blue" },
    "green": { "name": "handdoc-spring-green", "port": $GREEN_PORT, "composeFile": "docker-compose.spring-green.yml", "composeProject": "handdoc-spring-green" },
    "fastapi": { "name": "handdoc-fastapi", "port": $FASTAPI_PORT, "composeFile": "docker-compose.fastapi.yml", "composeProject": "handdoc-fastapi" }
  },
  "images": { "spring": "$REGISTRY/handdoc-spring", "fastapi": "$REGISTRY/handdoc-fastapi" }
}
EOF
  chmod 644 "$tmp"
  if cmp -s "$tmp" "$SANDBOX_DIR/sandbox.json"; then rm -f "$tmp"; else mv -f "$tmp" "$SANDBOX_DIR/sandbox.json"; fi
}

check_ssh() {
  ssh_user 'docker ps -q >/dev/null' 2>"$SANDBOX_TMP_LOG" ||
    die "ssh $USER_NAME@127.0.0.1 -p $SSH_PORT with $CLIENT_KEY cannot run 'docker ps': $(head -n1 "$SANDBOX_TMP_LOG"); see $SANDBOX_DIR/var/log/sshd.log"
}

# run one step of 'up'; SWITCHYARD_SANDBOX_TRACE=1 prints how long each took
step() {
  if [ "${SWITCHYARD_SANDBOX_TRACE:-}" = 1 ]; then
    local t=$EPOCHREALTIME; "$@"
    printf 'sandbox: [trace] %-36s %6.2fs\n' "$*" "$(echo "$EPOCHREALTIME - $t" | awk '{print $1 - $3}')"
  else
    "$@"
  fi
}

cmd_up() {
  local t0=$SECONDS
  check_env
  check_traversable
  SANDBOX_TMP_LOG=$(mktemp /tmp/switchyard-sandbox.XXXXXX.log)
  trap 'rm -f "$SANDBOX_TMP_LOG" "$SANDBOX_TMP_LOG".*' EXIT
  step install_packages
  step kill_orphans
  step check_ports
  # remains of a sandbox whose directory was removed by hand while it ran: clear them first
  if [ ! -e "$MARKER" ]; then
    step kill_strays
    if [ -d "$SANDBOX_DIR" ] && is_our_dir; then
      say "removing the remains of a previous sandbox in $SANDBOX_DIR"
      umount_all
      rm -rf --one-file-system "$SANDBOX_DIR" || die "could not remove the remains in $SANDBOX_DIR; see: grep $SANDBOX_DIR /proc/mounts"
    fi
  fi
  step make_dirs
  exec 9<"$SANDBOX_DIR"
  flock -w 600 9 || die "another 'sandbox.sh up/down' holds the lock on $SANDBOX_DIR"
  [ -e "$MARKER" ] || make_dirs     # a concurrent 'down' removed it while we waited
  step setup_user
  step setup_ssh
  step start_dockerd
  step start_registry
  step setup_nginx
  step setup_apps
  # fastapi first: its first health check comes one 30 s interval after start, so start the clock early
  step images_fastapi
  step start_container handdoc-fastapi
  step images_spring
  step start_container handdoc-spring-blue
  step start_container handdoc-spring-green
  step wait_healthy
  step check_ssh
  write_json
  say "up and healthy in $((SECONDS - t0))s: ssh -i $CLIENT_KEY -p $SSH_PORT $USER_NAME@127.0.0.1; live color $(live_color); http://127.0.0.1:$HTTP_PORT/api/whoami"
  say "described in $SANDBOX_DIR/sandbox.json"
}

# ---------------------------------------------------------------------------------------------
# status

cmd_status() {
  check_env
  local ok=0 pid h c line
  row() { # ok? name detail
    if [ "$1" = 0 ]; then printf 'sandbox: %-22s up    %s\n' "$2" "$3"; else printf 'sandbox: %-22s DOWN  %s\n' "$2" "$3"; ok=1; fi
  }
  if [ ! -e "$MARKER" ]; then
    echo "sandbox: not created ($SANDBOX_DIR missing); run: bash test/sandbox/sandbox.sh up"
    return 1
  fi
  if pid=$(live_pid "$RUN_DIR/sshd.pid") && port_listening "$SSH_PORT"; then
    row 0 sshd "127.0.0.1:$SSH_PORT (pid $pid)"
  else row 1 sshd "127.0.0.1:$SSH_PORT"; fi
  if id "$USER_NAME" >/dev/null 2>&1 && id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx docker; then
    row 0 "user $USER_NAME" "in group docker"
  else row 1 "user $USER_NAME" "missing or not in group docker"; fi
  if pid=$(live_pid "$RUN_DIR/docker.pid") && docker_ok; then
    row 0 dockerd "$DOCKER_SOCK (pid $pid)"
  else row 1 dockerd "$DOCKER_SOCK"; fi
  if pid=$(live_pid "$RUN_DIR/registry.pid") && registry_ok; then
    row 0 registry "http://$REGISTRY (pid $pid)"
  else row 1 registry "http://$REGISTRY"; fi
  if pid=$(live_pid "$RUN_DIR/nginx.pid") && nginx_ok &&
     curl -ksS -m 2 -o /dev/null "https://127.0.0.1:$HTTPS_PORT/nginx-health"; then
    row 0 nginx "http :$HTTP_PORT, https :$HTTPS_PORT (pid $pid)"
  else row 1 nginx "http :$HTTP_PORT, https :$HTTPS_PORT"; fi
  for c in "${CONTAINERS[@]}"; do
    h=missing
    docker_ok && h=$(container_health "$c")
    if [ "$h" = healthy ]; then row 0 "$c" "$h"; else row 1 "$c" "$h"; fi
  done
  local want got
  want=$(live_color); got=$(whoami_color || true)
  if [ -n "$got" ] && [ "$got" = "$want" ]; then
    row 0 "live color" "$got (active-upstream.conf -> /api/whoami)"
  else row 1 "live color" "active-upstream.conf says $want, /api/whoami says ${got:-nothing}"; fi
  [ -s "$SANDBOX_DIR/sandbox.json" ] && row 0 sandbox.json "$SANDBOX_DIR/sandbox.json" || row 1 sandbox.json "missing"
  if [ "$ok" = 0 ]; then say "all up"; else say "some components are down; run: bash test/sandbox/sandbox.sh up"; fi
  return $ok
}

# ---------------------------------------------------------------------------------------------
# down

descendants() { # pid -> all descendant pids
  local p=$1 kids k
  kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

ancestors() { # pid -> the pid and its ancestors
  local p=$1
  while [ -n "$p" ] && [ "$p" -gt 0 ] 2>/dev/null; do echo "$p"; p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true); done
}

# anything of ours still running (containerd, shims, strays of a crashed run or of a sandbox dir
# removed by hand): daemons whose command line names our directory, plus their children
umount_all() { # mounts under the sandbox (overlay2 layers, shm of containers)
  local m
  for m in $(awk -v d="$SANDBOX_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "could not unmount $m"
  done
}

kill_strays() {
  local left=() me=" $(ancestors $$ | tr '\n' ' ') " comm p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $me == *" $p "* ]] && continue
    comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
    case $comm in dockerd|containerd|containerd-shim*|runc|sshd|nginx|docker-registry|docker-proxy) ;; *) continue ;; esac
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$SANDBOX_DIR/" || continue
    left+=("$p" $(descendants "$p"))
  done
  if [ ${#left[@]} -gt 0 ]; then
    say "stopping leftover sandbox processes: ${left[*]}"
    kill -TERM "${left[@]}" 2>/dev/null || true; sleep 1; kill -KILL "${left[@]}" 2>/dev/null || true
  fi
  return 0
}

cmd_down() {
  check_env
  if [ ! -d "$SANDBOX_DIR" ]; then
    say "nothing to do: $SANDBOX_DIR does not exist"
    [ -e "$SUDOERS_FILE" ] && rm -f "$SUDOERS_FILE" && say "removed $SUDOERS_FILE"
    return 0
  fi
  is_our_dir || die "$SANDBOX_DIR was not made by this script (no $MARKER); not touching it"
  exec 9<"$SANDBOX_DIR"
  flock -w 600 9 || die "another 'sandbox.sh up/down' holds the lock on $SANDBOX_DIR"
  local pid p

  # containers first, while the engine is up (so their shims and mounts go away cleanly)
  if live_pid "$RUN_DIR/docker.pid" >/dev/null && docker_ok; then
    local ids; ids=$("$DOCKER" ps -aq)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      "$DOCKER" rm -f $ids >/dev/null 2>&1 || warn "could not remove some containers"
      say "removed $(echo "$ids" | wc -w) container(s)"
    fi
  fi
  if pid=$(live_pid "$RUN_DIR/docker.pid"); then stop_pid dockerd "$pid" 30; say "stopped dockerd"; fi
  if pid=$(live_pid "$RUN_DIR/nginx.pid"); then stop_pid nginx "$pid"; say "stopped nginx"; fi
  if pid=$(live_pid "$RUN_DIR/registry.pid"); then stop_pid registry "$pid"; say "stopped registry"; fi
  if pid=$(live_pid "$RUN_DIR/sshd.pid"); then
    local sessions; sessions=$(descendants "$pid")
    stop_pid sshd "$pid"
    for p in $sessions; do kill -TERM "$p" 2>/dev/null || true; done
    say "stopped sshd"
  fi
  local created_user=0
  if id "$USER_NAME" >/dev/null 2>&1; then
    if [ -e "$SANDBOX_DIR/created-user" ] || [ "$(getent passwd "$USER_NAME" | cut -d: -f5)" = "$USER_GECOS" ]; then
      created_user=1
    fi
  fi
  if [ "$created_user" = 1 ]; then
    for p in $(ps -o pid= -u "$USER_NAME" 2>/dev/null || true); do kill -TERM "$p" 2>/dev/null || true; done
  fi
  sleep 0.3
  kill_strays
  umount_all

  if [ "$created_user" = 1 ]; then
    for p in $(ps -o pid= -u "$USER_NAME" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null || true; done
    userdel -r "$USER_NAME" >/dev/null 2>&1 || userdel "$USER_NAME" || warn "could not remove user $USER_NAME"
    rm -rf --one-file-system "$USER_HOME"
    say "removed user $USER_NAME and $USER_HOME"
  elif id "$USER_NAME" >/dev/null 2>&1 && [ -s "$CLIENT_KEY.pub" ]; then
    # the user was there before us: only take our key out again
    local ak=$USER_HOME/.ssh/authorized_keys
    if [ -f "$ak" ]; then
      grep -vxF "$(cat "$CLIENT_KEY.pub")" "$ak" >"$ak.tmp" || true
      cat "$ak.tmp" >"$ak"; rm -f "$ak.tmp"
    fi
    say "user $USER_NAME existed before the sandbox: kept it (removed the sandbox key; $APPS_DIR left in place)"
  fi
  if [ -e "$SANDBOX_DIR/created-group" ] && getent group docker >/dev/null; then
    groupdel docker 2>/dev/null && say "removed group docker" || true
  fi
  rm -f "$SUDOERS_FILE"
  rm -rf --one-file-system "$SANDBOX_DIR" || die "could not remove $SANDBOX_DIR (still mounted? see: grep $SANDBOX_DIR /proc/mounts)"
  say "removed $SANDBOX_DIR and $SUDOERS_FILE; sandbox is down"
}

[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0   # sourced (debugging): define functions only
CMD=${1:-}
case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: bash $0 up|down|status   (SWITCHYARD_SANDBOX_DIR, SWITCHYARD_SSH_PORT, SWITCHYARD_REGISTRY_PORT, SWITCHYARD_HTTP_PORT, SWITCHYARD_HTTPS_PORT)" >&2; exit 2 ;;
esac
