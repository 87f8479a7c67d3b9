# fish completion for mutx(1). Installed as
# share/fish/vendor_completions.d/mutx.fish. Kept in step with the option
# table by tests/cli/docs_options.sh.

function __mutx_housekeep
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; and test "$tokens[2]" = housekeep
end

function __mutx_write
    not __mutx_housekeep
end

complete -c mutx -n '__fish_use_subcommand' -a housekeep -d 'remove stale locks, temps and old backups'

# Input and mode
complete -c mutx -n __mutx_write -s i -l input -r -F -d 'read input from FILE instead of stdin'
complete -c mutx -n __mutx_write -l stream -d 'lock first, then write input as it arrives'
complete -c mutx -n __mutx_write -l append -d 'new content = old content + input'
complete -c mutx -n __mutx_write -l allow-empty -d 'accept empty input'
complete -c mutx -n __mutx_write -l no-stream -d 'read all input first (simple mode)'
complete -c mutx -n __mutx_write -l no-append -d 'replace the content instead of appending'
complete -c mutx -n __mutx_write -l no-allow-empty -d 'refuse empty input'
# Directories
complete -c mutx -n __mutx_write -l tree -d 'OUTPUT is a directory, replaced by a tar stream'
complete -c mutx -n __mutx_write -l tree-from -x -a '(__fish_complete_directories)' -d 'replace the directory OUTPUT with a copy of SRCDIR'
complete -c mutx -n __mutx_write -l tree-keep-special -d 'accept FIFOs, device nodes and set-id bits in a tree'
complete -c mutx -n __mutx_write -l no-tree-keep-special -d 'refuse FIFOs, device nodes and set-id bits in a tree'
# Checks around the write
complete -c mutx -n __mutx_write -l check -x -a '(__fish_complete_command)' -d 'run CMD on the new content before publishing'
complete -c mutx -n __mutx_write -s C -l compare -d 'write nothing when content, mode and owner are the same'
complete -c mutx -n __mutx_write -l no-compare -d 'write even when nothing changes'
complete -c mutx -n __mutx_write -l on-change -x -a '(__fish_complete_command)' -d 'run CMD after a commit that changed OUTPUT'
complete -c mutx -n __mutx_write -l sha256 -x -d 'the SHA-256 the new content must have'
complete -c mutx -n __mutx_write -l log -r -F -d 'append one JSON line per attempt to FILE'
# Target and metadata
complete -c mutx -n __mutx_write -s m -l mode -x -a '0644 0600 0640 0664 0755 0700 u=rw,go=r a+x g-w' -d 'mode of the new file (octal or as chmod)'
complete -c mutx -n __mutx_write -l preserve-mode -d "keep the old file's mode (the default)"
complete -c mutx -n __mutx_write -l no-preserve-mode -d 'give the new file 0666 & ~umask'
complete -c mutx -n __mutx_write -l preserve-owner -d 'keep owner and group; fail if not permitted'
complete -c mutx -n __mutx_write -l try-preserve-owner -d 'keep owner and group where permitted'
complete -c mutx -n __mutx_write -l no-preserve-owner -d 'the new file belongs to the caller'
complete -c mutx -n __mutx_write -l owner -x -a '(__fish_complete_users)' -d 'owner (and group) of the new file'
complete -c mutx -n __mutx_write -l group -x -a '(__fish_complete_groups)' -d 'group of the new file'
complete -c mutx -n __mutx_write -l in-place -d 'overwrite OUTPUT in place (same inode); not atomic'
complete -c mutx -n __mutx_write -l no-in-place -d 'replace OUTPUT atomically, by rename'
complete -c mutx -n __mutx_write -l no-log -d 'append to no audit log'
complete -c mutx -n __mutx_write -l symlinks -x -a 'follow replace refuse' -d 'what to do with a symlinked OUTPUT'
complete -c mutx -n __mutx_write -s p -l parents -d 'create missing parent directories'
complete -c mutx -n __mutx_write -l no-parents -d 'a missing parent directory is an error'
complete -c mutx -n __mutx_write -l sync -d 'sync the file and its directory (the default)'
complete -c mutx -n __mutx_write -l no-sync -d 'skip the syncs (not durable)'
# Backups
complete -c mutx -n __mutx_write -s b -l backup -d 'keep the old content as OUTPUT.backup'
complete -c mutx -n __mutx_write -l no-backup -d 'make no backup'
complete -c mutx -n __mutx_write -l backup-suffix -x -d 'backup suffix (default .backup)'
complete -c mutx -n __mutx_write -l backup-dir -x -a '(__fish_complete_directories)' -d 'put backups in DIR'
complete -c mutx -n __mutx_write -l backup-timestamp -d 'name backups OUTPUT.YYYYMMDD-HHMMSS.backup'
complete -c mutx -n __mutx_write -l no-backup-timestamp -d 'name a backup OUTPUT.backup'
complete -c mutx -n __mutx_write -l backup-mode -x -a '0644 0600 0640 0664 0755 0700' -d 'mode of the backup'
# Locking
complete -c mutx -n __mutx_write -l wait -d 'wait for the lock without limit'
complete -c mutx -n __mutx_write -s t -l timeout -x -d 'wait at most SECONDS, then exit 2'
complete -c mutx -n __mutx_write -l no-wait -d 'exit 2 at once if the lock is held'
complete -c mutx -n __mutx_write -l lock-file -r -F -d 'lock PATH instead of OUTPUT.lock'
complete -c mutx -n __mutx_write -l lock-mode -x -a '0644 0600 0640 0664' -d 'mode of a new lock file'
complete -c mutx -n __mutx_write -l keep-lock-file -d 'never delete the lock file'
complete -c mutx -n __mutx_write -l no-keep-lock-file -d 'delete the lock file when done'
complete -c mutx -n __mutx_write -l lock-url -x -a 'etcd://' -d 'first take the lock in this etcd v3 cluster'
complete -c mutx -n __mutx_write -l lock-name -x -d "the etcd lock's name"
complete -c mutx -n __mutx_write -l lock-ttl -x -a '10 30 60' -d "the etcd lease's length in seconds"
complete -c mutx -n __mutx_write -l no-lock-url -d 'take only the lock file'
# Output
complete -c mutx -n __mutx_write -s v -l verbose -d 'more detail on stderr'
complete -c mutx -n __mutx_write -l no-verbose -d 'default output: errors and warnings'
complete -c mutx -n __mutx_write -s q -l quiet -d 'print nothing but errors'
complete -c mutx -n __mutx_write -l no-quiet -d 'default output: errors and warnings'
complete -c mutx -n __mutx_write -l json -d 'one JSON object per line on stderr'
complete -c mutx -n __mutx_write -l no-json -d 'plain text on stderr'
complete -c mutx -n __mutx_write -l progress -d 'show a progress line for --stream'
complete -c mutx -n __mutx_write -l no-progress -d 'never show a progress line'
complete -c mutx -n __mutx_write -l io -x -a 'auto uring syscalls' -d 'force the I/O path'
complete -c mutx -n __mutx_write -l no-config -d 'ignore the config file'
complete -c mutx -n __mutx_write -s h -l help -d 'show the help and exit'
complete -c mutx -n __mutx_write -s V -l version -d 'show the version and exit'

