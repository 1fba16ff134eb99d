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
command -v node >/dev/null && command -v npm >/dev/null \
  || { echo "interop: node and npm are needed (apt-get install nodejs npm)" >&2; exit 1; }
command -v python3 >/dev/null \
  || { echo "interop: python3 is needed" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 \
  || { echo "interop: python3's pip is needed (apt-get install python3-pip)" >&2; exit 1; }

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
