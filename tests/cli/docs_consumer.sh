# examples/consumer, a standalone CMake project, finds the staged install
# with find_package(mutx), builds mutx-example and writes stdin to a file
# through the library API (mutx/mutx.hpp): bytes, lock file gone, no temps,
# mode kept, empty input refused with the target untouched.
. "$(dirname "$0")/lib.sh"
BUILD=${MUTX_BUILD_DIR:?MUTX_BUILD_DIR must point at the build tree}
# Packages and the installed library are made from release builds; a
# sanitized tree's libmutx.a and binary need the sanitizer runtimes.
[[ ${MUTX_SANITIZED:-0} == 1 ]] && skip "sanitized build: packaging is checked in the release build"
SRC=${MUTX_SOURCE_DIR:?MUTX_SOURCE_DIR must point at the source tree}
need_cmd cmake

case_ "stage the install"
if cmake --install "$BUILD" --prefix "$T/stage" >"$T/install.log" 2>&1; then pass; else fail "cmake --install: $(tail -5 "$T/install.log")"; fi

case_ "configure and build examples/consumer against it"
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if cmake -S "$SRC/examples/consumer" -B "$T/consumer" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$T/stage" >"$T/configure.log" 2>&1; then
  pass
else
  fail "configure failed: $(tail -15 "$T/configure.log")"
fi
# Found the staged package, not some other copy.
grep -q "$T/stage" "$T/consumer/CMakeCache.txt" && pass || fail "mutx_DIR does not point into the staged install"
if cmake --build "$T/consumer" -j 2 >"$T/build.log" 2>&1; then pass; else fail "build failed: $(tail -15 "$T/build.log")"; fi
case_ "the public header pulls in no Asio and no liburing"
pre=$(c++ -std=c++20 -E -I"$T/stage/include" "$SRC/examples/consumer/main.cpp" 2>&1)
[[ $? -eq 0 ]] && pass || fail "preprocessing failed: $(tail -5 <<<"$pre")"
expect_eq "$(grep -c -e 'boost/asio' -e 'liburing' <<<"$pre")" 0 "Asio or liburing lines in the preprocessed consumer"
EX=$T/consumer/mutx-example
[[ -x $EX ]] || { fail "no mutx-example binary"; finish; exit; }

mkdir "$T/w"
case_ "printf data | mutx-example out"
printf data | "$EX" "$T/w/out" 2>"$T/ex.err"
RC=$? ERR=$(cat "$T/ex.err")
expect_rc 0
expect_content "$T/w/out" "data"
expect_only "$T/w" out

case_ "replacing keeps the old mode"
chmod 640 "$T/w/out"
printf 'second\n' | "$EX" "$T/w/out" 2>"$T/ex.err"
RC=$? ERR=$(cat "$T/ex.err")
expect_rc 0
expect_content "$T/w/out" $'second\n'
expect_mode "$T/w/out" 640
expect_only "$T/w" out

case_ "empty input: error, target untouched"
"$EX" "$T/w/out" </dev/null 2>"$T/ex.err"
RC=$? ERR=$(cat "$T/ex.err")
expect_rc 1
expect_match "$ERR" 'Error: No input provided' "stderr"
expect_content "$T/w/out" $'second\n'
expect_only "$T/w" out

case_ "larger input through a pipe"
head -c 3000000 /dev/urandom >"$T/big"
cat "$T/big" | "$EX" "$T/w/big.out" 2>/dev/null
RC=$?
expect_rc 0
expect_same_file "$T/big" "$T/w/big.out"

finish
