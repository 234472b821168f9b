#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bash completion (completion/daxfs.bash): with the script loaded, bash completes the
# commands, each command's options, local paths, and paths inside daxfs asked of the daemon
# named by --socket or $DAXFS_SOCKET (none without one).
# usage: test-completion.sh DAXFSD DAXFS_CLI COMPLETION_SCRIPT
set -u
DAXFSD=$1 CLI=$2 SCRIPT=$3
T=$(mktemp -d /tmp/daxfs-test-completion.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$CLI" mkfs --size 64M "$T/region" >/dev/null || { echo "FAIL: mkfs"; exit 1; }
"$DAXFSD" --region "$T/region" --socket "$T/sock" 2>"$T/log" &
pid=$!
for _ in $(seq 200); do "$CLI" --socket "$T/sock" status >/dev/null 2>&1 && break; sleep 0.05; done
D=("$CLI" --socket "$T/sock")
"${D[@]}" mkdir -p /docs/old /data >/dev/null || fail "mkdir"
echo hi >"$T/notes.txt"
"${D[@]}" put "$T/notes.txt" /docs/notes.txt || fail "put"
"${D[@]}" put "$T/notes.txt" /docs/nothing.txt || fail "put"
mkdir "$T/localdir"

# shellcheck source=/dev/null
source "$SCRIPT" || { echo "FAIL: the script does not load"; exit 1; }
complete -p daxfs | grep -q -- '-F _daxfs daxfs' || fail "no completion registered for daxfs"

# comp WORD... - what completing the last WORD gives, sorted, on one line.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_daxfs "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

# want "WORDS..." EXPECTED - completing gives exactly EXPECTED.
want() {
	local got
	got=$(eval comp "$1")
	[[ $got == "$2" ]] || fail "completing '$1': got '$got', want '$2'"
}

want "'$CLI' s" "scrub stat stats status"
want "'$CLI' m" "mkdir mkfifo mkfs mknod mount mv"
want "'$CLI' xattr l" "list"
want "'$CLI' --n" "--no-progress"
want "'$CLI' ls -" "--help --json -l -n -p"
want "'$CLI' df -" "--help --json -i"
want "'$CLI' umount -" "--help -l"
want "'$CLI' inject c" "clear crash"
want "'$CLI' inject fail log-" "log-append"
want "'$CLI' inject crash log-" "log-append log-committed log-torn"
# Paths inside daxfs, from the daemon of --socket (both spellings) or $DAXFS_SOCKET.
want "'$CLI' --socket '$T/sock' ls /d" "/data/ /docs/"
want "'$CLI' --socket='$T/sock' cat /docs/no" "/docs/notes.txt /docs/nothing.txt"
want "'$CLI' --socket '$T/sock' ls /docs/" "/docs/notes.txt /docs/nothing.txt /docs/old/"
want "'$CLI' --socket '$T/sock' stat do" "docs/"
want "'$CLI' --socket '$T/sock' get /docs/nou" ""
want "'$CLI' --socket '$T/sock' mv /docs/notes.txt /da" "/data/"
want "'$CLI' --socket '$T/sock' xattr get /docs/no" "/docs/notes.txt /docs/nothing.txt"
want "'$CLI' --socket '$T/sock' ln -s /docs/notes.txt /da" "/data/"
DAXFS_SOCKET=$T/sock want "'$CLI' rm /docs/o" "/docs/old/"
want "'$CLI' ls /d" "" # no socket given: nothing is asked
# Local paths where a command takes them; the daemon's where it takes those.
want "'$CLI' --socket '$T/sock' put '$T/no'" "$T/notes.txt"
want "'$CLI' --socket '$T/sock' put '$T/notes.txt' /da" "/data/"
want "'$CLI' --socket '$T/sock' get /docs/notes.txt '$T/loc'" "$T/localdir/"
want "'$CLI' check '$T/reg'" "$T/region"
want "'$CLI' mount '$T/loc'" "$T/localdir/"
want "'$CLI' mount -" "--help -o"
want "'$CLI' mount -o cache=a" "cache=always cache=auto"
want "'$CLI' mount -o ro '$T/loc'" "$T/localdir/"

kill -TERM $pid
wait $pid || fail "daxfsd did not exit 0"
pid=
[ $fails -eq 0 ] && echo "completion: commands, options, local and daxfs paths"
exit $((fails != 0))
