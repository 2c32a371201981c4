#!/usr/bin/env bash
# Serve Carebridge the one way it is served, by `make run`, the Docker image and the tests:
# nginx in front (TLS 1.2+ with AEAD suites, slow clients held cheaply, only complete
# requests passed on; deploy/nginx.conf) and gunicorn behind it on a unix socket.
#
#   scripts/serve.sh [WSGI_APP [GUNICORN_ARGS...]]     (default portal.wsgi:application)
#
# gunicorn runs in the foreground with this script's pid (exec). nginx stops when gunicorn
# does, and gunicorn is stopped when nginx dies, so neither serves alone.
#
# Environment: PORTAL_LISTEN (default 127.0.0.1:$PORT, PORT 8443), PORTAL_TLS_CERT and
# PORTAL_TLS_KEY (default var/tls/*.pem), PORTAL_RUN_DIR (default $PORTAL_VAR_DIR/run: the
# socket, the rendered nginx.conf, nginx's pid and buffers), PORTAL_FRONT_CONN_PER_CLIENT
# (100), PORTAL_TRUSTED_PROXY_COUNT (1: nginx; more if a load balancer sits in front),
# PYTHON (default .venv/bin/python, else python3) and gunicorn's own GUNICORN_* settings.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

app=${1:-portal.wsgi:application}
(($# == 0)) || shift

var=${PORTAL_VAR_DIR:-$ROOT/var}
run=${PORTAL_RUN_DIR:-$var/run}
listen=${PORTAL_LISTEN:-127.0.0.1:${PORT:-8443}}
cert=${PORTAL_TLS_CERT:-$var/tls/cert.pem}
key=${PORTAL_TLS_KEY:-$var/tls/key.pem}
nginx=$(command -v nginx || echo /usr/sbin/nginx)

mkdir -p "$run/nginx"
run=$(cd "$run" && pwd)
socket=$run/gunicorn.sock
if ((${#socket} > 100)); then
    # A unix socket's path has at most 107 bytes.
    socket=$(mktemp -d /tmp/carebridge-sock.XXXXXX)/gunicorn.sock
fi
rm -f "$socket"

# Only the application's own requests reach gunicorn, all through nginx, which appends
# the client's address to X-Forwarded-For.
export PORTAL_TRUSTED_PROXY_COUNT=${PORTAL_TRUSTED_PROXY_COUNT:-1}
if ((PORTAL_TRUSTED_PROXY_COUNT < 1)); then
    echo "serve.sh: PORTAL_TRUSTED_PROXY_COUNT must be 1 or more behind nginx" >&2
    exit 2
fi

# As root (a development machine or CI), nginx's workers run as the same user as gunicorn;
# the image runs both unprivileged, where nginx ignores (and warns about) a user line.
user_line=""
((EUID != 0)) || user_line="user root;"
conf=$run/nginx.conf
sed -e "s|@USER@|$user_line|" \
    -e "s|@RUN@|$run|g" \
    -e "s|@LISTEN@|$listen|g" \
    -e "s|@CERT@|$cert|g" \
    -e "s|@KEY@|$key|g" \
    -e "s|@SOCKET@|$socket|g" \
    -e "s|@CONN_PER_CLIENT@|${PORTAL_FRONT_CONN_PER_CLIENT:-100}|g" \
    "$ROOT/deploy/nginx.conf" >"$conf"
"$nginx" -t -q -p "$run/nginx/" -c "$conf" -e stderr

main=$$
(
    # Not a daemon: nginx stays in this process group, so a group kill ends it too.
    "$nginx" -p "$run/nginx/" -c "$conf" -e stderr -g "daemon off;" </dev/null &
    front=$!
    while kill -0 "$main" 2>/dev/null && kill -0 "$front" 2>/dev/null; do sleep 0.5; done
    if kill -0 "$front" 2>/dev/null; then
        kill -QUIT "$front" 2>/dev/null # gunicorn ended: let nginx finish what it holds
    else
        echo "serve.sh: nginx exited; stopping gunicorn" >&2
        kill -TERM "$main" 2>/dev/null || true
    fi
    wait "$front" 2>/dev/null || true
) &

python=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $python ]] || python=python3
cd "$ROOT"
exec "$python" -m gunicorn "$app" -c "$ROOT/gunicorn.conf.py" --bind "unix:$socket" "$@"
