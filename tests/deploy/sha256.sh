#!/usr/bin/env bash
# --sha256 HEX: the SHA-256 of the new content, computed as it flows, on
# both I/O paths and every input path (simple mode from a pipe, --stream,
# --input FILE, --append, the command form, a stream long enough for the
# direct-I/O slots): the right sum writes, a wrong one is "checksum
# mismatch (expected X, got Y)", exit 1, OUTPUT and its directory as they
# were. The sum reported with --json is sha256sum's.
. "$(dirname "$0")/lib.sh"

mkdir -p d
# 3 slots and an unaligned tail (sanitized builds: 1 slot and the tail)
MIB=9
[[ ${MUTX_SANITIZED:-0} == 1 ]] && MIB=4
head -c $((MIB * 1024 * 1024 + 4099)) /dev/urandom >big
printf 'old content\n' >old
sum() { sha256sum "$@" | cut -c1-64; }
BIG=$(sum big)
cat old big >old+big
OLDBIG=$(sum old+big)
SMALL=$(printf 'small\n' | sum)
WRONG=$(printf 'something else' | sum)

for io in uring syscalls; do
  export MUTX_IO=$io
  for how in simple stream input append command; do
    case_ "$io $how: the right sum writes"
    cp old d/t
    want=$BIG
    case $how in
      simple) cat big | "$MUTX" --sha256 "$BIG" d/t 2>err ;;
      stream) cat big | "$MUTX" --stream --sha256 "$BIG" d/t 2>err ;;
      input) "$MUTX" --input big --sha256 "$BIG" d/t 2>err ;;
      append) want=$OLDBIG; cat big | "$MUTX" --append --stream --sha256 "$OLDBIG" d/t 2>err ;;
      command) "$MUTX" --sha256 "$BIG" d/t -- cat "$T/big" 2>err ;;
    esac
    RC=$? ERR=$(cat err)
    expect_rc 0
    if [[ $how == append ]]; then expect_same_file d/t old+big; else expect_same_file d/t big; fi

    case_ "$io $how: a wrong sum leaves everything as it was"
    cp old d/t
    before=$(listing d)
    case $how in
      simple) cat big | "$MUTX" --sha256 "$WRONG" d/t 2>err ;;
      stream) cat big | "$MUTX" --stream --sha256 "$WRONG" d/t 2>err ;;
      input) "$MUTX" --input big --sha256 "$WRONG" d/t 2>err ;;
      append) cat big | "$MUTX" --append --stream --sha256 "$WRONG" d/t 2>err ;;
      command) "$MUTX" --sha256 "$WRONG" d/t -- cat "$T/big" 2>err ;;
    esac
    RC=$? ERR=$(cat err)
    expect_rc 1
    expect_eq "$(head -1 err)" "Error: d/t: checksum mismatch (expected $WRONG, got $want)" "stderr"
    expect_listing d "$before"
  done

  case_ "$io: a small write, upper-case hex, the sum in --json"
  run_in $'small\n' --json --sha256 "${SMALL^^}" d/s
  expect_rc 0
  expect_content d/s $'small\n'
  expect_eq "$(jq -r 'select(.event == "committed") | .sha256' <<<"$ERR")" "$SMALL" "committed sha256"
  run --json --stream --no-sync --input big d/s
  expect_eq "$(jq -r 'select(.event == "committed") | .sha256' <<<"$ERR")" "$BIG" "committed sha256 (--stream --no-sync)"
done
unset MUTX_IO

case_ "--json computes the sum: the content goes through mutx's buffers (no clone, copy_file_range or splice)"
head -c 200000 /dev/urandom >in.bin
run -vv --input in.bin d/plain
expect_match "$ERR" "Wrote 200000 bytes by (clone|copy_file_range)" "without --json"
run --json --input in.bin d/plain
expect_eq "$(jq -r 'select(.event == "committed") | [.changed, (.sha256 == "'"$(sha256sum <in.bin | cut -c1-64)"'"), (.strategy | test("clone|copy_file_range|splice"))] | join(" ")' <<<"$ERR")" \
  "true true false" "with --json: changed, sha256, strategy"
rm -f in.bin d/plain

case_ "not a SHA-256: refused before anything"
printf 'x\n' >d/u
before=$(listing d)
for bad in abc "${SMALL}0" "${SMALL:0:63}g" ""; do
  run_in $'x\n' --sha256 "$bad" d/u
  expect_rc 1
  expect_match "$ERR" "^Error: invalid SHA-256 '.*': expected 64 hexadecimal digits" "stderr for '$bad'"
done
expect_listing d "$before"

case_ "--sha256 is not taken from the config file"
mkdir -p cfg/mutx
printf 'sha256 = %s\n' "$SMALL" >cfg/mutx/config
OUT_=$(printf 'small\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" d/u 2>&1)
RC=$? ERR=$OUT_
expect_rc 1
expect_eq "$ERR" "Error: $T/cfg/mutx/config:1: 'sha256' cannot be set in the configuration file: a checksum is of one run's content"$'\n'"Hint: Give --sha256 on the command line." "stderr"
for key in check on-change; do
  printf '%s = true\n' "$key" >cfg/mutx/config
  OUT_=$(printf 'small\n' | XDG_CONFIG_HOME=$T/cfg "$MUTX" d/u 2>&1)
  RC=$? ERR=$OUT_
  expect_rc 1
  expect_eq "$ERR" "Error: $T/cfg/mutx/config:1: '$key' cannot be set in the configuration file: the command belongs to one file, and the file applies to every write"$'\n'"Hint: Give --$key on the command line." "stderr for $key"
done

finish
