#!/usr/bin/env bash
# Bring up the local services ValueGraph needs on a bare Debian 12 (bookworm) machine without systemd:
#   * PostgreSQL 15 (cluster "15 main") on 127.0.0.1:$PGPORT with the pgvector extension available
#   * Redis on 127.0.0.1:$REDIS_PORT with maxmemory-policy noeviction (BullMQ requires it)
#   * Debian's chromium at /usr/bin/chromium (the dashboard's headless browser test)
#
# Idempotent: when everything is already installed and running it only checks, which takes well under a
# second or two. Installing needs root; only the Debian apt repositories and the npm registry are reachable,
# and Debian 12 ships no pgvector package, so pgvector is built from Debian trixie's *source* package
# (a temporary deb-src entry that is always removed again).
#
# Progress goes to stderr. stdout carries exactly two lines meant for eval:
#   eval "$(bash scripts/services.sh)"
#
# Env overrides: PGPORT (default 5432), REDIS_PORT (default 6379), VG_DB_NAME (default valuegraph).
set -euo pipefail

PG_VERSION=15
PG_CLUSTER=main
PGPORT="${PGPORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
VG_DB_NAME="${VG_DB_NAME:-valuegraph}"
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
VECTOR_CONTROL="/usr/share/postgresql/${PG_VERSION}/extension/vector.control"
TRIXIE_SRC_FILE=/etc/apt/sources.list.d/vg-trixie-src.sources
REDIS_DIR=/var/lib/redis
REDIS_LOG_DIR=/var/log/redis
REDIS_LOG="${REDIS_LOG_DIR}/valuegraph.log"

# Everything printed by this script and the tools it runs goes to stderr; fd 3 is the real stdout.
exec 3>&1 1>&2

export DEBIAN_FRONTEND=noninteractive
export PGCONNECT_TIMEOUT=5

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
need_root() {
  is_root || die "$1 requires root (re-run as root: sudo bash scripts/services.sh)"
}

