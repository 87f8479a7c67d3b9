#!/usr/bin/env bash
# SIGTERM, SIGINT and SIGHUP anywhere in a write, from mutx's first
# instructions to its exit (issue 17, findings 7 and 10). Every run must end
# as exit 3 with `Interrupted`, the old content and the old backup, or as
# exit 0 with the new content: never death by the signal (143, 130, 129),
# never a hang (each run is bounded, then SIGKILLed), no temp or lock file
# left. Before the fix a signal before the handler was installed (the first
# ~0.7 ms) or after the loop ended killed mutx, and one handled after the
# commit re-armed the handler and left mutx waiting for good.
#
# 1. At each system call (strace injects the signal on its entry), from
#    mutx's first own one (blocking the signals, or on an old build ignoring
#    SIGPIPE at the top of main()) to exit_group: simple, --stream, --backup.
# 2. At random instants: 100 in the start of a write whose input has not
#    ended (so it must end with exit 3), then 300 simple-mode, 200 --stream
#    and 100 --backup writes with the signal anywhere from the end of the
#    input to just after the exit, each part within a time budget (a write
#    takes 2 ms here when the disk is idle, 30 when others keep it busy).
#    Times MUTX_TEST_SIZE; a sanitized build (MUTX_SANITIZED=1) takes a
#    fifth of the system calls and of the random runs.
# 3. The command of `mutx F -- CMD` starts with no signal blocked or ignored.
. "$(dirname "$0")/../cli/lib.sh"
export XDG_CONFIG_HOME=$T/no-config
[[ -n ${EPOCHREALTIME:-} ]] || skip "needs bash 5 (EPOCHREALTIME)"
[[ -r /proc/$$/status ]] || skip "needs /proc"
env --default-signal=INT true 2>/dev/null || skip "needs env --default-signal (coreutils 8.31)"
need_cmd timeout
mkdir w && cd w || exit 1

SIZE=${MUTX_TEST_SIZE:-1}
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 1 ]] || SIZE=1
SANITIZED=0
[[ ${MUTX_SANITIZED:-0} == 1 ]] && SANITIZED=1
scale() {  # runs for a release build -> runs here
  if ((SANITIZED)); then echo $(($1 * SIZE / 5)); else echo $(($1 * SIZE)); fi
}
# How long a run may take after its signal before it counts as hung: a
# normal one ends within milliseconds, one under strace within a second
# (64 ms here, 150 ms sanitized).
BOUND_S=10
((SANITIZED)) && BOUND_S=30
# A broken build fails the same way again and again: a part stops after 3
# hangs or 30 failures, so a hang per run cannot take hours.
HANGS=0
enough() { ((HANGS - $2 >= 3 || FAILS - $1 >= 30)); }  # FAILS0 HANGS0

# A script's background jobs start with SIGINT ignored, which mutx keeps
# ignored; start mutx with default dispositions, as a terminal or a service
# manager would. SIGPIPE too: its being ignored marks mutx's main() below.
# shellcheck disable=SC2054 # env takes a comma-separated list
DFL=(env --default-signal=INT,HUP,TERM,QUIT,PIPE)
SIGNALS=(TERM INT HUP)
exec {never}<> <(:)  # read -t on it is a sleep without a fork

now_us() { echo $((${EPOCHREALTIME/./})); }
spin_until() {  # busy-wait to a time in us: read -t and sleep are ~1 ms coarse
  while ((${EPOCHREALTIME/./} < $1)); do :; done
}
rand_upto() { echo $((((RANDOM << 15) | RANDOM) % ($1 + 1))); }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

