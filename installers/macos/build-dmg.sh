#!/usr/bin/env bash
# Pack Doca.app into a compressed disk image with a link to /Applications to drag it onto.
#
#   installers/macos/build-dmg.sh APP OUT.dmg
#
# With CODESIGN_IDENTITY the image is signed; with NOTARY_PROFILE too it is notarised and
# the ticket stapled, so Gatekeeper accepts it offline.
set -euo pipefail

usage() {
    sed -n 's/^#   \(installers.*\)/usage: \1/p' "${BASH_SOURCE[0]}" >&2
    exit "${1:-2}"
}

(($# == 2)) || usage
app="$1"
dmg="$2"
[[ -d "$app" ]] || { echo "build-dmg: $app is not an app bundle" >&2; exit 1; }
command -v hdiutil >/dev/null || { echo "build-dmg: hdiutil is missing (run on macOS)" >&2; exit 1; }

staging="$(mktemp -d "${TMPDIR:-/tmp}/doca-dmg.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
# ditto keeps the bundle's symlinks, extended attributes and signature intact.
ditto "$app" "$staging/$(basename "$app")"
ln -s /Applications "$staging/Applications"

rm -f "$dmg"
# ULFO (LZFSE): smaller and faster to open than UDZO; every macOS the app runs on reads it.
hdiutil create -volname Doca -srcfolder "$staging" -fs HFS+ -format ULFO -ov "$dmg"

if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$dmg"
    if [[ -n "${NOTARY_PROFILE:-}" ]]; then
        xcrun notarytool submit "$dmg" --keychain-profile "$NOTARY_PROFILE" --wait
        xcrun stapler staple "$dmg"
    fi
elif [[ -n "${NOTARY_PROFILE:-}" ]]; then
    echo "build-dmg: NOTARY_PROFILE needs CODESIGN_IDENTITY: only signed images are notarised" >&2
    exit 1
fi
echo "$dmg"
