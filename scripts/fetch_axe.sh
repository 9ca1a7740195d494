#!/usr/bin/env bash
# Fetch axe-core (the accessibility engine the browser tests inject into resident pages)
# from npm into .local/axe-core/ (ignored by git; nothing of it is served by the site).
#
#   scripts/fetch_axe.sh
#
# tests/test_accessibility_browser.py runs it when the file is missing; run it again after
# changing the version below.
set -euo pipefail

AXE_VERSION="4.10.3"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.local/axe-core"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "error: npm is needed (apt-get install npm)" >&2; exit 1; }

cd "$WORK"
npm pack --silent "axe-core@$AXE_VERSION" >/dev/null
tar -xzf "axe-core-$AXE_VERSION.tgz"
mkdir -p "$DEST"
cp package/axe.min.js package/LICENSE "$DEST/"
echo "$AXE_VERSION" >"$DEST/VERSION"
echo "axe-core $AXE_VERSION in $DEST"
