#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it through executable_path=/usr/bin/chromium;
# Playwright's own browser download does not work on machines without general internet access).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install_chromium.sh: run as root or install sudo (apt-get install chromium needs root)" >&2
        exit 1
    fi
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
