# The documentation and completions name exactly the options the binary has:
# every long option --help prints (write and housekeep) is in the man page
# source and in each completion file, and nothing else is. --help, --version
# and housekeep --help exit 0; --version prints the CMake project version;
# either into a full device exits 1 with an error. What the man page says of
# options themselves: a mistyped long option is answered with the nearest
# one, `--input -` is standard input (and ./- the file named -), and every
# switch the config file can set has its opposite in --help.
. "$(dirname "$0")/lib.sh"
SRC=${MUTX_SOURCE_DIR:?MUTX_SOURCE_DIR must point at the source tree}

longopts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }

case_ "help and version exit 0"
run --help
expect_rc 0
HELP=$OUT
run housekeep --help
expect_rc 0
HK_HELP=$OUT
run --version
expect_rc 0
version=$(sed -nE 's/^project\(mutx VERSION ([0-9.]+).*/\1/p' "$SRC/CMakeLists.txt")
expect_eq "$OUT" "mutx $version" "mutx --version"
run -V
expect_eq "$OUT" "mutx $version" "mutx -V"

case_ "output that cannot be written is an error"
# As `echo >/dev/full`: exit 1 and say so, not a silent 0.
if [[ -w /dev/full ]]; then
  for args in "--help" "--version" "housekeep --help"; do
    CASE="$args >/dev/full"
    # shellcheck disable=SC2086
    "$MUTX" $args >/dev/full 2>"$T/.stderr"
    RC=$?
    ERR=$(cat "$T/.stderr")
    expect_rc 1
    expect_match "$ERR" "^Error: cannot write to standard output: No space left on device$" "stderr"
  done
else
  echo "note: no writable /dev/full; not run" >&2
fi

WRITE_OPTS=$(longopts <<<"$HELP")
HK_OPTS=$(longopts <<<"$HK_HELP")
ALL_OPTS=$(printf '%s\n%s\n' "$WRITE_OPTS" "$HK_OPTS" | sort -u)
case_ "help lists options"
# A sanity floor so an empty parse cannot pass: options every version has.
for o in --backup --backup-dir --symlinks --no-wait --stream --append; do
  grep -qx -- "$o" <<<"$WRITE_OPTS" && pass || fail "$o missing from --help"
done
for o in --clean-locks --clean-temps --clean-backups --all --older-than --keep-newest --dry-run; do
  grep -qx -- "$o" <<<"$HK_OPTS" && pass || fail "$o missing from housekeep --help"
done

# Both directions: file ⊇ help options, and file ⊆ help options.
same_set() {  # name file-options
  local name=$1 got=$2 missing extra
  missing=$(comm -23 <(echo "$ALL_OPTS") <(echo "$got") | grep . | tr '\n' ' ')
  extra=$(comm -13 <(echo "$ALL_OPTS") <(echo "$got") | grep . | tr '\n' ' ')
  [[ -z $missing ]] && pass || fail "$name lacks options that --help prints: $missing"
  [[ -z $extra ]] && pass || fail "$name names options that --help does not print: $extra"
}

case_ "a mistyped option names the nearest one"
for typo in bakup:backup no-bakcup:no-backup stram:stream timeot:timeout verbos:verbose \
  lock-fiel:lock-file no-sycn:no-sync bakup=3:backup; do
  run --"${typo%%:*}" OUT
  expect_rc 1
  expect_eq "$ERR" "Error: unrecognised option '--${typo%%:*}'"$'\n'"Hint: did you mean --${typo#*:}?" "stderr for --${typo%%:*}"
done
# Nothing near: the plain hint, no guess.
run --x OUT
expect_eq "$ERR" $'Error: unrecognised option \'--x\'\nHint: See \'mutx --help\'.' "stderr for --x"
run --frobnicate OUT
expect_eq "$ERR" $'Error: unrecognised option \'--frobnicate\'\nHint: See \'mutx --help\'.' "stderr for --frobnicate"
expect_missing OUT

case_ "--input - is standard input, ./- the file named -"
run_in $'from stdin\n' --input - OUT
expect_rc 0
expect_eq "$ERR" "" "stderr"
expect_content OUT $'from stdin\n'
run_in $'from stdin\n' -i - --stream OUT2
expect_rc 0
expect_content OUT2 $'from stdin\n'
printf 'from the file\n' >./-
run_in $'from stdin\n' --input ./- OUT
expect_rc 0
expect_content OUT $'from the file\n'
# A command reads OUTPUT's content on its stdin: --input - still excludes it.
run_in x --input - OUT -- cat
expect_rc 1
expect_match "$ERR" '^Error: --input cannot be combined with a command' "stderr"
expect_content OUT $'from the file\n'
rm -f ./- OUT OUT2

case_ "each switch the config file can set has its opposite in --help"
# The switches of the option table (no value), and what turns each off.
for pair in stream:no-stream append:no-append allow-empty:no-allow-empty preserve-mode:no-preserve-mode \
  preserve-owner:no-preserve-owner try-preserve-owner:no-preserve-owner parents:no-parents sync:no-sync \
  backup:no-backup backup-timestamp:no-backup-timestamp wait:no-wait keep-lock-file:no-keep-lock-file \
  verbose:no-verbose quiet:no-quiet json:no-json progress:no-progress compare:no-compare \
  in-place:no-in-place log:no-log; do
  for o in "${pair%%:*}" "${pair#*:}"; do
    grep -qx -- "--$o" <<<"$WRITE_OPTS" && pass || fail "--$o missing from --help"
  done
done

case_ "man page source"
same_set cli/mutx.1.scd "$(longopts <"$SRC/cli/mutx.1.scd")"
# The housekeep section documents each housekeep option.
hk_section=$(sed -n '/^# HOUSEKEEP/,/^# EXIT STATUS/p' "$SRC/cli/mutx.1.scd" | longopts)
missing=$(comm -23 <(echo "$HK_OPTS") <(echo "$hk_section") | grep . | tr '\n' ' ')
[[ -z $missing ]] && pass || fail "HOUSEKEEP section lacks: $missing"

case_ "bash completion"
same_set cli/completions/mutx.bash "$(grep -v '^ *#' "$SRC/cli/completions/mutx.bash" | longopts)"
case_ "zsh completion"
same_set cli/completions/_mutx "$(grep -v '^ *#' "$SRC/cli/completions/_mutx" | longopts)"
case_ "fish completion"
# fish names long options as `-l NAME`.
same_set cli/completions/mutx.fish "$(grep '^complete ' "$SRC/cli/completions/mutx.fish" | grep -oE -- ' -l [a-z][a-z0-9-]*' | sed 's/ -l /--/' | sort -u)"

finish
