# Helpers for the deploy suites (--check, --compare, --on-change, --sha256,
# --log), on top of the common toolkit. Source it first:
#   . "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../cli/lib.sh"

# Every entry of DIR (hidden ones too) with inode, mode, owner, size and
# mtime to the nanosecond: two listings are equal only if nothing in DIR
# was created, removed, replaced or written.
listing() {  # dir
  (cd "$1" && find . -mindepth 1 -printf '%i %M %U:%G %s %T@ %p\n' | sort -k7)
}
expect_listing() {  # dir before-listing [what]
  local now
  now=$(listing "$1")
  if [[ $now == "$2" ]]; then pass; else fail "${3:-listing of $1} changed"$'\n'"--- before:"$'\n'"$2"$'\n'"--- after:"$'\n'"$now"; fi
}
# No temp or check copy left beside the files (.NAME.mutx-*).
expect_no_temps() {  # dir
  local left
  left=$(cd "$1" && ls -A | grep -E '\.mutx-' || true)
  if [[ -z $left ]]; then pass; else fail "temps left in $1: $left"; fi
}
