#!/usr/bin/env bash
# The project's test command (the README's second command; .ci/run calls it).
# Installs what the tests need, then runs every test of the workspace. The interop
# tests against the Linux kernel run when this is run as root and skip (saying why)
# otherwise. Longer soaks: SYNACK_SIM_SEEDS=1000 bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --release --no-fail-fast "$@"
