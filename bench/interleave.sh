# Shared by the drivers that time short commands in interleaved rounds
# (small.sh, dirsize.sh). Source it; it defines:
#
#   interleave OUT PREFIX ROUNDS PER   run every command of the arrays
#       `names` and `cmds` PER times in each of ROUNDS rounds (hyperfine -N,
#       5 warm-up runs), the order rotating from round to round, writing
#       OUT/PREFIX-rR-cI.json. A short command takes a few ms and this
#       machine's speed drifts by 30% over minutes, so commands timed in one
#       block each, one after the other, would be compared at different
#       speeds; pooled over rotating rounds they are not.
#   stats FILE...   "mean sd median" in seconds over the pooled run times
#   ms SECONDS      milliseconds with two decimals
#   ratio A B       A / B with two decimals

interleave() {
  local out=$1 prefix=$2 rounds=$3 per=$4 n=${#cmds[@]} r k i
  for ((r = 0; r < rounds; r++)); do
    for ((k = 0; k < n; k++)); do
      i=$(( (k + r) % n ))
      hyperfine -N --style none --warmup 5 --runs "$per" --export-json "$out/$prefix-r$r-c$i.json" \
        -n "${names[$i]}" "${cmds[$i]}" >"$out/hyperfine.log" 2>&1 || { cat "$out/hyperfine.log" >&2; return 1; }
    done
  done
}

stats() {
  jq -s -r '[.[].results[0].times[]] | sort | length as $n | (add / $n) as $m
    | (map(. - $m | . * .) | add / (if $n > 1 then $n - 1 else 1 end) | sqrt) as $sd
    | (if $n % 2 == 1 then .[($n - 1) / 2] else (.[$n / 2 - 1] + .[$n / 2]) / 2 end) as $med
    | "\($m) \($sd) \($med)"' "$@"
}
ms() { awk -v x="$1" 'BEGIN { printf "%.2f", x * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
