# Tab completion as a shell user meets it. bash: through bash-completion
# (complete -p, then the completion function driven with COMP_WORDS and
# COMP_CWORD as readline would); fish: `complete -C`; zsh: the file parses.
# `mutx --back` offers the backup options, `--symlinks=` its three values,
# `mutx housekeep --` the housekeep options, and `mutx --` exactly the long
# options of --help.
. "$(dirname "$0")/lib.sh"
SRC=${MUTX_SOURCE_DIR:?MUTX_SOURCE_DIR must point at the source tree}
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[[ -r $BASH_COMPLETION ]] || skip "needs bash-completion ($BASH_COMPLETION)"

longopts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
WRITE_OPTS=$("$MUTX" --help | longopts)
HK_OPTS=$("$MUTX" housekeep --help | longopts)

# One query per line of $T/queries: COMP_CWORD, COMP_LINE, then the words,
# tab-separated. The driver prints the sorted COMPREPLY after a header line.
cat >"$T/drive.bash" <<'DRIVER'
. "$1"
. "$2"
echo "== complete -p"
complete -p mutx
while IFS=$'\t' read -r cword line rest; do
  IFS=$'\t' read -r -a COMP_WORDS <<<"$rest"
  # `read -a` drops a trailing empty field: the word being completed.
  ((${#COMP_WORDS[@]} == cword)) && COMP_WORDS+=("")
  COMP_CWORD=$cword COMP_LINE=$line COMP_POINT=${#line} COMPREPLY=()
  _mutx mutx "${COMP_WORDS[cword]}" "${COMP_WORDS[cword - 1]}"
  echo "== $line"
  printf '%s\n' "${COMPREPLY[@]}" | sort -u | grep .
done <"$3"
DRIVER

query() {  # cword line word...
  local cword=$1 line=$2
  shift 2
  local IFS=$'\t'
  printf '%s\t%s\t%s\n' "$cword" "$line" "$*" >>"$T/queries"
}
query 1 "mutx --back" mutx --back
query 3 "mutx --symlinks=" mutx --symlinks = ""
query 3 "mutx --symlinks=re" mutx --symlinks = re
query 2 "mutx --symlinks " mutx --symlinks ""
query 3 "mutx --io=" mutx --io = ""
query 1 "mutx --" mutx --
query 2 "mutx housekeep --" mutx housekeep --
query 2 "mutx housekeep --cl" mutx housekeep --cl
query 1 "mutx hou" mutx hou
query 1 "mutx fil" mutx fil
query 3 "mutx out -- ech" mutx out -- ech
touch "$T/file1" "$T/file2"

bash --norc --noprofile "$T/drive.bash" "$BASH_COMPLETION" "$SRC/cli/completions/mutx.bash" "$T/queries" >"$T/out" 2>"$T/err"
reply() { sed -n "/^== $1\$/,/^==/p" "$T/out" | grep -v '^=='; }

case_ "bash: complete -p mutx"
expect_eq "$(reply 'complete -p')" "complete -F _mutx mutx"

case_ "bash: mutx --back<TAB>"
expect_eq "$(reply 'mutx --back')" "$(grep -- '^--back' <<<"$WRITE_OPTS")"
for o in --backup --backup-dir --backup-suffix --backup-timestamp --backup-mode; do
  grep -qx -- "$o" <<<"$(reply 'mutx --back')" && pass || fail "$o not offered"
done

case_ "bash: mutx --symlinks=<TAB>"
expect_eq "$(reply 'mutx --symlinks=')" "$(printf '%s\n' follow refuse replace)"
expect_eq "$(reply 'mutx --symlinks=re')" "$(printf '%s\n' refuse replace)"
expect_eq "$(reply 'mutx --symlinks ')" "$(printf '%s\n' follow refuse replace)"
case_ "bash: mutx --io=<TAB>"
expect_eq "$(reply 'mutx --io=')" "$(printf '%s\n' auto syscalls uring)"

case_ "bash: mutx --<TAB> is exactly the long options of --help"
expect_eq "$(reply 'mutx --')" "$WRITE_OPTS"
case_ "bash: mutx housekeep --<TAB> is exactly the housekeep options"
expect_eq "$(reply 'mutx housekeep --')" "$HK_OPTS"
expect_eq "$(reply 'mutx housekeep --cl')" "$(printf '%s\n' --clean-backups --clean-locks --clean-temps)"

case_ "bash: subcommand, files, command after --"
expect_eq "$(reply 'mutx hou')" "housekeep"
expect_eq "$(reply 'mutx fil')" "$(printf '%s\n' file1 file2)"
grep -qx echo <<<"$(reply 'mutx out -- ech')" && pass || fail "mutx out -- ech<TAB> does not offer echo"

case_ "bash: installed layout is found by bash-completion's loader"
# bash-completion looks in $XDG_DATA_DIRS/bash-completion/completions/NAME.
mkdir -p "$T/share/bash-completion/completions"
cp "$SRC/cli/completions/mutx.bash" "$T/share/bash-completion/completions/mutx"
got=$(XDG_DATA_DIRS=$T/share bash --norc --noprofile -c '. "$1"; __load_completion mutx; complete -p mutx' _ "$BASH_COMPLETION" 2>&1)
expect_eq "$got" "complete -F _mutx mutx"

if command -v fish >/dev/null 2>&1; then
  fish_complete() { fish --no-config -c "source '$SRC/cli/completions/mutx.fish'; complete -C'$1'" | cut -f1 | sort -u; }
  case_ "fish: mutx --back<TAB>"
  expect_eq "$(fish_complete 'mutx --back')" "$(grep -- '^--back' <<<"$WRITE_OPTS")"
  case_ "fish: mutx --symlinks=<TAB>"
  expect_eq "$(fish_complete 'mutx --symlinks=')" "$(printf '%s\n' --symlinks=follow --symlinks=refuse --symlinks=replace)"
  case_ "fish: mutx housekeep --<TAB>"
  expect_eq "$(fish_complete 'mutx housekeep --')" "$HK_OPTS"
  case_ "fish: mutx --<TAB>"
  expect_eq "$(fish_complete 'mutx --')" "$WRITE_OPTS"
else
  echo "note: fish not installed, fish completion checked by docs_options only" >&2
fi

if command -v zsh >/dev/null 2>&1; then
  case_ "zsh: _mutx parses"
  if zsh -n "$SRC/cli/completions/_mutx" 2>"$T/zerr"; then pass; else fail "zsh -n: $(cat "$T/zerr")"; fi
else
  echo "note: zsh not installed, zsh completion checked by docs_options only" >&2
fi

[[ $FAILS -eq 0 ]] || { echo "--- driver output:" >&2; cat "$T/out" "$T/err" >&2; }
finish
