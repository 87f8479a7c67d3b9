# The progress line of --stream: on a pseudo-terminal (util-linux script) a
# line with bytes, rate and elapsed time appears and is replaced at the end
# by a summary line (bytes, time, average rate); --no-progress suppresses
# it; it never appears when stderr is not a terminal unless --progress asks;
# a plain write leaves stderr empty; under --json the progress is JSON
# events, one a second; -q silences it. When the producer stalls, the clock
# goes on and the rate falls to 0 (it used to freeze on the last rate).
# Input typed at the terminal: one notice saying how to end it, and no
# progress line drawn over what is typed.
. "$(dirname "$0")/lib.sh"
need_cmd script
script -qfec true /dev/null </dev/null >/dev/null 2>&1 || skip "script(1) cannot allocate a pseudo-terminal here"

head -c 20000000 /dev/urandom >"$T/big"
LINE='[0-9.]+ (B|KiB|MiB|GiB)  [0-9.]+ (B|KiB|MiB|GiB)/s  [0-9]+s'
CLEAR=$'\r\e[K'
# The summary that replaces the line: what was written, in how long, at
# what average rate. 20000000 bytes are 19.1 MiB.
SUMMARY='[0-9.]+ (B|KiB|MiB|GiB) in [0-9]+\.[0-9]s \([0-9.]+ (B|KiB|MiB|GiB)/s\)'
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
# The last line drawn is erased and the summary stays, on a line of its own
# (the terminal turns \n into \r\n; $(...) drops the \n).
expect_match "$PTY" "${CLEAR}19\.1 MiB in [0-9]+\.[0-9]s \([0-9.]+ (B|KiB|MiB|GiB)/s\)"$'\r$' "end of the pty output"
expect_same_file "$T/big" "$T/out1"

case_ "--stream on a terminal, pipe input: shown without asking"
on_pty "cat $(q "$T/big") | $(q "$MUTX") --stream $(q "$T/out2")"
expect_rc 0
expect_match "$PTY" "$LINE" "pty output"
expect_match "$PTY" "${CLEAR}19\.1 MiB in [0-9]+\.[0-9]s \([0-9.]+ (B|KiB|MiB|GiB)/s\)"$'\r$' "end of the pty output"
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
# The summary is the last line, ended by a newline, after the erased line.
expect_eq "$(tail -c 1 "$T/err7" | od -An -c | tr -d ' ')" '\n' "last byte of stderr"
expect_match "$(cat "$T/err7")" "${CLEAR}19\.1 MiB in [0-9]+\.[0-9]s \([0-9.]+ (B|KiB|MiB|GiB)/s\)$" "stderr's last line"
expect_same_file "$T/big" "$T/out7"

case_ "a producer that stalls: the clock goes on and the rate falls to 0"
# 8 MiB (two of the engine's 4 MiB slots, so all of it is reported at
# once), 3 s of nothing, 8 MiB more. The line is redrawn five times a
# second; the rate is what arrived over the last two seconds.
{ head -c 8M /dev/zero; sleep 3; head -c 8M /dev/zero; } | "$MUTX" --stream --progress "$T/out10" 2>"$T/err10"
RC=$?
expect_rc 0
expect_eq "$(wc -c <"$T/out10")" 16777216 "bytes written"
expect_eq "$(tr -d '\0' <"$T/out10" | wc -c)" 0 "non-zero bytes in the output"
# One drawn line per \r; the lines while 8.0 MiB stood still.
tr '\r' '\n' <"$T/err10" | sed 's/^\x1b\[K//' | grep . >"$T/lines10"
grep -E '^8\.0 MiB  ' "$T/lines10" >"$T/stall10"
secs=$(sed -E 's/.*  ([0-9]+)s$/\1/' "$T/stall10" | sort -un | tr '\n' ' ')
expect_match "$secs" '(^| )1 2 ' "seconds shown while the input stalled"
grep -qE '^8\.0 MiB  0 B/s  [0-9]+s$' "$T/stall10" && pass || fail "the rate never fell to 0 B/s: $(tr '\n' '|' <"$T/stall10")"
# The rate never rises while nothing arrives.
rates=$(sed -E 's/^8\.0 MiB  ([0-9.]+) (B|KiB|MiB|GiB)\/s.*/\1 \2/' "$T/stall10" |
  awk '{ m = $2 == "GiB" ? 1073741824 : $2 == "MiB" ? 1048576 : $2 == "KiB" ? 1024 : 1; printf "%.0f\n", $1 * m }')
