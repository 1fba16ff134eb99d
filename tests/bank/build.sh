#!/usr/bin/env bash
# Builds the bank (apps/bank) the way a user would, from the installed kastor
# package only, and runs its unit tests:
#   1. `cmake --install <kastor-build-dir>` into <out>/prefix (made afresh);
#   2. configure apps/bank with CMAKE_PREFIX_PATH=<out>/prefix into <out>/build
#      (Ninja, the package registry off: nothing but the prefix is found);
#   3. build it and run its ctest. <out>/build/bank is then what the bank's
#      system tests run.
# Usage: build.sh <kastor-build-dir> <bank-source-dir> <out-dir>
# Environment (ctest sets them): CMAKE, CXX, BUILD_TYPE.
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: $0 <kastor-build-dir> <bank-source-dir> <out-dir>" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
bank_dir=$(cd "$2" && pwd)
out=$3
cmake=${CMAKE:-cmake}
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

echo "== 1. install kastor into $out/prefix"
rm -rf "$out/prefix"
"$cmake" --install "$build_dir" --prefix "$out/prefix" >/dev/null

echo "== 2. configure the bank against the installed package"
"$cmake" -S "$bank_dir" -B "$out/build" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  ${CXX:+-DCMAKE_CXX_COMPILER="$CXX"} \
  -DCMAKE_PREFIX_PATH="$out/prefix" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON >/dev/null
found=$(sed -n 's/^kastor_DIR:PATH=//p' "$out/build/CMakeCache.txt")
if [[ $found != "$out/prefix/"* ]]; then
  echo "FAIL: kastor found in '$found', not in the installed prefix" >&2
  exit 1
fi

echo "== 3. build and unit-test the bank"
"$cmake" --build "$out/build" -j 2
ctest --test-dir "$out/build" --output-on-failure
"$out/build/bank" --help >/dev/null
echo "bank: built from the installed package"
