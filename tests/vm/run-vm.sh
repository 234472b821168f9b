#!/usr/bin/env bash
# run-vm.sh - boot a QEMU guest with an emulated NVDIMM and run the daxfs guest tests in it.
#
#   run-vm.sh CACHE GUEST_SCRIPT STEPS DAXFSD DAXFS VM_CLIENT
#
# CACHE        directory kept between runs: the kernel package and what is unpacked from it
# GUEST_SCRIPT the test script the guest runs (tests/vm/guest-test.sh)
# STEPS        the steps of GUEST_SCRIPT to run, e.g. "1 2 3 4 6" ($VM_STEPS in the guest)
# DAXFSD...    the project's programs to copy in, found in the guest at the same absolute
#              paths, with their shared libraries (ldd)
#
# The guest image is made here from Debian packages, nothing prebuilt: the kernel
# (linux-image-6.1.0-*-amd64, downloaded with apt-get download into CACHE), busybox-static,
# ndctl and the modules the NVDIMM needs, with their dependencies (modinfo). The guest's
# console goes to stdout, so it lands in the meson test log. Exit: the guest tests' status,
# 77 when qemu cannot be found (scripts/install-deps installs it), 1 on any other failure.
#
# Environment: DAXFS_VM_ACCEL=kvm uses KVM when /dev/kvm works (default: TCG, as in CI);
# DAXFS_VM_TIMEOUT (seconds, default 270) bounds the guest's run.
set -euo pipefail

[ $# -eq 6 ] || { echo "usage: run-vm.sh CACHE GUEST_SCRIPT STEPS DAXFSD DAXFS VM_CLIENT" >&2; exit 2; }
cache=$1
guest_script=$2
steps=$3
shift 3
programs=("$@")
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "vm: $*"; }
die() {
	echo "vm: FAILED: $*" >&2
	exit 1
}

qemu=$(command -v qemu-system-x86_64 || true)
if [ -z "$qemu" ]; then
	echo "vm: SKIP: qemu-system-x86_64 is not installed (scripts/install-deps installs" \
		"qemu-system-x86); the devdax guest tests did not run" >&2
	exit 77
fi
for tool in busybox ndctl cpio modinfo ldd apt-get dpkg-deb; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps installs it)"
done
busybox=$(command -v busybox)
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is not static (install busybox-static)"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# --- the kernel: the package linux-image-amd64 depends on, kept in the cache ----------------
kernel_deb() {
	local name
	name=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-6\.1\.0-.*-amd64$/ { print $2; exit }')
	if [ -z "$name" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		name=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-6\.1\.0-.*-amd64$/ { print $2; exit }')
	fi
	# offline: whatever 6.1 kernel the cache holds
	if [ -z "$name" ]; then
		ls "$cache"/linux-image-6.1.0-*-amd64_*.deb 2>/dev/null | tail -n 1
		return
	fi
	if ! ls "$cache/${name}"_*.deb >/dev/null 2>&1; then
		say "downloading $name into $cache" >&2
		# apt's download user cannot write into every build tree: fetch in a private dir
		(cd "$cache" && apt-get download -q "$name" >/dev/null 2>&1) ||
			(apt-get update -qq >/dev/null 2>&1 && cd "$cache" &&
				apt-get download -q "$name" >/dev/null 2>&1) ||
			die "apt-get download $name failed"
	fi
	ls "$cache/${name}"_*.deb | tail -n 1
}
deb=$(kernel_deb)
[ -n "$deb" ] && [ -f "$deb" ] || die "no linux-image-6.1.0-*-amd64 package could be found"
kdir="$cache/$(basename "$deb" .deb)"
if [ ! -f "$kdir/.unpacked" ]; then
	say "unpacking $(basename "$deb")"
	rm -rf "$kdir"
	mkdir -p "$kdir"
	# only the kernel and the module trees the guest needs, not the whole package
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir" --wildcards \
		'./boot/vmlinuz-*' './lib/modules/*/kernel/drivers/nvdimm/*' \
		'./lib/modules/*/kernel/drivers/dax/*' './lib/modules/*/kernel/drivers/acpi/nfit/*' \
		'./lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/lib/*' \
		'./lib/modules/*/kernel/crypto/*' './lib/modules/*/modules.builtin'
	touch "$kdir/.unpacked"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)
