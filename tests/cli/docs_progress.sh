# The progress line of --stream: on a pseudo-terminal (util-linux script) a
# line with bytes, rate and elapsed time appears and is cleared at the end;
# --no-progress suppresses it; it never appears when stderr is not a terminal
# unless --progress asks; a plain write leaves stderr empty; under --json
# the progress is JSON events; -q silences it.
. "$(dirname "$0")/lib.sh"
need_cmd script
script -qfec true /dev/null </dev/null >/dev/null 2>&1 || skip "script(1) cannot allocate a pseudo-terminal here"

head -c 20000000 /dev/urandom >"$T/big"
LINE='[0-9.]+ (B|KiB|MiB|GiB)  [0-9.]+ (B|KiB|MiB|GiB)/s  [0-9]+s'
CLEAR=$'\r\e[K'
q() { printf '%q' "$1"; }

on_pty() {  # command string; output of the pty (stdout+stderr) in PTY
  PTY=$(script -qfec "$1" /dev/null </dev/null 2>&1)
  RC=$?
}

case_ "--stream --progress on a terminal, file input: line with percent"
on_pty "$(q "$MUTX") --stream --progress $(q "$T/out1") < $(q "$T/big")"
expect_rc 0
expect_match "$PTY" "$LINE" "pty output"
expect_match "$PTY" '[0-9]+%  ETA [0-9]+s' "pty output (size known)"
[[ $PTY == *"$CLEAR" ]] && pass || fail "the progress line is not cleared at the end: $(printf '%q' "${PTY: -20}")"
expect_same_file "$T/big" "$T/out1"

case_ "--stream on a terminal, pipe input: shown without asking"
on_pty "cat $(q "$T/big") | $(q "$MUTX") --stream $(q "$T/out2")"
expect_rc 0
expect_match "$PTY" "$LINE" "pty output"
[[ $PTY == *"$CLEAR" ]] && pass || fail "the progress line is not cleared at the end"
expect_same_file "$T/big" "$T/out2"

case_ "--no-progress on a terminal"
on_pty "cat $(q "$T/big") | $(q "$MUTX") --stream --no-progress $(q "$T/out3")"
expect_rc 0
expect_eq "$PTY" "" "pty output"
on_pty "cat $(q "$T/big") | $(q "$MUTX") --stream --progress --no-progress $(q "$T/out3")"
expect_eq "$PTY" "" "pty output with --progress --no-progress"

case_ "a plain write on a terminal prints nothing"
on_pty "printf data | $(q "$MUTX") $(q "$T/out4")"
expect_rc 0
expect_eq "$PTY" "" "pty output"
expect_content "$T/out4" data

case_ "stderr not a terminal: empty for a plain write and for --stream"
printf data | "$MUTX" "$T/out5" 2>"$T/err5"
expect_eq "$(wc -c <"$T/err5")" "0" "stderr bytes, plain write"
cat "$T/big" | "$MUTX" --stream "$T/out6" 2>"$T/err6"
expect_eq "$(wc -c <"$T/err6")" "0" "stderr bytes, --stream"
expect_same_file "$T/big" "$T/out6"

case_ "--progress forces it when stderr is a file"
cat "$T/big" | "$MUTX" --stream --progress "$T/out7" 2>"$T/err7"
expect_match "$(cat "$T/err7")" "$LINE" "stderr"
expect_same_file "$T/big" "$T/out7"

case_ "--json --progress: progress events, every line one JSON object"
need_cmd jq
{ head -c 5000000 "$T/big"; sleep 1.2; tail -c +5000001 "$T/big"; } |
  "$MUTX" --stream --progress --json "$T/out8" 2>"$T/err8"
RC=$?
expect_rc 0
expect_same_file "$T/big" "$T/out8"
if jq -e . "$T/err8" >/dev/null 2>&1 && [[ $(jq -s length "$T/err8") == $(wc -l <"$T/err8") ]]; then pass
else fail "stderr is not one JSON object per line: $(head -c 300 "$T/err8" | cat -A)"; fi
expect_eq "$(grep -c $'\r' "$T/err8")" 0 "carriage returns in stderr"
expect_match "$(jq -r 'select(.event == "progress") | "\(.bytes) \(.elapsed_ms) \(.bytes_per_second)"' "$T/err8" | head -1)" \
  '^[1-9][0-9]* [0-9]+ [0-9]+$' "first progress event"
expect_eq "$(jq -r 'select(.event == "committed") | .bytes' "$T/err8")" 20000000 "committed bytes"

case_ "-q wins over --progress"
cat "$T/big" | "$MUTX" --stream --progress -q "$T/out9" 2>"$T/err9"
expect_eq "$(wc -c <"$T/err9")" "0" "stderr bytes"
expect_same_file "$T/big" "$T/out9"

finish
