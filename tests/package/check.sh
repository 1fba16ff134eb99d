#!/usr/bin/env bash
# The installed kastor package works for a project that has only the install:
#   1. `cmake --install <build-dir>` into a temporary prefix, which must hold
#      the three libraries, every public header of runtime, bridges and testkit
#      (and none of the apps', nor the runtime's or the bridges' internal ones;
#      none of them including librdkafka or CAF's actor headers), and
#      kastorConfig.cmake + kastorConfigVersion.cmake;
#   2. no installed CMake file names the source or the build tree;
#   3. the prefix is moved elsewhere (the package must be relocatable);
#   4. consumer/ configures with find_package(kastor 0.1 CONFIG REQUIRED) from
#      that prefix only, builds (Ninja, one job) and runs: exit 0.
# Any failing step fails the script (non-zero) with a FAIL line; the temporary
# folder is always removed.
#
# Usage: check.sh <kastor-build-dir> <consumer-source-dir>
# Environment (ctest sets them): CMAKE (default: cmake), CXX (the compiler
# kastor was built with), BUILD_TYPE (default: RelWithDebInfo).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <kastor-build-dir> <consumer-source-dir>" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
consumer_dir=$(cd "$2" && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
cmake=${CMAKE:-cmake}
build_type=${BUILD_TYPE:-RelWithDebInfo}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kastor-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

step "1. install $build_dir into a temporary prefix"
"$cmake" --install "$build_dir" --prefix "$tmp/staging"
config=$(find "$tmp/staging" -path '*/cmake/kastor/kastorConfig.cmake')
[[ -n $config ]] || fail "no kastorConfig.cmake installed"
cmake_dir=$(dirname "$config")
[[ $cmake_dir == "$tmp/staging/lib/cmake/kastor" ]] || echo "note: package files in ${cmake_dir#"$tmp/staging/"}"
[[ -f $cmake_dir/kastorConfigVersion.cmake ]] || fail "no kastorConfigVersion.cmake installed"
for lib in runtime bridges testkit; do
  [[ -n $(find "$tmp/staging" -name "libkastor_$lib.a") ]] || fail "libkastor_$lib.a not installed"
done
for include in runtime/include bridges/include bridges/testkit/include; do
  while IFS= read -r header; do
    [[ -f $tmp/staging/include/$header ]] || fail "header not installed: $header"
  done < <(cd "$source_dir/$include" && find . -type f | sed 's|^\./||')
done
if grep -rlE '#include *<librdkafka/' "$tmp/staging/include"; then
  fail "the installed headers above include librdkafka (it belongs in bridges/internal)"
fi
for internal in runtime/internal/include bridges/internal/include; do
  while IFS= read -r header; do
    [[ ! -e $tmp/staging/include/$header ]] || fail "internal header installed: $header"
  done < <(cd "$source_dir/$internal" && find . -type f | sed 's|^\./||')
done
# What an application includes stays light: CAF's actor headers (caf/all.hpp
# and what it gathers) belong to the runtime's plumbing, not to kastor.hpp.
if grep -rlE '#include *<caf/(all|actor|actor_system|local_actor|event_based_actor|scoped_actor|send)\.hpp>' "$tmp/staging/include"; then
  fail "the installed headers above include CAF's actor headers (they belong in */internal)"
fi
for app in actors gateway apps; do
  [[ ! -e $tmp/staging/include/kastor/$app ]] || fail "application headers installed: kastor/$app"
done

step "2. installed CMake files name neither $source_dir nor $build_dir"
if grep -rlF -e "$source_dir" -e "$build_dir" "$cmake_dir"; then
  fail "the files above hard-code a path of the source or build tree"
fi

step "3. move the prefix"
mv "$tmp/staging" "$tmp/prefix"

step "4. configure, build and run the consumer against the moved prefix"
"$cmake" -S "$consumer_dir" -B "$tmp/build" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  ${CXX:+-DCMAKE_CXX_COMPILER="$CXX"} \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
found=$(sed -n 's/^kastor_DIR:PATH=//p' "$tmp/build/CMakeCache.txt")
[[ $found == "$tmp/prefix/"* ]] || fail "kastor found in '$found', not in the installed prefix"
"$cmake" --build "$tmp/build" -j 1
"$tmp/build/consumer"

echo "package: OK"
