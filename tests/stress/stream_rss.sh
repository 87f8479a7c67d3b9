#!/usr/bin/env bash
# Constant memory: 512 MiB (x MUTX_TEST_SIZE) through `mutx --stream` keeps
# the peak RSS under 32 MiB, on each strategy: durable pipe input (O_DIRECT
# ring writes), --no-sync (splice), the syscall path, a regular file given
# with --input and as stdin. The output is checked by size and against
# /dev/zero. A memory bound, measured with GNU time; not a timing test.
. "$(dirname "$0")/../cli/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
[[ -x /usr/bin/time ]] || skip "needs GNU time (/usr/bin/time)"
/usr/bin/time -f %M -o "$T/probe" true 2>/dev/null && [[ $(cat "$T/probe") =~ ^[0-9]+$ ]] ||
  skip "/usr/bin/time does not report %M"

MIB=$((1024 * 1024))
mib=$((512 * ${MUTX_TEST_SIZE:-1}))
bytes=$((mib * MIB))
limit_kib=$((32 * 1024))
free_kib=$(df -k --output=avail "$T" | tail -1 | tr -d ' ')
((free_kib > 2 * bytes / 1024 + 65536)) || skip "needs $((2 * mib)) MiB free in $T"
# AddressSanitizer's shadow memory and quarantine are not mutx's footprint:
# a sanitized build checks the bytes only.
sanitized=${MUTX_SANITIZED:-}

truncate -s "$bytes" sparse

# check_output LABEL: d/out is $bytes zero bytes; RSS from $T/rss.
check_output() {
  local size rss
  size=$(stat -c %s d/out 2>/dev/null)
  expect_eq "$size" "$bytes" "size of the output"
  if cmp -s -n "$bytes" d/out /dev/zero; then pass; else fail "d/out is not $bytes zero bytes"; fi
  rss=$(tail -1 "$T/rss")
  echo "$1: peak RSS ${rss} KiB for $mib MiB" >&2
  if [[ -n $sanitized ]]; then
    echo "note: sanitized build; RSS bound not asserted" >&2
  elif [[ $rss =~ ^[0-9]+$ ]] && ((rss < limit_kib)); then pass
  else fail "peak RSS ${rss} KiB, expected under $limit_kib KiB"; fi
  expect_only d out
  rm -f d/out
}

mkdir d
for flags in "--stream" "--stream --no-sync" "--stream --io=syscalls" "--stream --io=syscalls --no-sync"; do
  case_ "$mib MiB from a pipe [$flags]"
  # shellcheck disable=SC2086
  head -c "$bytes" /dev/zero | /usr/bin/time -f %M -o "$T/rss" "$MUTX" $flags d/out 2>"$T/.stderr"
  RC=${PIPESTATUS[1]} ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$ERR" "" "stderr"
  check_output "pipe [$flags]"
done

for flags in "--stream --input=sparse" "--input=sparse"; do
  case_ "$mib MiB from a regular file [$flags]"
  # shellcheck disable=SC2086
  /usr/bin/time -f %M -o "$T/rss" "$MUTX" $flags d/out 2>"$T/.stderr"
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  check_output "file [$flags]"
done

case_ "$mib MiB from a regular file on stdin, simple mode"
/usr/bin/time -f %M -o "$T/rss" "$MUTX" d/out <sparse 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
check_output "file on stdin (simple)"

finish
