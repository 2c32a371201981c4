#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, under var/pgdata.
#
#   scripts/pg-local.sh start|stop|status
#
# TCP on 127.0.0.1:$PGPORT (default 54329, clear of a system server on 5432), no unix
# socket, scram-sha-256. Two roles, each with a random password under var/:
# - "carebridge", the cluster's superuser (var/pg_password), for administration only;
# - "portal", what Django uses (var/pg_app_password): LOGIN and CREATEDB, no
#   SUPERUSER, owner of database "portal", as on a managed database service.
# `start` writes var/database_url (the portal role's) for Django.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=$ROOT/var
LINK=$VAR/pgdata
LOG=$VAR/log/postgres.log
PASSWORD_FILE=$VAR/pg_password
URL_FILE=$VAR/database_url
PGPORT=${PGPORT:-54329}
DB_USER=carebridge
APP_PASSWORD_FILE=$VAR/pg_app_password
APP_USER=portal
APP_DB=portal

die() {
    echo "pg-local: $*" >&2
    exit 1
}

find_bindir() {
    local initdb
    if initdb=$(command -v initdb 2>/dev/null); then
        dirname "$(readlink -f "$initdb")"
    elif initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1); then
        dirname "$initdb"
    fi
}
BIN=$(find_bindir)

# initdb and pg_ctl refuse to run as root, so root runs the cluster as another user.
if ((EUID != 0)); then
    OS_USER=$(id -un)
elif id postgres >/dev/null 2>&1; then
    OS_USER=postgres
else
    OS_USER=carebridge-pg
fi

ensure_os_user() {
    if ! id "$OS_USER" >/dev/null 2>&1; then
        echo "Creating system user $OS_USER to run PostgreSQL"
        useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$OS_USER"
    fi
}

as_pg() {
    # cd /: the PostgreSQL tools fail when they cannot read their working directory.
    # C.UTF-8 exists everywhere; the caller's locale may not be installed.
    if ((EUID == 0)); then
        (cd / && LC_ALL=C.UTF-8 runuser -u "$OS_USER" -- "$@")
    else
        (cd / && LC_ALL=C.UTF-8 "$@")
    fi
}

# The real data directory. When the cluster's user cannot traverse the checkout (say it
# is under /root), the data lives under /var/lib/carebridge-dev and var/pgdata links there.
data_dir() {
    if [[ -L $LINK || -d $LINK ]]; then
        readlink -m "$LINK"
    elif as_pg test -x "$VAR"; then
        echo "$LINK"
    else
        echo "/var/lib/carebridge-dev/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)/pgdata"
    fi
}

