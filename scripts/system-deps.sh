#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Carebridge needs, only when they are missing.
#
#   scripts/system-deps.sh [--make] [--python] [--postgres] [--nginx] [--chromium] [--node] [--fonts] [--clamav]
#
# Not root: uses sudo when there is one, otherwise prints what to install and exits 1.
set -euo pipefail

packages=()

have_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

have_venv() {
    local python
    python=$(command -v python3.11 || command -v python3) || return 1
    # Debian ships venv's pip bootstrap (ensurepip) separately, in python3-venv.
    "$python" -c 'import ensurepip, venv' >/dev/null 2>&1
}

for flag in "$@"; do
    case "$flag" in
        --make) command -v make >/dev/null 2>&1 || packages+=(make) ;;
        --python) have_venv || packages+=(python3 python3-venv) ;;
        --postgres)
            have_initdb || packages+=(postgresql)
            # WAL archiving and point-in-time recovery of the local cluster (scripts/pg-local.sh).
            command -v pgbackrest >/dev/null 2>&1 || packages+=(pgbackrest)
            ;;
        # The front that terminates TLS and holds slow clients (scripts/serve.sh).
        --nginx) command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || packages+=(nginx) ;;
        --chromium) [[ -x /usr/bin/chromium ]] || packages+=(chromium fonts-liberation) ;;
        --node) command -v npm >/dev/null 2>&1 || packages+=(npm) ;;
        # The PDF download's font (records/pdf.py).
        --fonts) [[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || packages+=(fonts-dejavu-core) ;;
        # The attachment virus scan (messaging/files.py, CLAMD_SOCKET): the tests start their
        # own clamd with a signature database made by sigtool (freshclam needs the network).
        --clamav) { command -v clamd >/dev/null 2>&1 || [[ -x /usr/sbin/clamd ]]; } && command -v sigtool >/dev/null 2>&1 || packages+=(clamav-daemon clamav) ;;
        *)
            echo "system-deps.sh: unknown flag $flag" >&2
            exit 2
            ;;
    esac
done

((${#packages[@]})) || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found. Install these packages yourself, then retry: ${packages[*]}" >&2
    exit 1
fi

sudo=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "Missing system packages. As root, run:" >&2
        echo "  apt-get update && apt-get install -y ${packages[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "Installing system packages: ${packages[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
