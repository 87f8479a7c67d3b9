# `cpack -G DEB` makes the Debian packages: mutx holds ./usr/bin/mutx, the
# man page and the completions and depends on the shared libraries the
# binary links; mutx-dev holds the headers, the library and the CMake
# package. Packaged into $T, so the build tree is not touched.
. "$(dirname "$0")/lib.sh"
BUILD=${MUTX_BUILD_DIR:?MUTX_BUILD_DIR must point at the build tree}
# Packages and the installed library are made from release builds; a
# sanitized tree's libmutx.a and binary need the sanitizer runtimes.
[[ ${MUTX_SANITIZED:-0} == 1 ]] && skip "sanitized build: packaging is checked in the release build"
need_cmd cpack
need_cmd dpkg-deb
[[ -f $BUILD/CPackConfig.cmake ]] || skip "no CPackConfig.cmake in $BUILD"

case_ "a default build links mutx statically (MUTX_STATIC_RUNTIME is ON unless said otherwise)"
if grep -q '^MUTX_STATIC_RUNTIME:BOOL=OFF' "$BUILD/CMakeCache.txt"; then
  echo "note: MUTX_STATIC_RUNTIME=OFF in $BUILD; static link not checked" >&2
else
  expect_match "$(grep '^MUTX_STATIC_RUNTIME:' "$BUILD/CMakeCache.txt")" "=ON$" "MUTX_STATIC_RUNTIME in the cache"
  if ldd "$MUTX" >/dev/null 2>&1; then fail "$MUTX is dynamically linked: $(ldd "$MUTX" | tr '\n' ' ')"; else pass; fi
fi

case_ "cpack -G DEB"
if cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1; then pass; else fail "cpack failed: $(tail -10 "$T/cpack.log")"; fi
deb=$(ls "$T"/pkg/mutx_*.deb 2>/dev/null | head -1)
dev=$(ls "$T"/pkg/mutx-dev_*.deb 2>/dev/null | head -1)
[[ -n $deb ]] && pass || fail "no mutx_*.deb in $(ls "$T/pkg")"
[[ -n $dev ]] && pass || fail "no mutx-dev_*.deb in $(ls "$T/pkg")"

if [[ -n $deb ]]; then
  case_ "mutx package contents"
  dpkg-deb -c "$deb" | awk '{print $NF}' >"$T/contents"
  for f in ./usr/bin/mutx ./usr/share/man/man1/mutx.1.gz ./usr/share/bash-completion/completions/mutx \
    ./usr/share/zsh/site-functions/_mutx ./usr/share/fish/vendor_completions.d/mutx.fish; do
    grep -qx -- "$f" "$T/contents" && pass || fail "$f not in $(basename "$deb")"
  done
  grep -q '^./usr/include/' "$T/contents" && fail "headers belong in mutx-dev" || pass

  case_ "mutx package control fields"
  expect_eq "$(dpkg-deb -f "$deb" Package)" "mutx"
  version=$(sed -nE 's/^project\(mutx VERSION ([0-9.]+).*/\1/p' "$MUTX_SOURCE_DIR/CMakeLists.txt")
  expect_eq "$(dpkg-deb -f "$deb" Version)" "$version"
  depends=$(dpkg-deb -f "$deb" Depends)
  # Each shared library the binary needs, by its Debian package.
  mkdir "$T/x"
  dpkg-deb -x "$deb" "$T/x"
  # Depends names exactly the packages of the libraries ldd lists: none
  # missing, none extra. The default build is a static binary: no shared
  # library, no Depends; a MUTX_STATIC_RUNTIME=OFF build needs liburing2.
  needed=""
  static=""
  ldd "$T/x/usr/bin/mutx" >/dev/null 2>&1 || static=yes
  for lib in $(ldd "$T/x/usr/bin/mutx" 2>/dev/null | awk '/=>/ {print $3}'); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1)
    [[ -n $pkg ]] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
    [[ -z $pkg ]] && continue
    needed+="$pkg"$'\n'
  done
  expect_eq "$(sort -u <<<"$needed" | sed '/^$/d' | tr '\n' ' ')" \
    "$(sed 's/, */\n/g' <<<"$depends" | awk '{print $1}' | sort -u | sed '/^$/d' | tr '\n' ' ')" "Depends vs ldd"
  if [[ -n $static ]]; then
    expect_eq "$depends" "" "Depends of a static binary"
  else
    grep -q 'liburing2' <<<"$depends" && pass || fail "Depends lacks liburing2"
  fi
  "$T/x/usr/bin/mutx" --version >/dev/null && pass || fail "packaged mutx --version failed"
fi

if [[ -n $dev ]]; then
  case_ "mutx-dev package contents"
  dpkg-deb -c "$dev" | awk '{print $NF}' >"$T/dev-contents"
  for f in ./usr/include/mutx/mutx.hpp ./usr/lib/libmutx.a ./usr/lib/cmake/mutx/mutxConfig.cmake; do
    grep -qx -- "$f" "$T/dev-contents" || grep -q -- "${f%/*}/.*/${f##*/}\$" "$T/dev-contents" && pass || fail "$f not in $(basename "$dev")"
  done
  grep -q 'liburing-dev' <<<"$(dpkg-deb -f "$dev" Depends)" && pass || fail "mutx-dev does not depend on liburing-dev"
fi

finish
