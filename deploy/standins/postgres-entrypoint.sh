#!/bin/sh
# The stand-in PostgreSQL's start: on an empty $PGDATA, a cluster owned by $POSTGRES_USER with
# $POSTGRES_PASSWORD, the database $POSTGRES_DB, and password (SCRAM) logins from the network;
# then the server in the foreground as the postgres user, on every interface of the container.
set -eu
: "${POSTGRES_PASSWORD:?the stand-in postgres needs POSTGRES_PASSWORD}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pw=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
    chown postgres "$pw"
    # UTF-8, as upstream's (en_US.utf8) is: psycopg returns bytes from an SQL_ASCII database.
    as_pg initdb -D "$PGDATA" -U "$user" --pwfile="$pw" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        as_pg psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q \
            -c "CREATE DATABASE \"$db\" OWNER \"$user\""
        as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
fi
[ "$1" = postgres ] && shift
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" \
    -c listen_addresses='*' "$@"
