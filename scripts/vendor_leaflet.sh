#!/usr/bin/env bash
# Vendor Leaflet and Leaflet.markercluster into the committed static files (no CDN).
#
#   scripts/vendor_leaflet.sh
#
# Fetches the pinned npm packages with npm into a throwaway folder and copies their
# built files and licences to civicpulse/static/vendor/. Run it again after changing a
# version below, and commit the result; nothing runs it at build or start time.
set -euo pipefail

LEAFLET_VERSION="1.9.4"
MARKERCLUSTER_VERSION="1.5.3"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/civicpulse/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "error: npm is needed (apt-get install npm)" >&2; exit 1; }

cd "$WORK"
npm pack --silent "leaflet@$LEAFLET_VERSION" "leaflet.markercluster@$MARKERCLUSTER_VERSION" >/dev/null
mkdir leaflet markercluster
tar -xzf "leaflet-$LEAFLET_VERSION.tgz" -C leaflet --strip-components=1
tar -xzf "leaflet.markercluster-$MARKERCLUSTER_VERSION.tgz" -C markercluster --strip-components=1

rm -rf "$DEST/leaflet" "$DEST/leaflet.markercluster"
mkdir -p "$DEST/leaflet/images" "$DEST/leaflet.markercluster"
cp leaflet/dist/leaflet.js leaflet/dist/leaflet.css leaflet/LICENSE "$DEST/leaflet/"
cp leaflet/dist/images/*.png "$DEST/leaflet/images/"
cp markercluster/dist/leaflet.markercluster.js markercluster/dist/MarkerCluster.css \
  markercluster/dist/MarkerCluster.Default.css markercluster/MIT-LICENCE.txt "$DEST/leaflet.markercluster/"
printf 'leaflet %s\nleaflet.markercluster %s\n' "$LEAFLET_VERSION" "$MARKERCLUSTER_VERSION" >"$DEST/VERSIONS"
echo "vendored into $DEST:"
cat "$DEST/VERSIONS"