moddir=$(ls -d "$kdir"/lib/modules/* | head -n 1)

# --- the initramfs ---------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-vm.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,modules,mnt}

# copy_with_libs FILE: FILE and every library ldd finds for it, at the same paths
copy_with_libs() {
	local f=$1 lib
	mkdir -p "$root$(dirname "$f")"
	cp -L "$f" "$root$f"
	ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' |
		while read -r lib; do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
}

cp "$busybox" "$root/bin/busybox"
copy_with_libs "$(command -v ndctl)"
copy_with_libs "$(command -v daxctl 2>/dev/null || command -v ndctl)"
for extra in mkfs.ext4 mke2fs; do
	p=$(command -v "$extra" 2>/dev/null || true)
	[ -n "$p" ] && copy_with_libs "$p"
done
for p in "${programs[@]}"; do
	[ -x "$p" ] || die "$p is not an executable (build the project first)"
	copy_with_libs "$(readlink -f "$p")"
	# the build tree's paths, as meson's rpaths and the guest script expect them
	if [ "$(readlink -f "$p")" != "$p" ]; then
		mkdir -p "$root$(dirname "$p")"
		ln -sf "$(readlink -f "$p")" "$root$p"
	fi
done

# modules, each after what it depends on (modinfo -F depends)
declare -A loaded=()
order=()
find_module() {
	find "$moddir/kernel" -name "$1.ko" -o -name "${1//_/-}.ko" | head -n 1
}
add_module() {
	local name=${1//-/_} path dep
	[ -n "${loaded[$name]:-}" ] && return 0
	if grep -qE "/${name}\.ko\$|/${name//_/-}\.ko\$" "$moddir/modules.builtin"; then
		loaded[$name]=builtin
		return 0
	fi
	path=$(find_module "$name")
	[ -n "$path" ] || die "kernel module $name not found in $(basename "$deb")"
	loaded[$name]=$path
	for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
		add_module "$dep"
	done
	cp "$path" "$root/modules/$name.ko"
	order+=("$name")
}
for m in libnvdimm nd_btt nfit nd_pmem dax_pmem device_dax ext4 crc32c_generic; do
	add_module "$m"
done
printf '%s\n' "${order[@]}" >"$root/modules/order"

install -m 0755 "$here/init.sh" "$root/init"
install -m 0755 "$guest_script" "$root/guest-test.sh"
{
	echo "DAXFSD='${programs[0]}'"
	echo "DAXFS='${programs[1]}'"
	echo "VM_CLIENT='${programs[2]}'"
	echo "VM_STEPS='$steps'"
	echo "ASAN_OPTIONS='${ASAN_OPTIONS:-}'"
	echo "UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'"
	echo "export DAXFSD DAXFS VM_CLIENT VM_STEPS ASAN_OPTIONS UBSAN_OPTIONS"
} >"$root/etc/daxfs-vm.env"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd.cpio"
say "guest image: $(du -h "$work/initrd.cpio" | cut -f1) initramfs, kernel $(basename "$vmlinuz")," \
	"modules ${order[*]}"

# --- boot ------------------------------------------------------------------------------------
pmem="$work/nvdimm.img"
pmem2="$work/nvdimm2.img"
truncate -s 1G "$pmem"
truncate -s 1G "$pmem2"
accel=(-accel tcg)
if [ "${DAXFS_VM_ACCEL:-tcg}" = kvm ] && [ -w /dev/kvm ]; then
	accel=(-accel kvm -cpu host)
fi
timeout=${DAXFS_VM_TIMEOUT:-270}
log="$work/console.log"
say "booting ($(echo "${accel[@]}")), at most ${timeout} s"
start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout" "$qemu" "${accel[@]}" -nodefaults -no-reboot \
	-machine pc,nvdimm=on -smp 2 -m 2G,slots=2,maxmem=4G \
	-object memory-backend-file,id=mem1,share=on,mem-path="$pmem",size=1G \
	-device nvdimm,id=nv1,memdev=mem1 \
	-object memory-backend-file,id=mem2,share=on,mem-path="$pmem2",size=1G \
	-device nvdimm,id=nv2,memdev=mem2 \
	-kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
	-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 oops=panic" \
	-display none -serial stdio -monitor none </dev/null 2>&1 | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
say "guest ran $(($(date +%s) - start)) s"
[ "$qrc" -eq 124 ] && die "the guest did not finish within ${timeout} s"
result=$(sed -n 's/^daxfs-vm: guest tests exited with \([0-9]*\).*/\1/p' "$log" | tr -d '\r' | tail -n 1)
[ -n "$result" ] || die "the guest stopped without a result (qemu exit $qrc)"
if [ "$result" -ne 0 ]; then
	echo "vm: the guest tests FAILED (exit $result); the console output is above" >&2
	exit 1
fi
say "guest tests passed"
