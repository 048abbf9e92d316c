#!/usr/bin/env bash
# The test command: starts (or installs) the servers the integration tests need, then runs the whole
# workspace suite with the `integration` feature on.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
ensure_rust_components
ensure_postgres
ensure_redis
ensure_node
ensure_tansu
export MEDIAMESH_DATABASE_URL="${MEDIAMESH_DATABASE_URL:-$MEDIAMESH_DATABASE_URL_TEST}"
log "cargo test --workspace --all-features"
cargo test --workspace --all-features --no-fail-fast "$@"