# mutx housekeep
complete -c mutx -n __mutx_housekeep -l clean-locks -d 'delete orphaned NAME.lock files beside NAME that nothing holds'
complete -c mutx -n __mutx_housekeep -l clean-temps -d 'delete .NAME.mutx-* temp files'
complete -c mutx -n __mutx_housekeep -l clean-backups -d 'thin old backups'
complete -c mutx -n __mutx_housekeep -l all -d 'all three operations'
complete -c mutx -n __mutx_housekeep -s r -l recursive -d 'descend into subdirectories'
complete -c mutx -n __mutx_housekeep -l older-than -x -d 'only files older than DURATION (30s 15m 2h 7d 1w)'
complete -c mutx -n __mutx_housekeep -l keep-newest -x -d 'keep the N newest backups of each file'
complete -c mutx -n __mutx_housekeep -l backup-suffix -x -d 'backup suffix (default .backup)'
complete -c mutx -n __mutx_housekeep -l lock-url -x -d 'remove .NAME.mutx-eLEASE temps once etcd says the lease is gone'
complete -c mutx -n __mutx_housekeep -s n -l dry-run -d 'change nothing; list what would be deleted'
complete -c mutx -n __mutx_housekeep -s v -l verbose -d 'say what is kept and why'
complete -c mutx -n __mutx_housekeep -l json -d 'one JSON object per line on stdout'
complete -c mutx -n __mutx_housekeep -s h -l help -d 'show the housekeep options'
complete -c mutx -n __mutx_housekeep -a '(__fish_complete_directories)'
