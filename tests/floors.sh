#!/bin/sh
# floors.sh NM FLOOR...: check that the libraries link in floors (make
# check-floors).  The floors are given top to bottom; libraries on one
# floor are joined by ':'.  A library may use (leave undefined) only
# symbols that no library on its own floor or above defines, so that
# the Makefile's order resolves in one pass and no library reaches up.
# One result per library; last line "N passed, N failed", as the unit
# tests print.
set -u
nm=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# defined and undefined global symbols of a library
defs() {
	"$nm" -g --defined-only "$1" 2>/dev/null |
	    awk 'NF >= 3 { print $3 }' | sort -u
}
undefs() {
	"$nm" -g --undefined-only "$1" 2>/dev/null |
	    awk 'NF >= 2 { print $2 }' | sort -u
}

# number the floors from the top, 1, 2, ...; one line "floor lib" each
i=0
for f in "$@"; do
	i=$((i + 1))
	for l in $(echo "$f" | tr ':' ' '); do
		if [ ! -f "$l" ]; then
			echo "floors: $l: no such library" >&2
			exit 1
		fi
		echo "$i $l"
	done
done >"$tmp/floors"

while read -r fl lib; do
	defs "$lib" >"$tmp/own"
	undefs "$lib" | comm -23 - "$tmp/own" >"$tmp/need"
	bad=0
	while read -r fu up; do
		[ "$fu" -le "$fl" ] && [ "$up" != "$lib" ] || continue
		defs "$up" | comm -12 "$tmp/need" - >"$tmp/up"
		if [ -s "$tmp/up" ]; then
			bad=1
			sed "s|^|floors: $lib needs |; s|\$| from $up|" \
			    "$tmp/up"
		fi
	done <"$tmp/floors"
	if [ $bad -eq 0 ]; then
		echo "ok $lib"
		pass=$((pass + 1))
	else
		echo "not ok $lib"
		fail=$((fail + 1))
	fi
done <"$tmp/floors"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
