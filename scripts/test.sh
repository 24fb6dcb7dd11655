#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest:
# doctest unit tests and the end-to-end scripts in tests/integration/ (real
# stratad, real qemu-img, real OpenStack clients). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
cd "${STRATA_BUILD_DIR:-build}"
ctest --output-on-failure -j 2 "$@"
