#!/bin/sh
# One HTTP exchange per connection; stdin/stdout are the socket (nc -e).
CR=$(printf '\r')
IFS= read -r -t 10 line || exit 0
line=${line%"$CR"}
method=${line%% *}; rest=${line#* }; target=${rest%% *}
clen=0; wskey=; upgrade=
while IFS= read -r -t 10 h; do
  h=${h%"$CR"}
  [ -z "$h" ] && break
  v=${h#*:}; v=${v# }
  case $h in
    [Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]:*) clen=$v ;;
    [Ss][Ee][Cc]-[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]-[Kk][Ee][Yy]:*) wskey=$v ;;
    [Uu][Pp][Gg][Rr][Aa][Dd][Ee]:*) upgrade=$v ;;
  esac
done
case $clen in ''|*[!0-9]*) clen=0;; esac
[ "$clen" -gt 0 ] && head -c "$clen" >/dev/null
path=${target%%\?*}

access() { echo "$(date -u +%Y-%m-%dT%H:%M:%S) INFO:     127.0.0.1 - \"$method $target HTTP/1.1\" $1" >&2; }
respond() { # status body
  if [ "$method" = HEAD ]; then b=; else b=$2; fi
  printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "${#2}" "$b"
  access "$1"
}
loaded() { [ -e "$READY" ] && echo true || echo false; }

case $path in
  /health|/fastapi/health)
    # like the real server: the request is accepted but only answered once the models are in
    while [ ! -e "$READY" ]; do sleep 0.2; done
    respond "200 OK" '{"status":"ok"}' ;;
  /fastapi/ws|/ws)
    if [ -z "$wskey" ]; then respond "400 Bad Request" '{"detail":"WebSocket upgrade expected"}'; exit 0; fi
    hex=$(printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' "$wskey" | sha1sum | cut -c1-40)
    accept=$(printf "$(echo "$hex" | sed 's/../\\x&/g')" | base64)
    printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$accept"
    access "101 Switching Protocols"
    msg="{\"type\":\"hello\",\"app\":\"fastapi\",\"models_loaded\":$(loaded)}"
    printf "\\201\\$(printf %o ${#msg})%s" "$msg"
    cat >/dev/null   # keep the socket open until the client goes away
    ;;
  /|/fastapi|/fastapi/*)
    respond "200 OK" "{\"app\":\"fastapi\",\"version\":\"$VERSION\",\"models_loaded\":$(loaded)}" ;;
  *)
    respond "404 Not Found" '{"detail":"Not Found"}' ;;
esac
