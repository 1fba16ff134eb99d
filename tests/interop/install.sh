#!/usr/bin/env bash
# Installs the foreign Kafka clients the interop tests run against kastor,
# pinned, once, under $KASTOR_CACHE/interop (default ~/.cache/kastor/interop):
#   KafkaJS (npm)        the seed 002 services' client
#   kafka-python (PyPI)  seed 000's client
# The Java client is the kafka-clients jar that deploy/local/kafka.sh fetches
# with the broker. Idempotent: a complete install is not touched again.
set -euo pipefail

KAFKAJS_VERSION=2.2.4
KAFKA_PYTHON_VERSION=2.2.15

CACHE_ROOT=${KASTOR_CACHE:-${HOME:-/root}/.cache/kastor}
DIR="$CACHE_ROOT/interop"
MARKER="$DIR/.complete-kafkajs-$KAFKAJS_VERSION-kafka-python-$KAFKA_PYTHON_VERSION"

if [[ -f $MARKER ]]; then
  echo "interop clients: $DIR (cached)"
  exit 0
fi
# Node.js, npm and pip from Debian when the machine has none.
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if (( ${#missing[@]} )); then
  echo "interop: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

tmp="$DIR.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/node" "$tmp/python"
trap 'rm -rf "$tmp"' EXIT
echo "interop: installing kafkajs@$KAFKAJS_VERSION and kafka-python==$KAFKA_PYTHON_VERSION into $DIR"
npm install --silent --no-audit --no-fund --prefix "$tmp/node" "kafkajs@$KAFKAJS_VERSION" >/dev/null
# Only kafka-python itself: no lz4, snappy or zstd codec packages, as a
# service that installs just the client has none.
python3 -m pip install --quiet --disable-pip-version-check --no-deps \
  --target "$tmp/python" "kafka-python==$KAFKA_PYTHON_VERSION"
rm -rf "$DIR"
mv "$tmp" "$DIR"
trap - EXIT
touch "$MARKER"
echo "interop clients: $DIR"