pkg_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)" = "ii " ]
}
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -q
    APT_UPDATED=1
  fi
}
apt_install() {
  apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

psql_tcp() {
  # -w: never prompt for a password (CI has no stdin); -X: ignore ~/.psqlrc.
  psql -X -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"
}

# ---------------------------------------------------------------------------------------------------------
# 1. Packages: PostgreSQL 15 and Redis
# ---------------------------------------------------------------------------------------------------------
missing=()
for p in "postgresql-${PG_VERSION}" "postgresql-client-${PG_VERSION}" redis-server; do
  pkg_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  need_root "installing ${missing[*]}"
  log "installing ${missing[*]}"
  apt_update_once
  apt_install "${missing[@]}"
fi

# Debian's chromium for the dashboard's browser test (playwright-core drives /usr/bin/chromium; npm downloads no browser).
if [ ! -x /usr/bin/chromium ]; then
  need_root "installing chromium"
  log "installing chromium (dashboard browser test)"
  apt_update_once
  apt_install chromium
fi

# ---------------------------------------------------------------------------------------------------------
# 2. pgvector (built from Debian trixie's source package; bookworm has none)
# ---------------------------------------------------------------------------------------------------------
PG_RESTART_NEEDED=0
BUILD_DIR=""
remove_trixie_src() {
  if [ -e "$TRIXIE_SRC_FILE" ]; then
    log "removing temporary trixie deb-src entry and refreshing apt lists"
    rm -f "$TRIXIE_SRC_FILE"
    apt-get update -q || log "WARNING: apt-get update after removing $TRIXIE_SRC_FILE failed"
  fi
  if [ -n "$BUILD_DIR" ] && [ -d "$BUILD_DIR" ]; then
    rm -rf "$BUILD_DIR"
  fi
  BUILD_DIR=""
}
on_exit() {
  local rc=$?
  trap - EXIT
  remove_trixie_src
  exit "$rc"
}

install_pgvector() {
  need_root "installing pgvector"
  log "pgvector missing ($VECTOR_CONTROL): building it from Debian trixie's source package"
  # Always drop the trixie entry again, also when anything below fails or the script is interrupted.
  trap on_exit EXIT
  trap 'exit 130' INT TERM

  local pg_before
  pg_before="$(pkg_version "postgresql-${PG_VERSION}")"

  cat >"$TRIXIE_SRC_FILE" <<'EOF'
# Temporary entry written by ValueGraph scripts/services.sh to fetch pgvector's source; removed afterwards.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  log "apt-get update (with trixie deb-src)"
  apt-get update -q
  APT_UPDATED=1

  # Build deps first: dpkg-source (dpkg-dev, part of build-essential) is needed to unpack the source.
  # Note: this can upgrade postgresql-15 in place, so the cluster is restarted below.
  log "installing postgresql-server-dev-${PG_VERSION} build-essential"
  apt_install "postgresql-server-dev-${PG_VERSION}" build-essential

  BUILD_DIR="$(mktemp -d /tmp/vg-pgvector.XXXXXX)"
  # Let apt's sandbox user download into it (otherwise apt warns "Download is performed unsandboxed").
  chmod 755 "$BUILD_DIR"
  if id -u _apt >/dev/null 2>&1; then chown _apt "$BUILD_DIR"; fi
  (
    cd "$BUILD_DIR"
    log "apt-get source pgvector"
    apt-get source -q pgvector
    src="$(find . -maxdepth 1 -mindepth 1 -type d -name 'pgvector-*' | head -n1)"
    [ -n "$src" ] || die "apt-get source pgvector produced no source directory"
    cd "$src"
    log "building $(basename "$src") against $("$PG_CONFIG" --version)"
    # OPTFLAGS="" avoids -march=native, so the .so also runs if the disk moves to another CPU model.
    make -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" OPTFLAGS=""
    make PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install
  )
  [ -f "$VECTOR_CONTROL" ] || die "pgvector build finished but $VECTOR_CONTROL is missing"

  local pg_after
  pg_after="$(pkg_version "postgresql-${PG_VERSION}")"
  if [ "$pg_before" != "$pg_after" ]; then
    log "postgresql-${PG_VERSION} changed from $pg_before to $pg_after during the build-dependency install"
  fi
  PG_RESTART_NEEDED=1

  # Remove the trixie entry now (the EXIT trap would also do it) so the rest runs with clean sources.
  remove_trixie_src
  trap - EXIT INT TERM
}

# A previous run killed hard (SIGKILL, power loss) could not run its trap: never leave trixie behind.
if [ -e "$TRIXIE_SRC_FILE" ]; then
  need_root "removing the stale $TRIXIE_SRC_FILE"
  remove_trixie_src
fi

if [ ! -f "$VECTOR_CONTROL" ]; then
  install_pgvector
fi

# ---------------------------------------------------------------------------------------------------------
# 3. PostgreSQL cluster on 127.0.0.1:$PGPORT
# ---------------------------------------------------------------------------------------------------------
pg_ctl_cluster() {
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" "$@"
}
# Prints "<port> <status>" of cluster $PG_VERSION/$PG_CLUSTER, nothing if it does not exist.
cluster_info() {
  pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c { print $3, $4 }'
}

info="$(cluster_info)"
if [ -z "$info" ]; then
  need_root "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER"
  log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER on port $PGPORT"
  pg_createcluster --port "$PGPORT" --locale C.UTF-8 "$PG_VERSION" "$PG_CLUSTER"
  info="$(cluster_info)"
  [ -n "$info" ] || die "pg_createcluster did not create $PG_VERSION/$PG_CLUSTER"
fi
cluster_port="${info%% *}"
cluster_status="${info#* }"

if [ "$cluster_port" != "$PGPORT" ]; then
  need_root "changing the port of cluster $PG_VERSION/$PG_CLUSTER"
  log "cluster $PG_VERSION/$PG_CLUSTER is configured for port $cluster_port; switching it to $PGPORT"
  pg_conftool "$PG_VERSION" "$PG_CLUSTER" set port "$PGPORT"
  PG_RESTART_NEEDED=1
fi

case "$cluster_status" in
  online*)
    if [ "$PG_RESTART_NEEDED" -eq 1 ]; then
      log "restarting PostgreSQL $PG_VERSION/$PG_CLUSTER"
      pg_ctl_cluster restart
    fi
    ;;
  *)
    log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER (status: $cluster_status)"
    pg_ctl_cluster start
    ;;
