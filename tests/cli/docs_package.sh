# `cpack -G DEB` makes the Debian packages: mutx holds ./usr/bin/mutx
# (stripped), the man page and the completions and depends on the shared
# libraries the binary links; mutx-dev holds the headers, the library and
# the CMake package. Each carries what Debian policy asks of every package:
# /usr/share/doc/PACKAGE/copyright in the machine-readable (DEP-5) format,
# holding the license of LICENSE; a Maintainer with a name and an address;
# a Description with a synopsis and a wrapped long description. Packaged
# into $T, so the build tree is not touched.
. "$(dirname "$0")/lib.sh"
BUILD=${MUTX_BUILD_DIR:?MUTX_BUILD_DIR must point at the build tree}
# Packages and the installed library are made from release builds; a
# sanitized tree's libmutx.a and binary need the sanitizer runtimes.
[[ ${MUTX_SANITIZED:-0} == 1 ]] && skip "sanitized build: packaging is checked in the release build"
need_cmd cpack
need_cmd dpkg-deb
need_cmd readelf
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

# LICENSE's copyright holder and permission text (from "Permission" to the
# end), the two things the copyright file must carry.
license_holder=$(sed -nE 's/^Copyright \(c\) (.+)$/\1/p' "$MUTX_SOURCE_DIR/LICENSE")
license_text=$(sed -n '/^Permission is hereby granted/,$p' "$MUTX_SOURCE_DIR/LICENSE")
[[ -n $license_holder && -n $license_text ]] && pass || fail "LICENSE lacks a 'Copyright (c)' line or the MIT permission text"

# check_package DEB: the control fields and the copyright file every
# package needs.
check_package() {
  local deb=$1 pkg x desc synopsis long
  pkg=$(dpkg-deb -f "$deb" Package)
  x=$T/meta-$pkg
  mkdir -p "$x"
  dpkg-deb -x "$deb" "$x"

  case_ "$pkg: Maintainer is a name and an address"
  expect_match "$(dpkg-deb -f "$deb" Maintainer)" '^[A-Za-z][^<>]* <[^<>@ ]+@[^<>@ ]+\.[a-z]+>$' "Maintainer"
  expect_match "$(dpkg-deb -f "$deb" Maintainer)" '@mutx\.invalid>$' "Maintainer (no real-world address)"

  case_ "$pkg: Description is a synopsis and a long description"
  desc=$(dpkg-deb -f "$deb" Description)
  synopsis=$(head -1 <<<"$desc")
  long=$(tail -n +2 <<<"$desc")
  ((${#synopsis} > 10 && ${#synopsis} <= 80)) && pass || fail "synopsis of ${#synopsis} characters: '$synopsis'"
  [[ $synopsis == *. ]] && fail "synopsis ends with a full stop: '$synopsis'" || pass
  (($(wc -l <<<"$long") >= 5)) && pass || fail "long description of fewer than 5 lines: '$long'"
  # Each line indented one space and at most 80 columns; a blank line is
  # written ' .'. A ';' is CPack's list separator leaking into the text.
  bad=$(grep -vE '^ ([^ ].{0,78}|\.)$' <<<"$long")
  expect_eq "$bad" "" "long-description lines not indented or longer than 80 columns"
  grep -q ';' <<<"$desc" && fail "';' in Description (a CPack list): $desc" || pass
  [[ $(dpkg-deb -f "$deb" Description | wc -c) -gt 300 ]] && pass || fail "Description under 300 bytes"

  case_ "$pkg: /usr/share/doc/$pkg/copyright is DEP-5 and holds LICENSE"
  local c=$x/usr/share/doc/$pkg/copyright
  if [[ ! -f $c ]]; then
    fail "./usr/share/doc/$pkg/copyright not in $(basename "$deb")"
    return
  fi
  expect_eq "$(head -1 "$c")" "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" "first line"
  expect_eq "$(sed -n 's/^Upstream-Name: //p' "$c")" "mutx" "Upstream-Name"
  # The files paragraph: Files: *, the holder, the license by its Debian
  # name (Expat is the MIT license's text), and the text itself, each line
  # indented one space, ' .' for a blank one.
  expect_eq "$(sed -n 's/^Files: //p' "$c")" "*" "Files"
  expect_eq "$(sed -n 's/^Copyright: //p' "$c")" "$license_holder" "Copyright"
  expect_eq "$(sed -n 's/^License: //p' "$c")" "Expat" "License"
  expect_eq "$(sed -n '/^License: /,/^$/p' "$c" | tail -n +2 | sed -e 's/^ \.$//' -e 's/^ //')" "$license_text" "license text"
  expect_eq "$(sed -n '/^License: /,$p' "$c" | tail -n +2 | grep -vE '^ ' | grep -v '^$')" "" "unindented lines in the license text"
}
[[ -n $deb ]] && check_package "$deb"
[[ -n $dev ]] && check_package "$dev"
if [[ -n $deb && -n $dev ]]; then
  case_ "each package has its own synopsis"
  [[ $(dpkg-deb -f "$deb" Description | head -1) != "$(dpkg-deb -f "$dev" Description | head -1)" ]] && pass ||
    fail "mutx and mutx-dev share the synopsis '$(dpkg-deb -f "$deb" Description | head -1)'"
fi

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

  case_ "the packaged binary is stripped"
  # No symbol table (.symtab) left (the build tree's binary has one).
  readelf -S "$T/x/usr/bin/mutx" | grep -q '\.symtab' && fail "./usr/bin/mutx has a .symtab: not stripped" || pass
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
