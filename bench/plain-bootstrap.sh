#!/usr/bin/env bash
# The floor for `pgha local up`: the same PostgreSQL/repmgr/barman commands, back to back, by hand.
# Usage (as root): bench/plain-bootstrap.sh up DIR BASE_PREFIX   (e.g. 127.0.5 -> nodes .11 .12 .13)
#                  bench/plain-bootstrap.sh down DIR
set -euo pipefail
cmd=$1 dir=$2
BIN=/usr/lib/postgresql/15/bin
asp() { runuser -u postgres -- env PGPASSFILE="$dir/pgpass" "$@"; }
asb() { runuser -u barman -- env PGPASSFILE="$dir/barman/pgpass" "$@"; }

if [ "$cmd" = down ]; then
  for n in 1 2 3; do
    [ -f "$dir/repmgrd$n.pid" ] && kill "$(cat "$dir/repmgrd$n.pid")" 2>/dev/null || true
    [ -f "$dir/data$n/postmaster.pid" ] && kill -INT "$(head -1 "$dir/data$n/postmaster.pid")" 2>/dev/null || true
  done
  [ -f "$dir/barman/home/.pgha-receive-wal.lock" ] || true
  asb barman -c "$dir/barman/barman.conf" receive-wal --stop pgha >/dev/null 2>&1 || true
  sleep 1
  exit 0
fi

prefix=$3
mkdir -p "$dir" && chmod 755 "$dir"
chown postgres: "$dir"
ip() { echo "$prefix.$((10 + $1))"; }
cat > "$dir/pgpass" <<P
*:*:*:repmgr:iamrepmgr
*:*:*:repmgr_streaming:iamstreamingrepmgr
P
chown postgres: "$dir/pgpass"; chmod 600 "$dir/pgpass"

conf() { # node replication?
  local n=$1
  cat > "$dir/data$n/extra.conf" <<C
listen_addresses = '$(ip $n)'
port = 5432
unix_socket_directories = '$dir/run$n'
C
  if [ "$2" = yes ]; then cat >> "$dir/data$n/extra.conf" <<C
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
shared_preload_libraries = 'repmgr'
archive_mode = on
archive_command = '/bin/true'
C
  fi
  grep -q extra.conf "$dir/data$n/postgresql.conf" || echo "include_if_exists = 'extra.conf'" >> "$dir/data$n/postgresql.conf"
  cat > "$dir/data$n/pg_hba.conf" <<H
local all postgres peer
local all all scram-sha-256
host all all 127.0.0.0/8 scram-sha-256
host replication all 127.0.0.0/8 scram-sha-256
H
  chown postgres: "$dir/data$n/extra.conf" "$dir/data$n/pg_hba.conf"
}
repconf() {
  local n=$1
  cat > "$dir/repmgr$n.conf" <<R
node_id=$n
node_name='node$n'
conninfo='host=$(ip $n) port=${2:-5432} user=repmgr dbname=repmgr connect_timeout=2 passfile=$dir/pgpass'
data_directory='$dir/data$n'
pg_bindir='$BIN'
replication_user='repmgr_streaming'
passfile='$dir/pgpass'
use_replication_slots=yes
log_file='$dir/repmgrd$n.log'
repmgrd_pid_file='$dir/repmgrd$n.pid'
failover='manual'
R
  chown postgres: "$dir/repmgr$n.conf"
}

