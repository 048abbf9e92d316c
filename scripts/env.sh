# Shared by scripts/*.sh and .ci/run: where the build cache lives, and how to make sure the tools
# and servers the tests need are there. Source it; it defines functions and exports variables.

# A build cache outside the clone speeds up repeated runs; it is only a cache (any empty
# directory works), so a fresh machine simply builds from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mediamesh-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One-off builds (CI, a fresh clone) gain nothing from incremental state, which is the largest part
# of a debug target directory.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi

# The build cache is only a cache: when the disk runs low, drop what is cheapest to rebuild (the
# incremental state, then this workspace's own test binaries), never the dependencies' builds.
prune_build_cache() {
  local free_kb
  free_kb=$(df -Pk "$(dirname "$CARGO_TARGET_DIR")" 2>/dev/null | awk 'NR==2 {print $4}')
  [ -n "$free_kb" ] || return 0
  if [ "$free_kb" -lt $((20 * 1024 * 1024)) ] && [ -d "$CARGO_TARGET_DIR/debug" ]; then
    log "less than 20 GiB free: pruning the build cache's incremental state and workspace test binaries"
    rm -rf "$CARGO_TARGET_DIR/debug/incremental"
    local crate
    for crate in it gateway_public gateway_cms indexer cms_core mediamesh auth platform engine contracts benches; do
      rm -f "$CARGO_TARGET_DIR/debug/deps/$crate-"* "$CARGO_TARGET_DIR/debug/deps/lib$crate-"*
      rm -rf "$CARGO_TARGET_DIR/debug/.fingerprint/${crate//_/-}-"*
    done
  fi
}
export MEDIAMESH_DATABASE_URL_TEST="${MEDIAMESH_DATABASE_URL_TEST:-postgres://postgres@127.0.0.1:5432/test}"

# Tools the tests run (the tansu broker), installed once and kept outside the clone.
export MEDIAMESH_TOOLS_DIR="${MEDIAMESH_TOOLS_DIR:-$HOME/.cache/mediamesh-tools}"
TANSU_VERSION=0.6.0
export MEDIAMESH_TANSU_BIN="${MEDIAMESH_TANSU_BIN:-$MEDIAMESH_TOOLS_DIR/tansu-$TANSU_VERSION/bin/tansu}"

log() { printf '== %s\n' "$*" >&2; }

ensure_rust_components() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust with rustup (https://rustup.rs)" >&2
    return 1
  fi
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
      rustup component add "$component"
    fi
  done
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing $*; install it (apt-get install $*) or run as root" >&2
    return 1
  fi
  if [ -z "${MEDIAMESH_APT_UPDATED:-}" ]; then
    apt-get update -qq && export MEDIAMESH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL on 127.0.0.1:5432 with a `test` database reachable as postgres without a password.
ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    :
  else
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "installing PostgreSQL"
      apt_install postgresql
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    # Trust local TCP connections: this is a test server on loopback only.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q "mediamesh-test" "$hba" 2>/dev/null; then
      printf 'host all all 127.0.0.1/32 trust # mediamesh-test\nhost all all ::1/128 trust # mediamesh-test\n' \
        | cat - "$hba" > "$hba.new" && mv "$hba.new" "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 60); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 0.5
    done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; return 1; }
  if ! psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -tAc 'create database test' >/dev/null 2>&1 \
      || su postgres -c "createdb test" 2>/dev/null || true
  fi
  psql -h 127.0.0.1 -U postgres -d test -tAc 'select 1' >/dev/null
}

# tansu, the Kafka-protocol broker the integration tests start (each broker test runs its own on a
# free port). Built from crates.io once (about 12 minutes on 2 cores), then reused.
ensure_tansu() {
  if [ -x "$MEDIAMESH_TANSU_BIN" ]; then
    return 0
  fi
  log "installing tansu $TANSU_VERSION into $MEDIAMESH_TOOLS_DIR (once; about 12 minutes on 2 cores)"
  local root="$MEDIAMESH_TOOLS_DIR/tansu-$TANSU_VERSION"
  CARGO_TARGET_DIR="$MEDIAMESH_TOOLS_DIR/tansu-build" \
    cargo install tansu --locked --version "$TANSU_VERSION" --features dynostore,libsql --root "$root"
  rm -rf "$MEDIAMESH_TOOLS_DIR/tansu-build"
  [ -x "$MEDIAMESH_TANSU_BIN" ] || { echo "tansu did not install to $MEDIAMESH_TANSU_BIN" >&2; return 1; }
}

# redis-server: the gateways' rate-limit tests start their own on free ports (so they can stop
# and restart it); the shared one on 6379 is started too, for the services run by hand.
ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis"
    apt_install redis-server
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis on 127.0.0.1:6379"
    redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
  fi
}

# Node.js and npm: the PM2 test installs pm2 from npm into ops/ (never globally).
ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    log "installing Node.js and npm"
    apt_install nodejs npm
  fi
}
