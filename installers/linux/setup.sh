#!/usr/bin/env bash
# Set up Doca on a fresh Debian/Ubuntu machine and run it, or run its tests.
#
#   sudo bash installers/linux/setup.sh run    # install everything, then start doca-desktop
#                                               # (or only the engine when there is no display)
#   sudo bash installers/linux/setup.sh test   # install everything, then run the whole test suite
#
# System packages come from apt, Python packages go into ./.venv.
set -euo pipefail

mode="${1:-run}"
shift || true
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$repo/.venv"

apt_packages=(
    python3 python3-venv python3-pip
    crun runc conmon tini
    nftables iproute2
    # the rootless engine: subordinate id maps and user-mode networking
    uidmap slirp4netns
    # the engine in a VM (doca engine start --vm): QEMU and what builds its image
    qemu-system-x86 debootstrap e2fsprogs
    busybox-static
    # Qt's xcb platform plugin and what PySide6 loads at start
    libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
    libxcb-render-util0 libxcb-image0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1
    libegl1 libgl1 libfontconfig1 libdbus-1-3
)
# Only for the test suite: Debian's dockerd, registry and credential helpers are the references
# the tests compare against (htpasswd makes the registry's logins); gnome-keyring provides a
# Secret Service for the credential helper's tests; debootstrap makes the chroot the .deb is
# installed into; trayer hosts the system tray the tray tests use under Xvfb; openssh-server
# is the remote end of the ssh:// engine tests.
test_packages=(
    docker.io xvfb xauth gnome-keyring dbus dbus-x11 golang-docker-credential-helpers
    docker-registry apache2-utils debootstrap trayer openssh-server
)

install_system() {
    local missing=() wanted=("${apt_packages[@]}")
    [[ $mode == test ]] && wanted+=("${test_packages[@]}")
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        apt-get update -qq
        # The test references (dockerd, sshd, the registry) are started by the tests on their
        # own sockets and ports: keep their packages from starting system services on install.
        local policy=/usr/sbin/policy-rc.d added=""
        if [[ $mode == test && ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && added=1
        fi
        local status=0
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" || status=$?
        if [[ -n $added ]]; then rm -f "$policy"; fi
        return "$status"
    fi
}

install_python() {
    local python="${PYTHON:-python3}"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$python" -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -e "$repo[test]"
}

if [[ $EUID -ne 0 ]]; then
    echo "setup.sh installs system packages and runs the engine as root: run it with sudo" >&2
    exit 1
fi

install_system
install_python

case "$mode" in
    run)
        # The desktop app starts and supervises the engine; without a display, run the engine.
        if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
            exec "$venv/bin/doca-desktop" "$@"
        fi
        exec "$venv/bin/doca-engine" "$@"
        ;;
    test)
        cd "$repo"
        "$venv/bin/ruff" check engine engine_vm doca desktop_app tests benchmarks
        "$venv/bin/ruff" format --check engine engine_vm doca desktop_app tests benchmarks
        "$venv/bin/mypy"
        "$venv/bin/lint-imports"
        exec "$venv/bin/pytest" -q "$@"
        ;;
    *)
        echo "usage: setup.sh run|test [ARGS...]" >&2
        exit 2
        ;;
esac
