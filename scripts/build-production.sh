#!/usr/bin/env bash
# The frontend a merchant deploys: the release build (scripts/build-release.sh), without the demo
# shop's pages and defaults, sandbox/ or examples/ (scripts/production-dist.py checks that none
# is left). Serve these files under any path and put the loader on your own page:
#   <script type="module" src="…/toss-billing-checkout-loader.js"></script>
#   scripts/build-production.sh [OUT]     (default dist-production/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-dist-production}")
release=${CARGO_TARGET_DIR:-$PWD/target}/production-release-dist
./scripts/build-release.sh "$release"
python3 scripts/production-dist.py "$release" "$out"
echo "production frontend in $out"
