#!/bin/sh
# SPDX-License-Identifier: MIT
# 'meson install --destdir' puts every file an operator needs in place: daemon, CLI,
# library, header, pkg-config file, units, tmpfiles and sysusers entries, example config
# (every key of 'daxfsd --dump-config'), man pages, bash completion.
# usage: test-install.sh MESON BUILDDIR PREFIX BINDIR SBINDIR LIBDIR INCLUDEDIR SYSCONFDIR
#                        MANDIR DATADIR
set -u
MESON=$1 BUILD=$2 PREFIX=$3 BINDIR=$4 SBINDIR=$5 LIBDIR=$6 INCDIR=$7 SYSCONFDIR=$8 MANDIR=$9
DATADIR=${10}
T=$(mktemp -d /tmp/daxfs-test-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
abs() { case $1 in /*) echo "$1" ;; *) echo "$PREFIX/$1" ;; esac; }
D=$T/root
if ! $MESON install -C "$BUILD" --destdir "$D" --no-rebuild --quiet >"$T/log" 2>&1; then
	echo "FAIL: meson install:"
	cat "$T/log"
	exit 1
fi
fails=0
want() {
	if [ -e "$D$1" ]; then
		echo "installed $1"
	else
		echo "FAIL: $1 is missing"
		fails=$((fails + 1))
	fi
}
want "$(abs "$SBINDIR")/daxfsd"
want "$(abs "$BINDIR")/daxfs"
want "$(abs "$LIBDIR")/libdaxfs.so"
want "$(abs "$LIBDIR")/libdaxfs.so.1"
want "$(abs "$INCDIR")/daxfs/daxfs.h"
want "$(abs "$LIBDIR")/pkgconfig/libdaxfs.pc"
want "$PREFIX/lib/systemd/system/daxfsd.service"
want "$PREFIX/lib/systemd/system/daxfsd.socket"
want "$PREFIX/lib/tmpfiles.d/daxfs.conf"
want "$PREFIX/lib/sysusers.d/daxfs.conf"
want "$(abs "$DATADIR")/bash-completion/completions/daxfs"
want "$(abs "$SYSCONFDIR")/daxfs/daxfsd.conf"
want "$(abs "$MANDIR")/man8/daxfsd.8"
want "$(abs "$MANDIR")/man5/daxfsd.conf.5"
want "$(abs "$MANDIR")/man1/daxfs.1"
want "$(abs "$MANDIR")/man3/libdaxfs.3"

# The unit starts the daxfsd installed with it.
exec_start="ExecStart=$(abs "$SBINDIR")/daxfsd --config $(abs "$SYSCONFDIR")/daxfs/daxfsd.conf"
grep -qxF "$exec_start" "$D$PREFIX/lib/systemd/system/daxfsd.service" ||
	{ echo "FAIL: the service does not say '$exec_start'"; fails=$((fails + 1)); }
# The example config is what daxfsd prints for its defaults, with the region path set.
conf="$D$(abs "$SYSCONFDIR")/daxfs/daxfsd.conf"
if [ -f "$conf" ]; then
	"$BUILD/daemon/daxfsd" --dump-config --region /x >"$T/dump" ||
		{ echo "FAIL: daxfsd --dump-config"; fails=$((fails + 1)); }
	sed 's|^path = .*|path = /x|' "$conf" | cmp -s - "$T/dump" ||
		{ echo "FAIL: the installed daxfsd.conf is not daxfsd --dump-config"; fails=$((fails + 1)); }
fi
[ -x "$D$(abs "$SBINDIR")/daxfsd" ] || { echo "FAIL: daxfsd is not executable"; fails=$((fails + 1)); }
echo "$fails missing"
[ $fails -eq 0 ]