esac

ready=0
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$PGPORT"; then ready=1; break; fi
  sleep 0.5
done
[ "$ready" -eq 1 ] || die "PostgreSQL is not accepting connections on 127.0.0.1:$PGPORT (see /var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log)"

# Trust auth for 127.0.0.1: leave pg_hba.conf alone unless a TCP connection as postgres actually fails.
if ! psql_tcp -d postgres -qAtc 'select 1' >/dev/null 2>&1; then
  need_root "enabling trust auth for 127.0.0.1 in pg_hba.conf"
  hba="$(pg_conftool -s "$PG_VERSION" "$PG_CLUSTER" show hba_file 2>/dev/null || true)"
  hba="${hba:-/etc/postgresql/${PG_VERSION}/${PG_CLUSTER}/pg_hba.conf}"
  hba="${hba//\'/}"
  log "cannot connect as postgres over TCP; prepending 'host all all 127.0.0.1/32 trust' to $hba (backup: $hba.vg-bak)"
  cp -p "$hba" "$hba.vg-bak"
  {
    echo "# added by ValueGraph scripts/services.sh: local TCP connections without password"
    echo "host    all             all             127.0.0.1/32            trust"
    cat "$hba.vg-bak"
  } >"$hba"
  pg_ctl_cluster reload
  sleep 0.5
  psql_tcp -d postgres -qAtc 'select 1' >/dev/null ||
    die "still cannot connect to PostgreSQL as postgres on 127.0.0.1:$PGPORT"
fi

# pgvector must be available *and* loadable by the running server (catches a .so built for another major).
avail="$(psql_tcp -d postgres -qAtc "select default_version from pg_available_extensions where name = 'vector'")"
[ -n "$avail" ] || die "PostgreSQL does not list the 'vector' extension as available"
psql_tcp -d postgres -qAt >/dev/null <<'SQL' || die "CREATE EXTENSION vector failed"
begin;
create extension if not exists vector;
select '[1,2,3]'::vector <=> '[1,2,4]'::vector;
rollback;
SQL

# Application database (empty; the app's migrations create the schema and the extension).
if [ "$(psql_tcp -d postgres -qAtc "select 1 from pg_database where datname = '${VG_DB_NAME}'")" != "1" ]; then
  log "creating database ${VG_DB_NAME}"
  psql_tcp -d postgres -qc "create database \"${VG_DB_NAME}\"" >/dev/null
fi
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') ready on 127.0.0.1:$PGPORT (pgvector $avail)"

# ---------------------------------------------------------------------------------------------------------
# 4. Redis on 127.0.0.1:$REDIS_PORT with maxmemory-policy noeviction
# ---------------------------------------------------------------------------------------------------------
redis_cmd() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
redis_up() { [ "$(redis_cmd ping 2>/dev/null || true)" = "PONG" ]; }

if redis_up; then
  redis_cmd config set maxmemory-policy noeviction >/dev/null
else
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$REDIS_DIR" "$REDIS_LOG_DIR"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --maxmemory-policy noeviction --appendonly yes \
    --dir "$REDIS_DIR" --logfile "$REDIS_LOG" --pidfile "/tmp/vg-redis-${REDIS_PORT}.pid"
  for _ in $(seq 1 40); do
    redis_up && break
    sleep 0.25
  done
  redis_up || die "Redis did not answer PING on 127.0.0.1:$REDIS_PORT (see $REDIS_LOG)"
fi
policy="$(redis_cmd config get maxmemory-policy | tail -n1)"
[ "$policy" = "noeviction" ] || die "Redis maxmemory-policy is '$policy', expected noeviction"
log "Redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//') ready on 127.0.0.1:$REDIS_PORT (maxmemory-policy $policy)"

# ---------------------------------------------------------------------------------------------------------
# 5. The only stdout output: two lines for eval.
# ---------------------------------------------------------------------------------------------------------
printf 'export DATABASE_URL=postgresql://postgres@127.0.0.1:%s/%s\n' "$PGPORT" "$VG_DB_NAME" >&3
printf 'export REDIS_URL=redis://127.0.0.1:%s\n' "$REDIS_PORT" >&3