is_running() {
    [[ -n $BIN && -f $DATA/PG_VERSION ]] && as_pg "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

running_port() {
    sed -n 4p "$DATA/postmaster.pid" 2>/dev/null
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

new_secret() {
    # 24 random bytes give 32 base64 characters without padding; -_ keep it URL-safe.
    head -c 24 /dev/urandom | base64 | tr '+/' '-_'
}

write_private() {
    # write_private FILE CONTENT: create or replace FILE with mode 0600.
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    chmod 0600 "$tmp"
    printf '%s' "$2" >"$tmp"
    mv -f "$tmp" "$1"
}

show_log() {
    echo "--- last lines of $LOG ---" >&2
    tail -n 25 "$LOG" >&2 || true
}

init_cluster() {
    local pwdir
    echo "Creating PostgreSQL cluster in $DATA"
    if [[ $DATA != "$LINK" ]]; then
        mkdir -p "$(dirname "$DATA")"
        chmod 0755 /var/lib/carebridge-dev 2>/dev/null || true
        chown "$OS_USER:" "$(dirname "$DATA")"
        chmod 0700 "$(dirname "$DATA")"
        ln -sfn "$DATA" "$LINK"
    fi
    mkdir -p "$DATA"
    chmod 0700 "$DATA"
    if ((EUID == 0)); then chown "$OS_USER:" "$DATA"; fi
    # initdb reads the password from a file its user can read; remove it right after.
    pwdir=$(mktemp -d)
    cp "$PASSWORD_FILE" "$pwdir/pw"
    if ((EUID == 0)); then chown -R "$OS_USER:" "$pwdir"; fi
    if ! as_pg "$BIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pwdir/pw" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >>"$LOG" 2>&1; then
        rm -rf "$pwdir"
        show_log
        die "initdb failed"
    fi
    rm -rf "$pwdir"
    cat >>"$DATA/postgresql.conf" <<'EOF'

# Carebridge development cluster (scripts/pg-local.sh); the port is given at start.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
EOF
}

reset_password() {
    # The password file was lost: set a new one in single-user mode (server stopped).
    echo "var/pg_password is missing; setting a new password for $DB_USER"
    write_private "$PASSWORD_FILE" "$(new_secret)"
    printf "ALTER ROLE %s PASSWORD '%s';\n" "$DB_USER" "$(cat "$PASSWORD_FILE")" |
        as_pg "$BIN/postgres" --single -D "$DATA" -c unix_socket_directories= postgres >>"$LOG" 2>&1 ||
        {
            show_log
            die "could not reset the password"
        }
}

psql_admin() {
    PGPASSWORD=$(cat "$PASSWORD_FILE") "$BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$1" -U "$DB_USER" -d postgres "${@:2}"
}

start() {
    local port
    if [[ $DATA != "$LINK" && ! -L $LINK && -e $DATA ]]; then
        # var/ was deleted, and with it the link and the password: start over.
        echo "Removing the cluster of a deleted var/ in $DATA"
        if is_running; then as_pg "$BIN/pg_ctl" stop -w -m fast -D "$DATA" >/dev/null; fi
        rm -rf "$DATA"
    fi
    if is_running; then
        port=$(running_port)
        echo "PostgreSQL is already running on 127.0.0.1:$port ($LINK)"
        [[ $port == "$PGPORT" ]] || echo "  (PGPORT=$PGPORT ignored: make stop first to change the port)"
    else
        if port_in_use "$PGPORT"; then
            die "port $PGPORT on 127.0.0.1 is in use by another program; stop it or set PGPORT to a free port"
        fi
        if ((EUID == 0)) && [[ -d $DATA && $(stat -c %U "$DATA") != "$OS_USER" ]]; then
            chown -R "$OS_USER:" "$DATA"
        fi
        [[ -s $PASSWORD_FILE || -f $DATA/PG_VERSION ]] || write_private "$PASSWORD_FILE" "$(new_secret)"
        [[ -f $DATA/PG_VERSION ]] || init_cluster
        [[ -s $PASSWORD_FILE ]] || reset_password
        echo "Starting PostgreSQL on 127.0.0.1:$PGPORT (log: var/log/postgres.log)"
        # The server keeps pg_ctl's output, so the log file is opened here (the cluster's
        # user may not be able to open var/log itself).
        if ! as_pg "$BIN/pg_ctl" start -w -t 60 -D "$DATA" -o "-p $PGPORT" >>"$LOG" 2>&1; then
            show_log
            die "PostgreSQL did not start"
        fi
        port=$PGPORT
    fi
    [[ -s $PASSWORD_FILE ]] || die "$PASSWORD_FILE is missing; run scripts/pg-local.sh stop, then start"
    app_role "$port"
    write_private "$URL_FILE" \
        "postgres://$APP_USER:$(cat "$APP_PASSWORD_FILE")@127.0.0.1:$port/$APP_DB"
}

app_role() {
    # The role Django uses: not a superuser, so the suite and `make run` meet the limits
    # of a managed database (the append-only triggers, no ALTER SYSTEM, no replication role).
    local port=$1
    [[ -s $APP_PASSWORD_FILE ]] || write_private "$APP_PASSWORD_FILE" "$(new_secret)"
    local exists
    exists=$(psql_admin "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER'")
    local verb=ALTER
    [[ -n $exists ]] || {
        echo "Creating role $APP_USER (LOGIN CREATEDB, not a superuser)"
        verb=CREATE
    }
    # The password comes from our own random file (URL-safe base64): nothing to quote.
    psql_admin "$port" -c "$verb ROLE $APP_USER LOGIN CREATEDB NOSUPERUSER NOCREATEROLE \
        NOREPLICATION NOBYPASSRLS PASSWORD '$(cat "$APP_PASSWORD_FILE")'"
    if [[ -z $(psql_admin "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$APP_DB'") ]]; then
        echo "Creating database $APP_DB owned by $APP_USER"
        psql_admin "$port" -c "CREATE DATABASE $APP_DB OWNER $APP_USER"
    fi
}

stop() {
    if is_running; then
        echo "Stopping PostgreSQL ($LINK)"
        as_pg "$BIN/pg_ctl" stop -w -t 60 -m fast -D "$DATA"
    else
        echo "PostgreSQL ($LINK) is not running"
    fi
}

status() {
    if is_running; then
        echo "PostgreSQL is running on 127.0.0.1:$(running_port) (data: $DATA)"
    else
        echo "PostgreSQL ($LINK) is not running"
        return 3
    fi
}

mkdir -p "$VAR/log"
chmod 0755 "$VAR"

case "${1:-}" in
    start)
        [[ -n $BIN ]] || die "initdb not found; install PostgreSQL (scripts/system-deps.sh --postgres)"
        ensure_os_user
        ;;
    stop | status) ;;
    *) die "usage: $0 start|stop|status" ;;
esac
DATA=$(data_dir)

case "$1" in
    start) start ;;
    stop) stop ;;
    status) status ;;
esac
