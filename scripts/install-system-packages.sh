#!/usr/bin/env bash
# Installs the Debian packages the test suite and CI need beyond Node and pnpm:
#   caddy          — test/deploy runs the real Caddyfile in front of the real API
#   docker-compose — test/deploy validates docker-compose.yml (`docker-compose config`)
# Chromium (for the console's browser tests) will be added here with the console issue.
#
# Idempotent: when every command is already on PATH it exits without touching apt.
# Runs as root (CI images, containers); uses sudo otherwise.
set -euo pipefail

# command → Debian package that provides it
declare -A packages=(
  [caddy]=caddy
  [docker-compose]=docker-compose
)

missing=()
for command in "${!packages[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${packages[$command]}")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "System packages already installed: ${!packages[*]}"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# On a systemd host the caddy package starts a system-wide Caddy on ports 80 and 2019; the
# tests run their own, so the one we just installed is stopped and disabled.
if [[ " ${missing[*]} " == *" caddy "* ]] && [ -d /run/systemd/system ]; then
  "${sudo_cmd[@]}" systemctl disable --now caddy >/dev/null 2>&1 || true
fi

echo "Installed: ${missing[*]}"
