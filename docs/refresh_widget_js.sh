#!/usr/bin/env bash
# Refresh the vendored Jupyter widget JavaScript in _vendor/_static/widgets/.
#
# The static book renders ipywidgets (the run explorer) from their saved state with the
# widget HTML manager. Instead of loading it from a CDN, the book serves a copy:
# dist/embed.js of the npm package @jupyter-widgets/html-manager (one self-contained
# bundle: the manager, the core widgets and their CSS; no RequireJS, no CDN), its licence
# notice and the Font Awesome woff2 fonts its CSS refers to. _config.yml points myst-nb
# at it (sphinx: config: nb_ipywidgets_js) and copies _vendor/ into the HTML output
# (html_extra_path), so the files are served as _static/widgets/... They are kept out of
# _static/ because Jupyter Book links every .js file under a static path into every page.
#
# Usage:  docs/refresh_widget_js.sh [VERSION]     (default: the version below)
# Needs npm (registry access) and tar. Writes _vendor/_static/widgets/{embed.js,
# embed.js.LICENSE.txt,*.woff2,SOURCE.txt} and prints versions, sizes and checksums.
# html-manager 1.x goes with ipywidgets 8 (ipywidgets' embed.py asks for ^1.0.1).
set -euo pipefail

VERSION="${1:-1.0.15}"
PACKAGE="@jupyter-widgets/html-manager"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/_vendor/_static/widgets"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetching $PACKAGE@$VERSION from the npm registry"
(cd "$TMP" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null && tar xzf ./*.tgz)
DIST="$TMP/package/dist"
[ -f "$DIST/embed.js" ] || { echo "no dist/embed.js in $PACKAGE@$VERSION" >&2; exit 1; }

mkdir -p "$DEST"
rm -f "$DEST"/embed.js "$DEST"/embed.js.LICENSE.txt "$DEST"/*.woff2
cp "$DIST/embed.js" "$DIST/embed.js.LICENSE.txt" "$DEST/"
# Fonts: the bundle's CSS lists eot, woff2, woff, ttf and svg; browsers that run the
# bundle use woff2, so only those are copied (the others are ~2.5 MB more).
fonts=$(grep -o '"[0-9a-f]\{20\}\.woff2"' "$DIST/embed.js" | tr -d '"' | sort -u)
for f in $fonts; do cp "$DIST/$f" "$DEST/"; done

{
  echo "$PACKAGE@$VERSION (npm registry), dist/ files, unmodified; licence BSD-3-Clause"
  echo "(bundled third-party notices: embed.js.LICENSE.txt; Font Awesome Free fonts: SIL OFL 1.1)."
  echo "Refreshed with docs/refresh_widget_js.sh on $(date -u +%Y-%m-%d)."
  echo
  echo "sha256                                                            bytes  file"
  (cd "$DEST" && for f in embed.js embed.js.LICENSE.txt $fonts; do
     printf '%s %9d  %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(wc -c < "$f")" "$f"
   done)
} > "$DEST/SOURCE.txt"

cat "$DEST/SOURCE.txt"
if grep -q '//# sourceMappingURL' "$DEST/embed.js"; then
  echo "note: embed.js names a source map (embed.js.map, not vendored); browsers fetch it only with developer tools open"
fi