# primary: the seed's steps
mkdir -p "$dir/run1" && chown postgres: "$dir/run1"
asp $BIN/initdb -D "$dir/data1" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
conf 1 no
asp $BIN/pg_ctl -D "$dir/data1" -l "$dir/pg1.log" -w -o "-p 5434" start >/dev/null
conf 1 yes
asp $BIN/pg_ctl -D "$dir/data1" -l "$dir/pg1.log" -w -m fast stop >/dev/null
asp $BIN/pg_ctl -D "$dir/data1" -l "$dir/pg1.log" -w -o "-p 5434" start >/dev/null
asp psql -h "$dir/run1" -p 5434 -U postgres -q -v ON_ERROR_STOP=1 <<S
SET password_encryption = 'scram-sha-256';
CREATE ROLE repmgr LOGIN SUPERUSER PASSWORD 'iamrepmgr';
CREATE ROLE repmgr_streaming LOGIN REPLICATION PASSWORD 'iamstreamingrepmgr';
CREATE ROLE barman LOGIN SUPERUSER PASSWORD 'iambarman';
CREATE ROLE barman_streaming LOGIN REPLICATION PASSWORD 'iamstreamingbarman';
CREATE DATABASE repmgr OWNER repmgr;
S
repconf 1 5434
asp repmgr -f "$dir/repmgr1.conf" primary register >/dev/null 2>&1
repconf 1
asp psql -h "$dir/run1" -p 5434 -U postgres -d repmgr -q -c "UPDATE repmgr.nodes SET conninfo = 'host=$(ip 1) port=5432 user=repmgr dbname=repmgr connect_timeout=2 passfile=$dir/pgpass' WHERE node_id = 1"
mkdir -p "$dir/barman/home" "$dir/barman/conf.d"
cat > "$dir/barman/pgpass" <<P
*:*:*:barman:iambarman
*:*:*:barman_streaming:iamstreamingbarman
P
cat > "$dir/barman/barman.conf" <<B
[barman]
barman_user = barman
configuration_files_directory = $dir/barman/conf.d
barman_home = $dir/barman/home
log_file = $dir/barman/barman.log
compression = gzip
B
base="host=$(ip 1) port=5432 connect_timeout=5 passfile=$dir/barman/pgpass"
cat > "$dir/barman/conf.d/pgha.conf" <<B
[pgha]
conninfo = $base user=barman dbname=postgres
streaming_conninfo = $base user=barman_streaming
backup_method = postgres
immediate_checkpoint = true
streaming_archiver = on
slot_name = barman
create_slot = auto
path_prefix = $BIN
retention_policy = RECOVERY WINDOW OF 5 DAYS
B
chown -R barman: "$dir/barman"; chmod 600 "$dir/barman/pgpass"
asp $BIN/pg_ctl -D "$dir/data1" -l "$dir/pg1.log" -w -m fast stop >/dev/null
asp $BIN/pg_ctl -D "$dir/data1" -l "$dir/pg1.log" -w start >/dev/null
asp repmgrd -f "$dir/repmgr1.conf" --daemonize >/dev/null 2>&1
# standbys, one after the other
for n in 2 3; do
  mkdir -p "$dir/run$n" && chown postgres: "$dir/run$n"
  repconf $n
  asp repmgr -h "$(ip 1)" -p 5432 -U repmgr -d repmgr -f "$dir/repmgr$n.conf" standby clone --fast-checkpoint >/dev/null 2>&1
  conf $n yes
  asp $BIN/pg_ctl -D "$dir/data$n" -l "$dir/pg$n.log" -w start >/dev/null
  asp repmgr -f "$dir/repmgr$n.conf" standby register >/dev/null 2>&1
  asp repmgrd -f "$dir/repmgr$n.conf" --daemonize >/dev/null 2>&1
done
# barman: WAL streaming, one WAL archived, first backup
asb barman -c "$dir/barman/barman.conf" cron >/dev/null 2>&1
# as pgha does: switch only once pg_receivewal streams (a .partial file), else the switched WAL is never received
for _ in $(seq 75); do ls "$dir/barman/home/pgha/streaming/"*.partial >/dev/null 2>&1 && break; sleep 0.2; done
until asb barman -c "$dir/barman/barman.conf" switch-wal --force --archive --archive-timeout 30 pgha >/dev/null 2>&1; do
  asb barman -c "$dir/barman/barman.conf" cron >/dev/null 2>&1; sleep 1
done
asb barman -c "$dir/barman/barman.conf" backup --wait pgha >/dev/null
