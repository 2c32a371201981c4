#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, under var/pgdata, with its WAL
# archived by pgBackRest under var/pgbackrest for point-in-time recovery.
#
#   scripts/pg-local.sh start|stop|status
#   scripts/pg-local.sh backup [full|diff|incr]          a pgBackRest backup (PITR's base)
#   scripts/pg-local.sh pitr 'YYYY-MM-DD HH:MM:SS+00'    stop, restore to that time, start
#   scripts/pg-local.sh info                             pgBackRest's backups and WAL range
#
# TCP on 127.0.0.1:$PGPORT (default 54329, clear of a system server on 5432), scram-sha-256.
# Two roles, each with a random password under var/:
# - "carebridge", the cluster's superuser (var/pg_password), for administration only;
# - "portal", what Django uses (var/pg_app_password): LOGIN and CREATEDB, no
#   SUPERUSER, owner of database "portal", as on a managed database service.
# `start` writes var/database_url (the portal role's) for Django. A unix socket in
# var/pgbackrest/socket (peer auth for the cluster's OS user only) is there for
# pgBackRest, which cannot use TCP. WAL archiving (archive_mode) takes effect when the
# cluster starts; a running cluster is never restarted for it. PG_LOCAL_VAR puts
# everything in another directory (the PITR test's throwaway cluster).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=${PG_LOCAL_VAR:-$ROOT/var}
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
        local key=$VAR
        [[ $VAR != "$ROOT/var" ]] || key=$ROOT
        echo "/var/lib/carebridge-dev/$(printf '%s' "$key" | sha256sum | cut -c1-12)/pgdata"
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

have_pgbackrest() {
    command -v pgbackrest >/dev/null 2>&1
}

pgbr() {
    as_pg pgbackrest --config="$PGBR/pgbackrest.conf" --stanza=carebridge "$@"
}

as_pg_write() {
    # as_pg_write FILE: stdin to FILE, written as the cluster's user (it owns the data dir).
    as_pg tee "$1" >/dev/null
}

configure_archiving() {
    # Before the server starts: pgBackRest's configuration, and the server's archive
    # settings in an include file, so that `start` turns archiving on (or keeps it on).
    if ! have_pgbackrest; then
        echo "pgbackrest is not installed: WAL archiving stays off (scripts/system-deps.sh --postgres)"
        return
    fi
    mkdir -p "$PGBR"/{repo,log,lock,spool} "$SOCKET_DIR"
    if ((EUID == 0)); then chown -R "$OS_USER:" "$PGBR" "$SOCKET_DIR"; fi
    chmod 0700 "$PGBR" "$SOCKET_DIR"
    as_pg_write "$PGBR/pgbackrest.conf" <<CONF
# Written by scripts/pg-local.sh at each start; edits are lost.
[global]
repo1-path=$PGBR/repo
repo1-retention-full=2
log-path=$PGBR/log
lock-path=$PGBR/lock
spool-path=$PGBR/spool
log-level-console=warn
log-level-file=info
start-fast=y
# lz4: cheap on CPU, and a segment switched by archive_timeout is mostly empty.
compress-type=lz4

[carebridge]
pg1-path=$DATA
pg1-port=$PGPORT
pg1-socket-path=$SOCKET_DIR
pg1-user=$DB_USER
CONF
    as_pg_write "$DATA/carebridge-archive.conf" <<CONF
# Written by scripts/pg-local.sh: WAL archiving with pgBackRest (point-in-time recovery).
archive_mode = on
archive_command = 'pgbackrest --config=$PGBR/pgbackrest.conf --stanza=carebridge archive-push %p'
archive_timeout = 60
unix_socket_directories = '$SOCKET_DIR'
CONF
    if ! grep -q "^include_if_exists = 'carebridge-archive.conf'" "$DATA/postgresql.conf"; then
        printf "\ninclude_if_exists = 'carebridge-archive.conf'\n" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
    fi
    if ! grep -q "map=carebridge-pgbackrest" "$DATA/pg_hba.conf"; then
        # First match wins: the cluster's OS user reaches the socket as $DB_USER without
        # a password; everything else is as before (scram over TCP).
        { echo "local all $DB_USER peer map=carebridge-pgbackrest"; cat "$DATA/pg_hba.conf"; } |
            as_pg_write "$DATA/pg_hba.conf.new"
        as_pg mv -f "$DATA/pg_hba.conf.new" "$DATA/pg_hba.conf"
    fi
    if ! grep -q "^carebridge-pgbackrest " "$DATA/pg_ident.conf"; then
        echo "carebridge-pgbackrest $OS_USER $DB_USER" | as_pg tee -a "$DATA/pg_ident.conf" >/dev/null
    fi
}

