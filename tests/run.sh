#!/bin/sh
# run.sh: make check's driver: unit tests, BATS suites, man-page lint.
# Prints each suite's output and one closing line "N passed, N failed".
# Environment (from make): BUILD, BINDIR, UNIT, MAN; BATS_DIRS (default
# tests/cli).
set -u
# the npm peers run on the Node.js that tests/deps.sh pins (20; Debian
# 12's is 18, too old for node-llama-cpp)
for d in tests/peers/node/node_modules/node-linux-*/bin; do
	[ -x "$d/node" ] && PATH=$(pwd)/$d:$PATH
done
export PATH
v=$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/')
[ "${v:-0}" -ge 20 ] 2>/dev/null || echo "run.sh: node ${v:-missing}:" \
    "the llama.cpp checks need Node.js >= 20 (make deps installs it)" >&2
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# unit tests print "N passed, N failed" as their last line
for t in $UNIT; do
	echo "== $t"
	"./$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	if [ -z "$line" ]; then p=0; f=1; fi
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
	pass=$((pass + p))
	fail=$((fail + f))
done

# BATS: count TAP lines
if command -v bats >/dev/null 2>&1; then
	echo "== bats ${BATS_DIRS:-tests/cli}"
	BN_BIN=$(pwd)/$BINDIR BN_BUILD=$(pwd)/$BUILD bats --tap ${BATS_DIRS:-tests/cli} \
	    >"$log" 2>&1
	cat "$log"
	p=$(grep '^ok ' "$log" | grep -vc '# skip')
	s=$(grep '^ok ' "$log" | grep -c '# skip')
	# a skipped test proves nothing: it counts as a failure
	[ "$s" -eq 0 ] || echo "$s skipped tests count as failed"
	f=$(grep -c '^not ok ' "$log")
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p))
	fail=$((fail + f + s))
else
	echo "bats: not installed" >&2
	fail=$((fail + 1))
fi

# man pages: each must lint clean
echo "== mandoc -Tlint -Wwarning"
for m in $MAN; do
	if mandoc -Tlint -Wwarning "$m" >"$log" 2>&1; then
		pass=$((pass + 1))
	else
		cat "$log"
		fail=$((fail + 1))
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
