#!/usr/bin/env bash
# Installs, from Debian's archive, whatever lastmile needs to build, test and
# run the demo and is not yet on this machine. Idempotent; quiet when all is
# there. Runs apt-get as root, or through sudo when available.
set -euo pipefail

# Build and runtime libraries (the -dev packages pull their runtime libs).
packages=(
  build-essential cmake pkg-config clang-format
  librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libhiredis-dev libjansson-dev libyaml-dev libmicrohttpd-dev
  libcurl4-openssl-dev libssl-dev libzstd-dev
  libcriterion-dev
  redis-server redis-tools kcat tzdata python3 zstd
  pmccabe
)
# Extra packages a caller asks for (e.g. the deploy checks): LM_EXTRA_PACKAGES.
if [ -n "${LM_EXTRA_PACKAGES:-}" ]; then
  read -r -a extra <<<"$LM_EXTRA_PACKAGES"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