# check MODE WHAT: after RC/HUNG, the run ended as exit 3 with the old state
# or (not in mode early, whose input had not ended) exit 0 with the new one,
# and nothing but OUT, its backup and the input FIFO is in the directory.
check() {
  local mode=$1 what=$2 out err backup="" names want=OUT f0=$FAILS
  out=$(<OUT) err=$(<"$T/err")
  [[ -f OUT.backup ]] && backup=$(<OUT.backup)
  shopt -s nullglob dotglob
  names=(*)
  shopt -u nullglob dotglob
  [[ $mode == backup ]] && want="OUT OUT.backup"
  if ((HUNG)); then
    HANGS=$((HANGS + 1))
    fail "$what: still running ${BOUND_S} s after the signal (OUT: '$out'); SIGKILLed"
  elif ((RC == 0)) && [[ $mode != early ]]; then
    [[ $out == new && -z $err ]] || fail "$what: exit 0 but OUT holds '$out', stderr '$err'"
    [[ $mode != backup || $backup == old ]] || fail "$what: exit 0 but OUT.backup holds '$backup', expected 'old'"
  elif ((RC == 3)); then
    [[ $out == old && $err == Interrupted ]] || fail "$what: exit 3 but OUT holds '$out', stderr '$err'"
    # The previous backup generation survives a write that did not commit.
    [[ $mode != backup || $backup == older ]] || fail "$what: exit 3 but OUT.backup holds '$backup', expected 'older'"
  elif ((RC > 128)); then
    fail "$what: killed by signal $((RC - 128)) (exit $RC); OUT holds '$out'"
  else
    fail "$what: exit $RC, stderr '$err'; OUT holds '$out'"
  fi
  [[ "${names[*]}" == "$want in" ]] || fail "$what: left [${names[*]}], expected [$want in]"
  if ((FAILS == f0)); then pass; else find . -mindepth 1 ! -name in -delete; fi
}
# prepare MODE: OUT holds 'old' (and, for --backup, OUT.backup 'older');
# FLAGS are mutx's options for MODE.
prepare() {
  FLAGS=()
  printf old >OUT
  case $1 in
  stream) FLAGS=(--stream) ;;
  backup)
    FLAGS=(--backup)
    printf older >OUT.backup
    ;;
  esac
}
mkfifo in || skip "cannot make a FIFO here"

