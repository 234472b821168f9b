#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages (debian/): 'dpkg-buildpackage -us -uc -b' on a clean copy of the
# checkout builds daxfs, libdaxfs1 (with its symbols file) and libdaxfs-dev; lintian finds
# no error in them; unpacked into a scratch root (dpkg -x) every file is where Debian
# policy puts it, the config is a conffile, the maintainer scripts make the daxfs group
# (sysusers.d), the runtime directory (tmpfiles.d) and register the units, and the
# programs run from there.
# usage: test-package.sh SRCDIR
set -euo pipefail
SRC=$1
for p in dpkg-buildpackage dh lintian; do
	if ! command -v "$p" >/dev/null; then
		echo "SKIP: $p is missing (scripts/install-deps installs debhelper and lintian)"
		exit 77
	fi
done
T=$(mktemp -d /tmp/daxfs-test-package.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A clean copy: the files of the checkout (tracked, and new ones not ignored), no builds.
mkdir "$T/src"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$SRC" ls-files -z --cached --others --exclude-standard |
		(cd "$SRC" && tar --null -T - -cf -) | tar -C "$T/src" -xf -
else
	tar -C "$SRC" --exclude='./build*' --exclude=./state -cf - . | tar -C "$T/src" -xf -
fi
start=$SECONDS
if ! (cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
	tail -n 60 "$T/build.log"
	echo "FAIL: dpkg-buildpackage -us -uc -b"
	exit 1
fi
echo "dpkg-buildpackage -us -uc -b: built in $((SECONDS - start)) s"
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
VERSION=$(dpkg-parsechangelog -l "$T/src/debian/changelog" -S Version)
for p in daxfs libdaxfs1 libdaxfs-dev; do
	[ -f "$T/${p}_${VERSION}_$ARCH.deb" ] || fail "no ${p}_${VERSION}_$ARCH.deb"
done
[ $fails -eq 0 ] || exit 1

# lintian: errors fail; what else it says is shown.
if ! lintian --fail-on error "$T/daxfs_${VERSION}_$ARCH.changes" >"$T/lintian" 2>&1; then
	cat "$T/lintian"
	fail "lintian reports errors"
else
	echo "lintian: no errors$(grep -c '^[WIP]:' "$T/lintian" | sed 's/^/, other tags: /')"
	grep '^[WIP]:' "$T/lintian" || true
fi

# Unpacked, the files are where policy says.
R=$T/root
for p in daxfs libdaxfs1 libdaxfs-dev; do
	dpkg -x "$T/${p}_${VERSION}_$ARCH.deb" "$R"
	dpkg -e "$T/${p}_${VERSION}_$ARCH.deb" "$T/ctl-$p"
done
want() { [ -e "$R$1" ] || [ -L "$R$1" ] || fail "$1 is not in the packages"; }
want_in() { # want_in PACKAGE PATH: PATH is in PACKAGE
	grep -qx ".$2" <<<"$(dpkg -c "$T/${1}_${VERSION}_$ARCH.deb" | awk '{ print $6 }')" ||
		fail "$2 is not in $1"
}
for f in /usr/sbin/daxfsd /usr/bin/daxfs /etc/daxfs/daxfsd.conf \
	/lib/systemd/system/daxfsd.service /lib/systemd/system/daxfsd.socket \
	/usr/lib/tmpfiles.d/daxfs.conf /usr/lib/sysusers.d/daxfs.conf \
	/usr/share/bash-completion/completions/daxfs /usr/share/man/man1/daxfs.1.gz \
	/usr/share/man/man5/daxfsd.conf.5.gz /usr/share/man/man8/daxfsd.8.gz \
	/usr/share/doc/daxfs/copyright; do
	want_in daxfs "$f"
done
for f in "/usr/lib/$MA/libdaxfs.so.1" "/usr/lib/$MA/libdaxfs.so.1.0.0" \
	/usr/share/doc/libdaxfs1/copyright; do
	want_in libdaxfs1 "$f"
done
for f in /usr/include/daxfs/daxfs.h "/usr/lib/$MA/libdaxfs.so" \
	"/usr/lib/$MA/pkgconfig/libdaxfs.pc" /usr/share/man/man3/libdaxfs.3.gz \
	/usr/share/doc/libdaxfs-dev/copyright; do
	want_in libdaxfs-dev "$f"
done
[ "$(readlink "$R/usr/lib/$MA/libdaxfs.so.1")" = libdaxfs.so.1.0.0 ] ||
	fail "libdaxfs.so.1 does not point at libdaxfs.so.1.0.0"
[ "$(readlink "$R/usr/lib/$MA/libdaxfs.so")" = libdaxfs.so.1 ] ||
	fail "libdaxfs.so (the -dev link) does not point at libdaxfs.so.1"
grep -q 'SONAME *libdaxfs.so.1$' <<<"$(objdump -p "$R/usr/lib/$MA/libdaxfs.so.1.0.0")" ||
	fail "the library's SONAME is not libdaxfs.so.1"

# The control side: conffile, symbols, maintainer scripts.
grep -qx /etc/daxfs/daxfsd.conf "$T/ctl-daxfs/conffiles" || fail "daxfsd.conf is not a conffile"
[ -f "$T/ctl-libdaxfs1/symbols" ] || fail "libdaxfs1 has no symbols file"
for s in daxfs_open daxfs_stats daxfs_scrub_progress daxfs_default_socket; do
	grep -q "^ $s@LIBDAXFS_1 " "$T/ctl-libdaxfs1/symbols" || fail "symbols: no $s"
done
nm -D --defined-only "$R/usr/lib/$MA/libdaxfs.so.1.0.0" | awk '$2 == "T" { print $3 }' |
	sed 's/@@/@/' | sort >"$T/exported"
grep '^ daxfs_' "$T/ctl-libdaxfs1/symbols" | awk '{ print $1 }' | sort >"$T/listed"
cmp -s "$T/exported" "$T/listed" ||
	fail "the symbols file and the exports differ: $(diff "$T/exported" "$T/listed")"
grep -q 'systemd-sysusers' "$T/ctl-daxfs/postinst" || fail "postinst does not run systemd-sysusers"
grep -q 'systemd-tmpfiles.*--create daxfs.conf' "$T/ctl-daxfs/postinst" ||
	fail "postinst does not create the tmpfiles.d entry's directories"
grep -q "deb-systemd-helper update-state 'daxfsd.socket'" "$T/ctl-daxfs/postinst" ||
	fail "postinst does not register daxfsd.socket"
grep -q "deb-systemd-invoke.*start" "$T/ctl-daxfs/postinst" &&
	fail "postinst starts daxfsd (it needs a region first)"
grep -q '^u daxfs ' "$R/usr/lib/sysusers.d/daxfs.conf" || fail "sysusers.d makes no daxfs user"
grep -q '^ExecStart=/usr/sbin/daxfsd --config /etc/daxfs/daxfsd.conf$' \
	"$R/lib/systemd/system/daxfsd.service" || fail "the unit does not run the packaged daxfsd"
grep -q '^ListenSequentialPacket=/run/daxfs/daxfsd.sock$' "$R/lib/systemd/system/daxfsd.socket" ||
	fail "the socket unit does not listen on /run/daxfs/daxfsd.sock"

# The programs run from the scratch root, with its library. (Outputs are taken whole before
# grep -q looks at them: under pipefail, a writer that grep -q leaves early gets SIGPIPE and
# fails the pipeline even though grep matched.)
export LD_LIBRARY_PATH=$R/usr/lib/$MA
grep -qx "daxfsd $VERSION" <<<"$("$R/usr/sbin/daxfsd" --version)" || fail "daxfsd --version"
grep -qx "daxfs $VERSION" <<<"$("$R/usr/bin/daxfs" --version)" || fail "daxfs --version"
grep -q "libdaxfs.so.1 => $R/usr/lib/$MA/libdaxfs.so.1" <<<"$(ldd "$R/usr/bin/daxfs")" ||
	fail "daxfs does not use the packaged libdaxfs"
"$R/usr/sbin/daxfsd" --config "$R/etc/daxfs/daxfsd.conf" --dump-config >/dev/null ||
	fail "daxfsd does not accept the packaged daxfsd.conf"

[ $fails -eq 0 ] && echo "packages: built, lintian-clean, files where policy says"
exit $((fails != 0))
