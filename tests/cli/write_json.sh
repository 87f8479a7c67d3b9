#!/usr/bin/env bash
# What a write says: nothing on success by default, nothing but errors with
# -q, a "Wrote N bytes" line with -v, the I/O backend with -vv; --json: one
# JSON object per stderr line, a "committed" event with "bytes", and an
# error as a JSON object with "level":"error" and "exit_code". Nothing is
# ever printed on stdout.
. "$(dirname "$0")/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
need_cmd jq

mkdir d
head -c 12345 /dev/urandom >src

# Every line of $ERR is one JSON object.
all_json() {
  local n=0 bad=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    jq -e 'type == "object"' <<<"$line" >/dev/null 2>&1 || { bad=$((bad + 1)); echo "not JSON: $line" >&2; }
  done <<<"$ERR"
  if ((n > 0 && bad == 0)); then pass; else fail "$bad of $n stderr lines are not JSON objects"; fi
}
# The first line whose "event" is $1.
event() { jq -c --arg e "$1" 'select(.event == $e)' <<<"$ERR" 2>/dev/null | head -1; }

case_ "plain success: stdout and stderr empty"
for flags in "" "--stream" "-i src"; do
  # shellcheck disable=SC2086
  OUT=$("$MUTX" $flags d/out <src 2>"$T/.stderr")
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$OUT" "" "stdout [$flags]"
  expect_eq "$ERR" "" "stderr [$flags]"
  expect_same_file d/out src
done

case_ "-q: silent on success"
for flags in "-q" "--quiet" "-q --stream" "-q -v"; do
  # shellcheck disable=SC2086
  OUT=$("$MUTX" $flags d/out <src 2>"$T/.stderr")
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$OUT" "" "stdout [$flags]"
  expect_eq "$ERR" "" "stderr [$flags]"
done

case_ "-q: errors are still reported"
run_in 'x' -q nodir/out
expect_rc 1
expect_match "$ERR" "^Error: " "stderr"
run_in '' -q d/out
expect_rc 1
expect_match "$ERR" "^Error: No input provided" "stderr"
expect_same_file d/out src

case_ "-v: one line saying what was written"
run -v -i src d/out
expect_rc 0
expect_eq "$OUT" "" "stdout"
if grep -q -x 'Wrote 12345 bytes to d/out' <<<"$ERR"; then pass; else fail "no line 'Wrote 12345 bytes to d/out' in: $ERR"; fi
if [[ $ERR == *"I/O backend"* ]]; then fail "-v shows debug lines: $ERR"; else pass; fi

case_ "-vv: names the I/O backend and the staging"
run -vv -i src d/out
expect_rc 0
expect_match "$ERR" "I/O backend: (io_uring|syscalls)" "stderr"
expect_match "$ERR" "Staged with (O_TMPFILE|named temp)" "stderr"

for flags in "" "--stream" "-i src" "-v" "-vv" "-vv --stream" "--no-sync"; do
  case_ "--json success [$flags]"
  rm -f d/out
  # shellcheck disable=SC2086
  OUT=$("$MUTX" --json $flags d/out <src 2>"$T/.stderr")
  RC=$? ERR=$(cat "$T/.stderr")
  expect_rc 0
  expect_eq "$OUT" "" "stdout"
  expect_same_file d/out src
  all_json
  c=$(event committed)
  if [[ -n $c ]]; then pass; else fail "no committed event in: $ERR"; continue; fi
  expect_eq "$(jq -r .bytes <<<"$c")" 12345 "committed bytes"
  expect_eq "$(jq -r .level <<<"$c")" info "committed level"
  expect_eq "$(jq -r '.message | type' <<<"$c")" string "committed message"
  expect_eq "$(jq -r '.duration_ms | type' <<<"$c")" number "committed duration_ms"
  # Every line carries level, event and message.
  expect_eq "$(jq -c 'select((.level | type) != "string" or (.event | type) != "string" or (.message | type) != "string")' <<<"$ERR" | wc -l)" 0 "lines without level/event/message"
  if [[ $flags == *-vv* ]]; then
    expect_eq "$(event backend | jq -r .backend)" "$(event committed | jq -r .backend)" "backend in the debug event and in committed"
  fi
done

case_ "--json: the committed bytes of an empty --allow-empty write"
printf '' | "$MUTX" --json --allow-empty d/empty 2>"$T/.stderr"
RC=$? ERR=$(cat "$T/.stderr")
expect_rc 0
all_json
expect_eq "$(event committed | jq -r .bytes)" 0 "committed bytes"

# json_error EXIT: one JSON line with level error and exit_code.
json_error() {
  expect_rc "$1"
  all_json
  expect_eq "$(wc -l <<<"$ERR")" 1 "number of stderr lines"
  expect_eq "$(jq -r .level <<<"$ERR" 2>/dev/null)" error "level"
  expect_eq "$(jq -r .exit_code <<<"$ERR" 2>/dev/null)" "$1" "exit_code"
  expect_eq "$(jq -r '.message | type' <<<"$ERR" 2>/dev/null)" string "message"
}

case_ "--json error: missing directory"
run_in 'x' --json nodir/out
json_error 1
expect_match "$(jq -r .hint <<<"$ERR")" "--parents" "hint"
expect_missing nodir

case_ "--json error: empty input"
run_in '' --json d/out
json_error 1
expect_eq "$(jq -r .message <<<"$ERR")" "No input provided" "message"
expect_same_file d/out src

case_ "--json error: missing input file"
run --json -i nope d/out
json_error 1
expect_match "$(jq -r .message <<<"$ERR")" "nope" "message"

case_ "--json error: bad option value"
run_in 'x' --json --io=sideways d/out
json_error 1
run_in 'x' --json --frobnicate d/out
json_error 1
expect_same_file d/out src

case_ "--json error: a read-only target as uid 65534"
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  chmod 0755 "$T"
  chmod 0777 d
  if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$MUTX"; then
    printf 'x' | setpriv --reuid=65534 --regid=65534 --clear-groups "$MUTX" --json "$T/d/out" 2>"$T/.stderr"
    RC=$? ERR=$(cat "$T/.stderr")
    json_error 1
    expect_eq "$(jq -r .errno <<<"$ERR")" 13 "errno"
    expect_match "$(jq -r .message <<<"$ERR")" "Permission denied" "message"
    expect_same_file d/out src
  fi
  chmod 0755 d
fi

expect_only d out empty
finish
