# bash completion for mutx(1)                                -*- shell-script -*-
# Installed as share/bash-completion/completions/mutx. Kept in step with the
# option table by tests/cli/docs_options.sh (every long option of --help
# must appear here, and nothing else).

_mutx_housekeep() {
    local cur=$1 prev=$2
    case $prev in
        --older-than | --keep-newest | --backup-suffix | --lock-url)
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--clean-locks --clean-temps --clean-backups
            --all --recursive -r --older-than --keep-newest --backup-suffix
            --lock-url --dry-run -n --verbose -v --json --help -h' -- "$cur"))
        return
    fi
    _filedir -d
}

_mutx() {
    local cur prev words cword split
    _init_completion -s || return

    local i
    if [[ ${words[1]-} == housekeep && $cword -gt 1 ]]; then
        _mutx_housekeep "$cur" "$prev"
        return
    fi
    # After `--`: the command and its arguments.
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} == -- ]]; then
            _command_offset $((i + 1))
            return
        fi
    done

    case $prev in
        --input | -i | --lock-file | --log)
            _filedir
            return
            ;;
        --backup-dir | --tree-from)
            _filedir -d
            return
            ;;
        --symlinks)
            COMPREPLY=($(compgen -W 'follow replace refuse' -- "$cur"))
            return
            ;;
        --io)
            COMPREPLY=($(compgen -W 'auto uring syscalls' -- "$cur"))
            return
            ;;
        --mode | -m | --backup-mode | --lock-mode)
            COMPREPLY=($(compgen -W '0644 0600 0640 0664 0755 0700' -- "$cur"))
            return
            ;;
        --check | --on-change)
            COMPREPLY=($(compgen -c -- "$cur"))
            return
            ;;
        --owner)
            COMPREPLY=($(compgen -u -- "$cur"))
            return
            ;;
        --group)
            COMPREPLY=($(compgen -g -- "$cur"))
            return
            ;;
        --timeout | -t | --backup-suffix | --sha256 | --lock-name)
            return
            ;;
        --lock-url)
            COMPREPLY=($(compgen -W 'etcd://' -- "$cur"))
            compopt -o nospace 2>/dev/null
            return
            ;;
        --lock-ttl)
            COMPREPLY=($(compgen -W '10 30 60' -- "$cur"))
            return
            ;;
    esac
    $split && return

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '--input -i --stream --append --allow-empty
            --tree --tree-from --tree-keep-special --no-tree-keep-special
            --check --compare -C --on-change --sha256 --log
            --mode -m --preserve-mode --no-preserve-mode --preserve-owner
            --try-preserve-owner --owner --group --in-place
            --symlinks --parents -p --sync --no-sync
            --backup -b --backup-suffix --backup-dir --backup-timestamp
            --backup-mode
            --wait --timeout -t --no-wait --lock-file --lock-mode --keep-lock-file
            --lock-url --lock-name --lock-ttl --no-lock-url
            --verbose -v --quiet -q --json --progress --no-progress --io
            --no-config --help -h --version -V
            --no-stream --no-append --no-compare --no-allow-empty --no-preserve-owner --no-in-place --no-log
            --no-parents --no-backup --no-backup-timestamp --no-keep-lock-file
            --no-verbose --no-quiet --no-json' -- "$cur"))
        return
    fi
    if ((cword == 1)); then
        COMPREPLY=($(compgen -W 'housekeep' -- "$cur"))
    fi
    _filedir
} &&
    complete -F _mutx mutx

# ex: filetype=sh
