# A staged `cmake --install` holds what a user and a programmer need: the
# binary, the man page, three completions where bash-completion, zsh and fish
# look, the headers, the library and the CMake package, and the license
# (share/doc/mutx/copyright, share/doc/mutx-dev/copyright: LICENSE's terms in
# Debian's DEP-5 form; docs_package.sh checks the form). The man page renders
# with man -l, without groff warnings, and names every long option of --help.
# The headers' references to docs/design.md name sections it has, and no
# header or document cites a DESIGN document outside the repository.
. "$(dirname "$0")/lib.sh"
BUILD=${MUTX_BUILD_DIR:?MUTX_BUILD_DIR must point at the build tree}
need_cmd cmake
need_cmd man

case_ "cmake --install to a staging prefix"
if cmake --install "$BUILD" --prefix "$T/stage" >"$T/install.log" 2>&1; then pass; else fail "cmake --install failed: $(tail -5 "$T/install.log")"; fi
S=$T/stage

case_ "installed files"
for f in bin/mutx \
  share/bash-completion/completions/mutx \
  share/zsh/site-functions/_mutx \
  share/fish/vendor_completions.d/mutx.fish \
  include/mutx/mutx.hpp include/mutx/error.hpp include/mutx/types.hpp include/mutx/housekeep.hpp \
  include/mutx/names.hpp \
  share/doc/mutx/copyright share/doc/mutx-dev/copyright; do
  [[ -f $S/$f ]] && pass || fail "$f not installed"
done
# The license: LICENSE's holder and the first line of its permission text.
for f in share/doc/mutx/copyright share/doc/mutx-dev/copyright; do
  holder=$(sed -nE 's/^Copyright \(c\) (.+)$/\1/p' "$MUTX_SOURCE_DIR/LICENSE")
  [[ -n $holder ]] && grep -qxF "Copyright: $holder" "$S/$f" 2>/dev/null && pass || fail "$f does not name LICENSE's holder '$holder'"
  grep -qx ' Permission is hereby granted, free of charge, to any person obtaining a copy' "$S/$f" 2>/dev/null && pass ||
    fail "$f lacks the MIT permission text"
done
# Every document an installed header cites (docs/NAME.md) is installed
# beside the development package's copyright.
for h in "$S"/include/mutx/*.hpp; do
  for doc in $(grep -ho 'docs/[a-z_]*\.md' "$h" | sort -u); do
    [[ -f $S/share/doc/mutx-dev/${doc#docs/} ]] && pass || fail "$(basename "$h") cites $doc, not installed as share/doc/mutx-dev/${doc#docs/}"
  done
done
# The engine's internals are not part of the installed API.
for f in ring.hpp ops.hpp pump.hpp lock.hpp writer.hpp staging.hpp; do
  [[ -e $S/include/mutx/$f ]] && fail "include/mutx/$f installed (internal)" || pass
done
[[ -x $S/bin/mutx ]] && pass || fail "bin/mutx is not executable"
man_page=$(ls "$S"/share/man/man1/mutx.1 "$S"/share/man/man1/mutx.1.gz 2>/dev/null | head -1)
[[ -n $man_page ]] && pass || fail "share/man/man1/mutx.1[.gz] not installed"
lib=$(find "$S" -name libmutx.a -path "$S/lib*" | head -1)
[[ -n $lib ]] && pass || fail "libmutx.a not installed under lib"
config=$(find "$S" -path "$S/lib*/cmake/mutx/mutxConfig.cmake" | head -1)
[[ -n $config ]] && pass || fail "lib/cmake/mutx/mutxConfig.cmake not installed"
[[ -f ${config%/*}/mutxConfigVersion.cmake ]] && pass || fail "mutxConfigVersion.cmake not installed"
grep -q 'mutx::engine' "${config%/*}"/mutxTargets.cmake 2>/dev/null && pass || fail "mutxTargets.cmake does not define mutx::engine"
# Every installed header stands alone: it compiles by itself against the
# staged prefix, with no Asio or liburing in what it pulls in.
for h in "$S"/include/mutx/*.hpp; do
  if pre=$(printf '#include <mutx/%s>\n' "${h##*/}" | c++ -std=c++20 -fsyntax-only -H -I"$S/include" -x c++ - 2>&1); then pass
  else fail "include/mutx/${h##*/} does not compile alone: $(tail -3 <<<"$pre")"; fi
  grep -q -e 'boost/asio' -e 'liburing' <<<"$pre" && fail "include/mutx/${h##*/} pulls in Asio or liburing" || pass
done

case_ "installed binary runs"
OUT=$("$S/bin/mutx" --version 2>&1)
expect_match "$OUT" '^mutx [0-9]+\.[0-9]+\.[0-9]+$' "installed mutx --version"
printf 'staged\n' | "$S/bin/mutx" "$T/written"
expect_content "$T/written" $'staged\n'

case_ "man -l renders the page"
if [[ -n $man_page ]]; then
  # --nh --nj: no hyphenation or justification, so option names stay whole.
  MANWIDTH=80 man --warnings --nh --nj -l "$man_page" >"$T/man.txt" 2>"$T/man.err"
  RC=$?
  ERR=$(cat "$T/man.err")
  expect_rc 0
  expect_eq "$ERR" "" "groff warnings"
  grep -q 'mutx - replace a file atomically' "$T/man.txt" && pass || fail "NAME line missing from rendered page"
  for section in SYNOPSIS DESCRIPTION OPTIONS HOUSEKEEP 'EXIT STATUS' FILES ENVIRONMENT EXAMPLES SECURITY LIMITATIONS 'SEE ALSO'; do
    grep -qx "$section" "$T/man.txt" && pass || fail "section $section missing from rendered page"
  done
  for o in $({ "$MUTX" --help; "$MUTX" housekeep --help; } | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -qE -- "(^|[^a-z-])$o([^a-z-]|\$)" "$T/man.txt" && pass || fail "rendered man page does not show $o"
  done
  grep -q 'MUTX_IO' "$T/man.txt" && pass || fail "MUTX_IO not in rendered page"
fi

case_ "the headers' references to docs/design.md name sections it has"
# The headers explain themselves by "docs/design.md, section N" (or
# "sections N and M"): the design notes ship in the source tree, and each
# N must be one of its "## N." headings.
design=$MUTX_SOURCE_DIR/docs/design.md
[[ -f $design ]] && pass || fail "docs/design.md is missing"
refs=$(grep -ohE 'docs/design\.md, sections? [0-9]+( and [0-9]+)?' "$MUTX_SOURCE_DIR"/engine/include/mutx/*.hpp |
  grep -oE '[0-9]+' | sort -u)
[[ -n $refs ]] && pass || fail "no header cites docs/design.md"
for n in $refs; do
  grep -qE "^## $n\. " "$design" 2>/dev/null && pass || fail "docs/design.md has no section $n"
done
# Nor does anything a user reads cite a design document outside the
# repository (the "DESIGN section N" of earlier versions).
outside=$(grep -lw 'DESIGN' "$MUTX_SOURCE_DIR"/engine/include/mutx/*.hpp "$MUTX_SOURCE_DIR"/docs/*.md \
  "$MUTX_SOURCE_DIR"/README.md "$MUTX_SOURCE_DIR"/cli/mutx.1.scd 2>/dev/null)
expect_eq "$outside" "" "files citing DESIGN"

finish
