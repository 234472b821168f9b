#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The config key table (daemon/config.c) is the one place a default is written; the man
# pages repeat what it says: every key of 'daxfsd --dump-config' has its paragraph in
# daxfsd.conf(5), naming the same default, and every option of 'daxfsd --help' has its
# paragraph in daxfsd(8), with the same default where the option has one.
# usage: test-config-docs.sh DAXFSD DAXFSD_CONF_5 DAXFSD_8 (the configured man pages)
set -u
DAXFSD=$1 CONF5=$2 MAN8=$3
T=$(mktemp -d /tmp/daxfs-test-config-docs.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# paragraphs MANPAGE - each .TP paragraph of MANPAGE on one line, troff markup removed:
# "socket_mode (default 0666) Octal mode of the socket file, 0..0777."
paragraphs() {
	awk '/^\.TP/ { if (p != "") print p; p = ""; next }
		/^\.S[HS]/ { if (p != "") print p; p = ""; next }
		{ p = p " " $0 } END { if (p != "") print p }' "$1" |
		sed -E 's/^ +//; s/(^| )\.[A-Z]+ / /g; s/\\f[BIRP]//g; s/\\-/-/g; s/"//g; s/ +/ /g;
			s/^ //; s/ ([),;:])/\1/g'
}
paragraphs "$CONF5" >conf5.txt
paragraphs "$MAN8" >man8.txt

"$DAXFSD" --dump-config >dump || { echo "FAIL: daxfsd --dump-config"; exit 1; }
keys=0
while IFS= read -r line; do
	[[ $line =~ ^#?([a-z_]+)\ =(\ (.*))?$ ]] || continue
	key=${BASH_REMATCH[1]} def=${BASH_REMATCH[3]}
	keys=$((keys + 1))
	para=$(grep -E "^([a-z_]+, )*$key( |,|$)" conf5.txt | head -1)
	if [[ -z $para ]]; then
		fail "daxfsd.conf(5) has no paragraph for key $key"
	elif [[ -n $def && $para != *"default $def"* ]]; then
		fail "daxfsd.conf(5), $key: the table's default is '$def': $para"
	fi
done <dump
echo "daxfsd.conf(5): $keys keys checked against --dump-config"

"$DAXFSD" --help >help || { echo "FAIL: daxfsd --help"; exit 1; }
flags=0
# Join each option's wrapped lines, then take its flag and its default.
awk '/^  --/ { if (o != "") print o; o = $0; next } o != "" && /^    / { o = o " " $0; next }
	{ if (o != "") print o; o = "" }' help | sed -E 's/ +/ /g' |
	while IFS= read -r opt; do
		flag=$(sed -E 's/^ --([a-z-]+).*/--\1/' <<<"$opt")
		def=$(sed -nE 's/.*[(, ]default ([^;)]*)[;)].*/\1/p' <<<"$opt")
		para=$(grep -E -- "^$flag( |,|$)" man8.txt | head -1)
		if [[ -z $para ]]; then
			echo "FAIL: daxfsd(8) has no paragraph for $flag"
		elif [[ -n $def && $para != *"default $def"* ]]; then
			echo "FAIL: daxfsd(8), $flag: --help says default '$def': $para"
		fi
	done >help-check
grep -c . help-check >/dev/null && { cat help-check; fails=$((fails + $(grep -c FAIL help-check))); }
flags=$(grep -c '^  --' help)
echo "daxfsd(8): $flags options checked against --help"
exit $((fails != 0))
