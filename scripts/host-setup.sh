#!/usr/bin/env bash
# Installs what natbox needs on a fresh Debian machine, then a virtual environment with tox.
# Idempotent and quiet when everything is already there, so `make test` can call it every time.
set -euo pipefail

venv=${1:-.venv}
# Each area lists the Debian packages it needs in its own apt-packages.txt.
mapfile -t apt_packages < <(cat apt-packages.txt */apt-packages.txt 2>/dev/null | sed 's/#.*//' | xargs -n1 | sort -u)

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# A pyenv python3 already ships venv: python3-venv is only needed when venv is broken.
if python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing=("${missing[@]/python3-venv}")
    read -r -a missing <<< "${missing[*]}"
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "host-setup: need root to apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "host-setup: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/tox" ]; then
    echo "host-setup: creating $venv with tox"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q tox
fi
