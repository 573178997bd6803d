#!/usr/bin/env bash
# Build dist/Doca.app (the desktop app, the doca CLI and the credential helper, with the VM
# image inside) and dist/Doca-<version>-<arch>.dmg, on macOS.
#
#   installers/macos/build-app.sh --vm-image ARCHIVE [--out DIR] [--no-dmg]
#
# ARCHIVE is the image `python -m engine_vm.image export` wrote on a Linux host of the same
# architecture (arm64 for Apple silicon). PYTHON picks the interpreter (default python3, 3.11
# or later); the build's venv is filled by pip from the configured index. Signing, when
# CODESIGN_IDENTITY names a "Developer ID Application" identity, uses the hardened runtime
# and installers/macos/entitlements.plist; NOTARY_PROFILE (a `xcrun notarytool
# store-credentials` profile) then notarises the .dmg and staples the ticket.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
macos="$repo/installers/macos"
pyinstaller_dir="$repo/installers/pyinstaller"
out="$repo/dist"
vm_image=""
dmg=1
python="${PYTHON:-python3}"

usage() {
    sed -n 's/^#   \(installers.*\)/usage: \1/p' "${BASH_SOURCE[0]}" >&2
    exit "${1:-2}"
}

while (($#)); do
    case "$1" in
        --vm-image) vm_image="${2:?}"; shift 2 ;;
        --out) out="${2:?}"; shift 2 ;;
        --no-dmg) dmg=0; shift ;;
        -h | --help) usage 0 ;;
        *) echo "build-app: unknown argument $1" >&2; usage ;;
    esac
done

[[ "$(uname -s)" == Darwin ]] || { echo "build-app: run this on macOS" >&2; exit 1; }
[[ -n "$vm_image" ]] || { echo "build-app: --vm-image ARCHIVE is required" >&2; usage; }
[[ -f "$vm_image" ]] || { echo "build-app: $vm_image: no such file" >&2; exit 1; }
vm_image="$(cd "$(dirname "$vm_image")" && pwd)/$(basename "$vm_image")"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/doca-app.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "build-app: the build environment"
"$python" -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet "$repo" pyinstaller

echo "build-app: verifying and unpacking $vm_image"
"$py" -m engine_vm.image import "$vm_image" --to "$work/vm-image"

echo "build-app: the icon"
"$py" "$pyinstaller_dir/icons.py" "$work/doca.icns"

sign_args=()
if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    sign_args=(--codesign-identity "$CODESIGN_IDENTITY" --entitlements "$macos/entitlements.plist")
fi

echo "build-app: Doca.app"
rm -rf "$out/Doca.app" "$out/doca"
"$py" -m PyInstaller "$pyinstaller_dir/doca.spec" --noconfirm --log-level WARN \
    --distpath "$out" --workpath "$work/build" -- \
    --vm-image "$work/vm-image" --icon "$work/doca.icns" ${sign_args[@]+"${sign_args[@]}"}
# The one-directory build the app was made of is not shipped.
rm -rf "$out/doca"

if [[ -n "${CODESIGN_IDENTITY:-}" ]]; then
    codesign --verify --deep --strict --verbose=2 "$out/Doca.app"
fi

if ((dmg)); then
    version="$("$py" -c 'from importlib.metadata import version; print(version("doca"))')"
    "$macos/build-dmg.sh" "$out/Doca.app" "$out/Doca-$version-$(uname -m).dmg"
fi