ensure_stanza() {
    have_pgbackrest && [[ -f $PGBR/pgbackrest.conf ]] || return 0
    if [[ $(psql_admin "$1" -tAc "SHOW archive_mode") != on ]]; then
        echo "WAL archiving is off in the running cluster; it starts with the next restart"
        return 0
    fi
    if [[ ! -f $PGBR/repo/backup/carebridge/backup.info ]]; then
        echo "Creating the pgBackRest stanza in $PGBR/repo"
        pgbr stanza-create --pg1-port="$1" >>"$LOG" 2>&1 || {
            show_log
            echo "pg-local: pgbackrest stanza-create failed, WAL is not archived (see $PGBR/log)" >&2
            return 0
        }
    fi
    # PITR needs a base backup, and WAL older than the oldest kept full backup is only
    # expired when a backup runs: one full backup a week keeps var/pgbackrest bounded.
    if [[ -z $(find "$PGBR/repo/backup/carebridge" -maxdepth 1 -name '*F' -mtime -7 2>/dev/null) ]]; then
        echo "Taking the weekly pgBackRest full backup (base of point-in-time recovery)"
        pgbr backup --type=full --pg1-port="$1" >>"$LOG" 2>&1 || echo "pgbackrest backup failed (see $PGBR/log)"
    fi
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
        configure_archiving
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
    ensure_stanza "$port"
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

backup() {
    local type=${1:-full}
    is_running || die "PostgreSQL is not running; start it first"
    have_pgbackrest || die "pgbackrest is not installed (scripts/system-deps.sh --postgres)"
    ensure_stanza "$(running_port)"
    echo "pgBackRest $type backup of $DATA into $PGBR/repo"
    pgbr backup --type="$type" --pg1-port="$(running_port)"
}

pitr() {
    local target=${1:-} port
    [[ -n $target ]] || die "usage: $0 pitr 'YYYY-MM-DD HH:MM:SS+00' (the time to go back to)"
    have_pgbackrest || die "pgbackrest is not installed (scripts/system-deps.sh --postgres)"
    port=$PGPORT
    if is_running; then
        port=$(running_port)
        # Push the WAL written up to now into the repository (switches to a new segment).
        pgbr check --pg1-port="$port" >>"$LOG" 2>&1 ||
            echo "pgbackrest check failed; restoring from what was archived"
        as_pg "$BIN/pg_ctl" stop -w -t 60 -m fast -D "$DATA" >>"$LOG" 2>&1
    fi
    echo "Restoring $DATA to $target with pgBackRest"
    pgbr restore --delta --type=time --target="$target" --target-action=promote >>"$LOG" 2>&1 || {
        show_log
        die "pgbackrest restore failed (see $PGBR/log)"
    }
    if ! as_pg "$BIN/pg_ctl" start -w -t 120 -D "$DATA" -o "-p $port" >>"$LOG" 2>&1; then
        show_log
        die "PostgreSQL did not start after the restore"
    fi
    # A hot standby accepts connections while it still replays WAL: wait for the promotion.
    for _ in $(seq 1 240); do
        if [[ $(psql_admin "$port" -tAc "SELECT pg_is_in_recovery()") == f ]]; then
            echo "Recovered to $target; the cluster is on a new timeline. Take a new backup: $0 backup"
            return 0
        fi
        sleep 0.5
    done
    die "recovery did not finish within 2 minutes (see $LOG)"
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
    stop | status | backup | pitr | info) ;;
    *) die "usage: $0 start|stop|status|backup [full|diff|incr]|pitr TIME|info" ;;
esac
DATA=$(data_dir)
# pgBackRest's configuration, repository, logs and socket, beside the data directory
# (var/pgbackrest), where the cluster's OS user can write.
PGBR=$(dirname "$DATA")/pgbackrest
# A unix socket path may not exceed 107 bytes, or the server does not start: a deep
# checkout gets its socket directory under /tmp instead.
SOCKET_DIR=$PGBR/socket
if ((${#SOCKET_DIR} > 80)); then
    SOCKET_DIR=/tmp/.carebridge-pg-$(printf '%s' "$DATA" | sha256sum | cut -c1-12)
fi

case "$1" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    backup) backup "${2:-full}" ;;
    pitr) pitr "${2:-}" ;;
    info) pgbr info ;;
esac
