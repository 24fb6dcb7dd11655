#!/usr/bin/env bash
# Strata's main job on its embedded default: installs what is missing,
# builds, and runs stratad in the foreground with a SQLite catalog and a
# local store under ./var (or --state-dir DIR), listening on 127.0.0.1:8786,
# noauth. Extra arguments go to stratad (see stratad --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/stratad --state-dir ./var "$@"