sort -nr -c <<<"$rates" 2>/dev/null && pass || fail "the rate rose during the stall: $(tr '\n' ' ' <<<"$rates")"
expect_match "$(tail -1 "$T/lines10")" '^16\.0 MiB in [3-9]\.[0-9]s \([0-9.]+ (KiB|MiB)/s\)$' "summary line"

case_ "--json --progress: one progress event a second, then a last one with done"
need_cmd jq
# 8 MiB and 1,000,000 bytes: the bytes count as they arrive, not as the
# engine's 4 MiB slots fill (the events said 8388608 while 9388608 had come).
{ head -c 9388608 /dev/zero; sleep 3.5; head -c 8M /dev/zero; } | "$MUTX" --stream --progress --json "$T/out11" 2>"$T/err11"
RC=$?
expect_rc 0
# Event k comes at k seconds after the lock is taken, never sooner (they
# came at 56 ms and 3,341 ms), and none is skipped on an idle machine.
times=$(jq -r 'select(.event == "progress" and (.done | not)) | .elapsed_ms' "$T/err11" | head -3 | tr '\n' ' ')
k=0
for t in $times; do
  k=$((k + 1))
  ((t >= k * 1000 && t < k * 1000 + 1000)) && pass || fail "progress event $k at $t ms (events at: $times)"
done
expect_eq "$k" 3 "progress events in the first 3 s"
expect_eq "$(jq -r 'select(.event == "progress" and (.done | not)) | "\(.bytes) \(.bytes_per_second)"' "$T/err11" | sed -n 3p)" \
  "9388608 0" "bytes (all that arrived) and rate at 3 s, 3 s into the stall"
expect_eq "$(jq -c 'select(.done) | [.event, .bytes, (.elapsed_ms >= 3500), (.message | test("^17\\.0 MiB in [0-9.]+s \\("))]' "$T/err11")" \
  '["progress",17777216,true,true]' "the last progress event"

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

case_ "input typed at the terminal: one notice, how to end it, no progress line"
NOTICE="Reading standard input from the terminal for out12; end it with Ctrl-D at the start of a line (Ctrl-C cancels)"
# script(1) passes its stdin to the terminal: a line, then Ctrl-D at the
# start of the next. The pause lets mutx start first (typed input is
# echoed at once, before or after the notice).
typed() { (sleep 0.5; printf 'typed\n'; sleep 0.3; printf '\004') | script -qfec "$1" /dev/null 2>&1; }
PTY=$(typed "$(q "$MUTX") out12")
expect_eq "$(grep -c "^$NOTICE"$'\r$' <<<"$PTY")" 1 "notice lines in $(printf '%q' "$PTY")"
expect_content "$T/out12" $'typed\n'
expect_eq "$(grep -v "^$NOTICE" <<<"$PTY")" $'typed\r' "the rest of the pty output (the echo of what was typed)"
# --stream on the terminal would draw its line over what is typed.
PTY=$(typed "$(q "$MUTX") --stream out12")
expect_eq "$(grep -c "^$NOTICE"$'\r$' <<<"$PTY")" 1 "notice lines with --stream"
expect_eq "$(grep -c ' in [0-9.]*s (' <<<"$PTY")$(grep -c $'\e' <<<"$PTY")" 00 "progress or summary lines with --stream"
PTY=$(typed "$(q "$MUTX") -q out12")
expect_eq "$PTY" $'typed\r' "pty output with -q (the echo of what was typed)"
PTY=$(typed "$(q "$MUTX") --json out12")
expect_eq "$(grep '"reading_terminal"' <<<"$PTY" | tr -d '\r' | jq -c '[.level, .message]')" "[\"notice\",\"$NOTICE\"]" "the --json event"
# Not typed: --input FILE on the terminal, or a command's output.
printf 'file\n' >"$T/in12"
PTY=$(typed "$(q "$MUTX") --input $(q "$T/in12") out12")
expect_eq "$(grep -c Reading <<<"$PTY")" 0 "notice lines with --input FILE"
expect_content "$T/out12" $'file\n'
PTY=$(typed "$(q "$MUTX") out12 -- echo cmd")
expect_eq "$(grep -c Reading <<<"$PTY")" 0 "notice lines with a command"
expect_content "$T/out12" $'cmd\n'

case_ "-q wins over --progress"
cat "$T/big" | "$MUTX" --stream --progress -q "$T/out9" 2>"$T/err9"
expect_eq "$(wc -c <"$T/err9")" "0" "stderr bytes"
expect_same_file "$T/big" "$T/out9"

finish