# --- 1. A signal at each system call ----------------------------------------
if command -v strace >/dev/null 2>&1 && strace -o /dev/null -e inject=getppid:signal=SIGCONT true 2>/dev/null; then
  # The input is a pipe that holds all of it before mutx starts (bash makes
  # a small here-string a pipe), so every run makes the same calls.
  traced() {  # STRACE-OPTIONS...: one write under strace, bounded
    timeout -s KILL "$BOUND_S" strace "$@" "${DFL[@]}" "$MUTX" "${FLAGS[@]}" OUT <<<new 2>"$T/err"
  }
  is_start() {  # LINE of strace: mutx's first own call
    [[ $1 == 'rt_sigprocmask(SIG_BLOCK, [HUP INT TERM]'* || $1 == 'rt_sigaction(SIGPIPE, {sa_handler=SIG_IGN'* ]]
  }
  # delivered_before_start SIG: in $T/itrace, SIG reached the program before
  # its own code ran. Counts of some calls vary from run to run (the
  # sanitizer's runtime reads /proc/self/maps in more or fewer pieces), so
  # call #N is not always where it was in the reference trace.
  delivered_before_start() {
    local l
    while IFS= read -r l; do
      is_start "$l" && return 1
      [[ $l == "--- SIG$1 "* ]] && return 0
    done <"$T/itrace"
    return 1
  }
  for mode in simple stream backup; do
    case_ "a signal at each system call of a $mode write"
    prepare "$mode"
    traced -o "$T/trace"
    RC=$? HUNG=0
    check "$mode" "the run without a signal"
    mapfile -t calls < <(sed -n 's/^\([a-z_0-9]*\)(.*/\1/p' "$T/trace")
    mapfile -t lines <"$T/trace"
    # The calls to try, as NAME:N (the Nth call of NAME). Up to and
    # including mutx's first own call the signal comes while the kernel and
    # libc start the program, which no program can guard.
    unset count
    declare -A count=()
    tries=() mine=0
    for ((k = 0; k < ${#calls[@]}; k++)); do
      sc=${calls[k]}
      count[$sc]=$((${count[$sc]:-0} + 1))
      if ((!mine)); then
        is_start "${lines[k]}" && mine=1
      elif [[ $sc == exit_group ]]; then
        break
      elif ((!SANITIZED || k % 5 == 0)); then
        tries+=("$sc:${count[$sc]}")
      fi
    done
    runs=0 too_soon=0 f0=$FAILS h0=$HANGS t_start=$(now_us) m=${#tries[@]}
    # From both ends inward: a broken build shows what goes wrong at the
    # start and at the end of a write before the failure limit stops it.
    for ((j = 0; j < m; j++)); do
      enough "$f0" "$h0" && { echo "$mode: stopped after $((FAILS - f0)) failures" >&2 && break; }
      if ((j % 2)); then try=${tries[m - 1 - j / 2]}; else try=${tries[j / 2]}; fi
      sc=${try%:*} n=${try#*:}
      sig=${SIGNALS[runs % 3]}
      prepare "$mode"
      traced -o "$T/itrace" -e "trace=$sc,rt_sigprocmask,rt_sigaction" -e "inject=$sc:signal=SIG$sig:when=$n"
      RC=$? HUNG=0
      if delivered_before_start "$sig"; then
        too_soon=$((too_soon + 1))
        find . -mindepth 1 ! -name in -delete
        continue
      fi
      # timeout kills its process group, itself included: 137.
      ((RC == 137)) && HUNG=1
      runs=$((runs + 1))
      check "$mode" "SIG$sig at $sc #$n"
    done
    ((mine)) || fail "$mode: no call in the trace marks the start of mutx's own code"
    ((runs >= 10)) || fail "$mode: only $runs system calls tried"
    echo "$mode: a signal at $runs system calls, $((($(now_us) - t_start) / 1000)) ms" \
      "($too_soon more reached it before its own code ran, not counted)" >&2
  done
else
  echo "note: strace cannot inject signals here; part 1 not run" >&2
fi

# --- 2. A signal at a random instant ------------------------------------------
# mutx reads its input from the FIFO: the test decides when the input ends,
# so the signals can be aimed at the start of a write or at its commit.

# started PID: mutx's own code is running: it has blocked SIGINT, SIGTERM
# and SIGHUP (SigBlk 0x4003), or, an old build, ignored SIGPIPE at the top
# of main() (SigIgn 0x1000).
started() {
  local s blk ign
  s=$(<"/proc/$1/status") || return 1
  [[ $s == *$'Name:\tmutx\n'* ]] || return 1
  blk=${s#*$'\nSigBlk:\t'} ign=${s#*$'\nSigIgn:\t'}
  (((16#${blk:0:16} & 0x4003) == 0x4003 || (16#${ign:0:16} & 0x1000)))
}
state() {  # PID -> STATE: R, S, D, ... (Z: exited); 1 when gone
  local s
  s=$(<"/proc/$1/stat") || return 1
  s=${s##*) }
  STATE=${s:0:1}
}
alive() { state "$1" && [[ $STATE != Z ]]; }  # kill -0 cannot tell: bash reaps late
# until_ready PID [--waiting]: until mutx runs its own code (and, with
# --waiting, sleeps: it waits for its input), or has exited. Bounded.
until_ready() {
  local deadline=$(($(now_us) + BOUND_S * 1000000))
  while (($(now_us) < deadline)); do
    alive "$1" 2>/dev/null || return 0
    started "$1" 2>/dev/null && [[ -z ${2:-} || $STATE == S ]] && return 0
  done
}
# wait_end PID: RC = its exit status; HUNG=1 if it was still running BOUND_S
# seconds later (then SIGKILLed).
wait_end() {
  local deadline=$(($(now_us) + BOUND_S * 1000000))
  HUNG=0
  while alive "$1" 2>/dev/null && (($(now_us) < deadline)); do read -r -t 0.001 -u "$never"; done
  if alive "$1" 2>/dev/null; then
    HUNG=1
    kill -KILL "$1"
  fi
  wait "$1"
  RC=$?
}
# start MODE: mutx writing in the background from the FIFO: PID is mutx's,
# W the FIFO's write end. feed: 'new' and the end of the input.
start() {
  prepare "$1"
  "${DFL[@]}" "$MUTX" "${FLAGS[@]}" OUT <in 2>"$T/err" &
  PID=$!
  exec {W}>in
}
feed() {
  printf new >&"$W"
  exec {W}>&-
}

# calibrate MODE: medians of 9 runs without a signal: STARTUP_US from
# started() to waiting for input, SPAN_US from the end of the input to the
# exit, so the signals spread over the write whatever the speed of the
# build and the load of the machine.
calibrate() {
  local i t0 t1 starts=() spans=()
  for ((i = 0; i < 9; i++)); do
    start "$1"
    until_ready "$PID"
    t0=$(now_us)
    until_ready "$PID" --waiting
    t1=$(now_us)
    feed
    wait_end "$PID"
    ((RC == 0 && !HUNG)) || fail "calibration run $i of $1: exit $RC, $(<"$T/err")"
    starts+=($((t1 - t0)))
    spans+=($(($(now_us) - t1)))
  done
  STARTUP_US=$(median "${starts[@]}")
  SPAN_US=$(median "${spans[@]}")
  rm -f OUT.backup
}

# signal_runs MODE RUNS MAX_US BUDGET_S: RUNS writes (fewer if BUDGET_S
# seconds run out), each sent a random one of SIGTERM/SIGINT/SIGHUP a
# uniform random 0..MAX_US us after started() (mode early: its input ends
# only after the signal) or after the end of its input. Counts the runs
# (RUNS_DONE) and where the signals landed: BEFORE the rename, AFTER it, or
# GONE (after the exit).
signal_runs() {
  local mode=$1 runs=$2 max_us=$3 i d sig f0=$FAILS h0=$HANGS t_start summary="" rc
  local -A seen=()
  BEFORE=0 AFTER=0 GONE=0
  t_start=$(now_us)
  local t_end=$((t_start + $4 * SIZE * 1000000))
  for ((i = 0; i < runs && $(now_us) < t_end; i++)); do
    enough "$f0" "$h0" && { echo "$mode: stopped after $((FAILS - f0)) failures" >&2 && break; }
    d=$(rand_upto "$max_us")
    sig=${SIGNALS[RANDOM % 3]}
    start "$mode"
    if [[ $mode == early ]]; then
      until_ready "$PID"
    else
      until_ready "$PID" --waiting
      feed
    fi
    spin_until $(($(now_us) + d))
    if ! alive "$PID" 2>/dev/null; then
      GONE=$((GONE + 1))
    elif [[ $(<OUT) == old ]]; then
      BEFORE=$((BEFORE + 1))
    else
      AFTER=$((AFTER + 1))
    fi
    kill -s "$sig" "$PID" 2>/dev/null
    wait_end "$PID"
    [[ $mode == early ]] && exec {W}>&-
    seen[$RC]=$((${seen[$RC]:-0} + 1))
    check "$mode" "run $i, SIG$sig ${d} us after $([[ $mode == early ]] && echo start || echo the input)"
  done
  RUNS_DONE=$i
  for rc in "${!seen[@]}"; do summary+=" exit $rc: ${seen[$rc]};"; done
  echo "$mode: $i runs in $((($(now_us) - t_start) / 1000)) ms, signals over 0..$max_us us:" \
    "$BEFORE before the rename, $AFTER after it, $GONE after the exit;$summary" >&2
}
# aimed WHAT: the signals reached mutx at work, and some after the rename,
# or a run timed far off (a load spike) would pass having tested nothing.
# (Where they land varies with the load: in runs here 18% to 36% after the
# rename, 0% to 30% before it.)
aimed() {
  ((BEFORE + AFTER >= RUNS_DONE / 10 && AFTER >= 1)) ||
    fail "$1: $BEFORE signals landed before the rename and $AFTER after it, of $RUNS_DONE"
}

declare -A SPAN
for mode in simple stream backup; do
  calibrate "$mode"
  echo "$mode: ${STARTUP_US} us from main() to waiting for input, ${SPAN_US} us from its end to the exit" >&2
  [[ $mode == simple ]] && EARLY_US=$STARTUP_US
  SPAN[$mode]=$SPAN_US
done

case_ "signals in the start of a write"
signal_runs early "$(scale 100)" $((EARLY_US * 5 / 4)) 5
case_ "signals around the commit of a simple-mode write"
signal_runs simple "$(scale 300)" $((SPAN[simple] * 5 / 4)) 12
aimed simple
case_ "signals around the commit of a --stream write"
signal_runs stream "$(scale 200)" $((SPAN[stream] * 5 / 4)) 8
aimed stream
case_ "signals around the commit of a --backup write"
signal_runs backup "$(scale 100)" $((SPAN[backup] * 5 / 4)) 6
aimed backup
rm -f OUT OUT.backup

# --- 3. The command's signals ---------------------------------------------------
case_ "the command of mutx F -- CMD starts with no signal blocked or ignored"
"${DFL[@]}" "$MUTX" status -- cat /proc/self/status 2>"$T/err"
RC=$?
expect_rc 0
blk=$(sed -n 's/^SigBlk:\t//p' status)
ign=$(sed -n 's/^SigIgn:\t//p' status)
expect_eq "$blk" 0000000000000000 "SigBlk of the command"
# HUP INT QUIT PIPE TERM XFSZ (0x1005007): those mutx blocks or ignores.
# (glibc's posix_spawn leaves its own internal signals 32 and 33 ignored.)
if [[ ! $ign =~ ^[0-9a-f]{16}$ ]]; then
  fail "no SigIgn in the command's /proc/self/status: '$ign'"
elif ((16#$ign & 0x1005007)); then
  fail "the command starts with signals ignored: SigIgn $ign"
else
  pass
fi
rm -f status in
expect_only .

finish
