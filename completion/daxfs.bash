# bash completion for daxfs(1), installed as share/bash-completion/completions/daxfs.
#
# It completes the commands and each command's options (read from 'daxfs --help' and
# 'daxfs COMMAND --help', so they follow the program), local paths where a command takes
# one, and paths inside daxfs where a command takes those: it asks the daemon named by
# --socket on the line, else by $DAXFS_SOCKET ('daxfs ls -p'; 2 s at most). Without a
# socket given, paths inside daxfs are not completed.

# _daxfs_local KIND CUR - local files (KIND f) or directories (d); a / after directories.
_daxfs_local()
{
	local IFS=$'\n' c
	for c in $(compgen -"$1" -- "$2"); do
		if [[ -d $c ]]; then
			COMPREPLY+=("$c/")
		else
			COMPREPLY+=("$c")
		fi
	done
	compopt -o nospace 2>/dev/null
}

# _daxfs_remote CLI SOCKET CUR - the names in the daxfs directory CUR points into.
_daxfs_remote()
{
	local cli=$1 sock=$2 cur=$3 dir="" name IFS=$'\n'
	[[ -n $sock ]] || return 0
	[[ $cur == */* ]] && dir=${cur%/*}/
	while IFS= read -r name; do
		[[ $name == "${cur##*/}"* ]] && COMPREPLY+=("$dir$name")
	done < <(DAXFS_TIMEOUT_MS=2000 "$cli" --socket "$sock" ls -p -- "${dir:-/}" 2>/dev/null)
	compopt -o nospace 2>/dev/null
}

_daxfs()
{
	local cli=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=
	local sock=${DAXFS_SOCKET-} cmd= i w nargs=0
	local -a args=()
	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

	# The global options and the command; then the command's arguments so far.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd ]]; then
			case $w in
			--socket) sock=${COMP_WORDS[i + 1]}; i=$((i + 1)) ;;
			--socket=*) sock=${w#--socket=} ;;
			-*) ;;
			*) cmd=$w ;;
			esac
		elif [[ $w =~ ^(-o|--options|--size|--log-size|--replica|--offset|--length|--count|--errno|--persist)$ ]]; then
			i=$((i + 1)) # its value is not an argument
		elif [[ $w != -* ]]; then
			args+=("$w")
		fi
	done
	nargs=${#args[@]}

	if [[ -z $cmd ]]; then
		if [[ $prev == --socket ]]; then
			_daxfs_local f "$cur"
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--socket --json --progress --no-progress --help --version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$("$cli" --help 2>/dev/null |
				awk '/^commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 }')" -- "$cur"))
		fi
		return 0
	fi

	if [[ $cur == -* ]]; then
		# The options in the command's usage lines, less the global ones.
		COMPREPLY=($(compgen -W "$("$cli" "$cmd" --help 2>/dev/null |
			sed -n '1,/^$/p' | grep -oE -- '(^|[[ |])--?[a-zA-Z][a-zA-Z-]*' |
			tr -d '[ |' | grep -vx -- '--socket') --help" -- "$cur"))
		return 0
	fi
	case $cmd:$prev in
	mkfs:--size | mkfs:--log-size | inject:--offset | inject:--length | \
		inject:--count | inject:--errno | inject:--persist) return 0 ;;
	mkfs:--replica)
		_daxfs_local f "$cur"
		return 0
		;;
	mount:-o | mount:--options)
		COMPREPLY=($(compgen -W 'cache=none cache=auto cache=always attr_timeout=
			entry_timeout= writeback ro rw' -- "$cur"))
		return 0
		;;
	esac
	case $cmd in
	ls | stat | mkdir | cat | rm | mv | readlink | mkfifo | touch) _daxfs_remote "$cli" "$sock" "$cur" ;;
	truncate | chmod | chown) ((nargs >= 1)) && _daxfs_remote "$cli" "$sock" "$cur" ;;
	ln) ((nargs == 1)) && _daxfs_remote "$cli" "$sock" "$cur" ;;
	mknod) ((nargs == 0)) && _daxfs_remote "$cli" "$sock" "$cur" ;;
	xattr)
		if ((nargs == 0)); then
			COMPREPLY=($(compgen -W 'get set list rm' -- "$cur"))
		elif ((nargs == 1)); then
			_daxfs_remote "$cli" "$sock" "$cur"
		fi
		;;
	get)
		if ((nargs == 0)); then
			_daxfs_remote "$cli" "$sock" "$cur"
		elif ((nargs == 1)); then
			_daxfs_local f "$cur"
		fi
		;;
	put)
		if ((nargs == 0)); then
			_daxfs_local f "$cur"
		elif ((nargs == 1)); then
			_daxfs_remote "$cli" "$sock" "$cur"
		fi
		;;
	mkfs | check) ((nargs == 0)) && _daxfs_local f "$cur" ;;
	replica)
		if ((nargs == 0)); then
			COMPREPLY=($(compgen -W 'status add remove' -- "$cur"))
		elif ((nargs == 1)) && [[ ${args[0]} == add ]]; then
			_daxfs_local f "$cur"
		fi
		;;
	mount | umount) ((nargs == 0)) && _daxfs_local d "$cur" ;;
	inject)
		if ((nargs == 0)); then
			COMPREPLY=($(compgen -W 'poison media replica fail delay crash clear points' -- "$cur"))
		elif ((nargs == 1)) && [[ ${args[0]} =~ ^(fail|delay|crash)$ ]]; then
			# The points that can do it: "NAME  fail, delay, crash".
			COMPREPLY=($(compgen -W "$("$cli" inject points 2>/dev/null |
				awk -v k="${args[0]}" '{ for (i = 2; i <= NF; i++) {
					f = $i; sub(",", "", f); if (f == k) print $1 } }')" -- "$cur"))
		fi
		;;
	esac
	return 0
}
complete -F _daxfs daxfs
