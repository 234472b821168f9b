#!/bin/sh
# daxfs devices lists exactly the device-DAX devices the kernel shows in /sys/bus/dax, says so
# plainly when there are none, and prints a JSON array with --json.
set -eu
cli=$1
out=$("$cli" devices) || { echo "FAIL: daxfs devices exited $?"; exit 1; }
json=$("$cli" --json devices)
want=$(ls /sys/bus/dax/devices 2>/dev/null | grep -c '^dax' || true)
got=$(printf '%s' "$json" | python3 -c 'import json,sys; print(sum(1 for d in json.load(sys.stdin) if d["kind"] == "devdax"))')
[ "$got" = "$want" ] || { echo "FAIL: $got devdax devices listed, /sys/bus/dax has $want"; exit 1; }
total=$(printf '%s' "$json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ "$total" = 0 ]; then
	printf '%s\n' "$out" | grep -q '^no device-DAX devices or fsdax namespaces' ||
		{ echo "FAIL: no devices but no message: $out"; exit 1; }
else
	[ "$(printf '%s\n' "$out" | grep -c '^\(devdax\|fsdax\) ')" = "$total" ] ||
		{ echo "FAIL: human output does not list the $total devices: $out"; exit 1; }
fi
"$cli" devices extra >/dev/null 2>&1 && { echo "FAIL: extra argument accepted"; exit 1; }
echo "ok: $total devices ($want devdax)"
