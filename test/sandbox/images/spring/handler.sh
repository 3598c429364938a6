#!/bin/sh
# One HTTP/1.0 exchange per connection; stdin/stdout are the socket (nc -e).
CR=$(printf '\r')
IFS= read -r -t 10 line || exit 0
line=${line%"$CR"}
method=${line%% *}; rest=${line#* }; target=${rest%% *}
clen=0
while IFS= read -r -t 10 h; do
  h=${h%"$CR"}
  [ -z "$h" ] && break
  case $h in [Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]:*) clen=${h#*:}; clen=${clen# };; esac
done
case $clen in ''|*[!0-9]*) clen=0;; esac
[ "$clen" -gt 0 ] && head -c "$clen" >/dev/null
path=${target%%\?*}

respond() { # status body
  if [ "$method" = HEAD ]; then b=; else b=$2; fi
  printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "${#2}" "$b"
  echo "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)  INFO 1 --- [nio-$PORT-exec] c.h.api.RequestLog : $method $target ${1%% *}" >&2
}

case $path in
  /actuator/health|/actuator/health/*)
    if [ -e /app/BROKEN ] || [ "$FAIL_HEALTH" = 1 ]; then
      respond "500 Internal Server Error" '{"status":"DOWN"}'
    else
      respond "200 OK" '{"status":"UP"}'
    fi ;;
  /|/api|/api/*)
    respond "200 OK" "{\"app\":\"spring\",\"color\":\"$COLOR\",\"version\":\"$VERSION\"}" ;;
  *)
    safe=$(printf %s "$path" | tr -cd 'A-Za-z0-9/._~-')
    respond "404 Not Found" "{\"status\":404,\"error\":\"Not Found\",\"path\":\"$safe\"}" ;;
esac
