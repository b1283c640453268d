#!/bin/sh
# arm64.sh: make check-arm64's driver: the ARM64 build under qemu-aarch64.
# The kernel unit tests on a CPU with sdot (-cpu max: neon and
# neon-dotprod against ref); the kernel choice with and without it
# (-cpu cortex-a72, the Raspberry Pi 4's core: neon, and neon-dotprod
# refused with exit 69); the training gemm; bnrun.bats's bnverify
# --model checks of the fixtures with both int8 paths.  Prints
# "N passed, N failed" last.
# Environment (from make): BUILD, BINDIR, QEMU, QEMU_LD_PREFIX.
set -u
pass=0
fail=0
log=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -rf "$log" "$tmp"' EXIT
FIX=tests/fixtures

# qt SECONDS CPU PROG ARGS...: run an ARM64 program under the emulator
# for at most SECONDS (a hang fails the test instead of stalling CI);
# q CPU PROG ARGS...: the same for at most 5 minutes
qt() {
	lim=$1 cpu=$2
	shift 2
	timeout -k 10 "$lim" "$QEMU" -L "$QEMU_LD_PREFIX" -cpu "$cpu" "$@"
}
q() {
	qt 300 "$@"
}

# ok NAME: count the last command's status
ok() {
	if [ "$1" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $2"
	else
		fail=$((fail + 1))
		echo "not ok $2"
		cat "$log"
	fi
}

# unit CPU TEST: a unit test; its own closing line is added to ours.
# Natively each takes seconds (5 to 12 s here under qemu).  t_train, with
# its pool of 3 threads, hung under qemu 7.2 in 4 of 30 runs, twice in a
# row in one CI run: the pool's sleep handshakes lost a wakeup there
# (kernels/pool.c says how), and its fences ended it (0 hangs in 40
# runs after).  A run with no end after 120 s is still said, then the
# test is run once more and that run counts.
unit() {
	echo "== $2 (-cpu $1)"
	qt 120 "$1" "$BUILD/tests/$2" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "$2: no end after 120 s under $QEMU; run again"
		q "$1" "$BUILD/tests/$2" >"$log" 2>&1
		rc=$?
	fi
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	if [ -z "$line" ]; then p=0; f=1; fi
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then f=1; fi
	pass=$((pass + p))
	fail=$((fail + f))
}

# verify CPU KERNEL MODEL FIXTURE TOL NEED...: bnverify --model passes
# and prints every NEED line (grep -E patterns)
verify() {
	cpu=$1 k=$2 m=$3 fx=$4 tol=$5
	shift 5
	BN_KERNEL=$k q "$cpu" "$BINDIR/bnverify" --model "$tmp/$m.bnt" \
	    --reference "$FIX/$fx/reference.safetensors" --tol "$tol" \
	    >"$log" 2>&1
	rc=$?
	for need in "$@"; do
		grep -Eq "$need" "$log" || rc=1
	done
	ok $rc "bnverify --model $m, BN_KERNEL=$k, -cpu $cpu"
}

echo "== dispatch"
q max "$BINDIR/bnrun" --version >"$log" 2>&1
grep -qx 'kernels neon-dotprod' "$log"
ok $? "-cpu max picks neon-dotprod"
q cortex-a72 "$BINDIR/bnrun" --version >"$log" 2>&1
grep -qx 'kernels neon' "$log"
ok $? "-cpu cortex-a72 picks neon"

# t_kernels once: -cpu max runs both tables (qemu executes the neon one
# the same under either CPU); the CPU without sdot runs the training
# gemm and the model checks below, where any ARMv8.2 instruction in the
# neon path would be an illegal instruction
unit max t_kernels
unit cortex-a72 t_train

echo "== bnpack"
for m in austen-llama-6m:austen bitnet-tiny:tiny bitnet-tiny-bf16:tiny-bf16; do
	q max "$BINDIR/bnpack" -o "$tmp/${m#*:}.bnt" "$FIX/${m%:*}" \
	    >"$log" 2>&1
	ok $? "bnpack $FIX/${m%:*}"
done
echo "== dispatch, forced"
BN_KERNEL=neon-dotprod q cortex-a72 "$BINDIR/bnrun" -m "$tmp/austen.bnt" \
    -t 1 -p a -n 1 >"$log" 2>&1
[ $? -eq 69 ] &&
    grep -qx 'bnrun: BN_KERNEL=neon-dotprod: not available on this CPU' "$log"
ok $? "-cpu cortex-a72: BN_KERNEL=neon-dotprod exits 69"
BN_KERNEL=neon q cortex-a72 "$BINDIR/bnrun" -m "$tmp/austen.bnt" --temp 0 \
    -t 1 -p a -n 1 >"$log" 2>&1
ok $? "-cpu cortex-a72: BN_KERNEL=neon runs"

echo "== bnverify --model"
verify max neon-dotprod austen austen-llama-6m 1e-3 \
    'input_ids\.0: 10 tokens: logits max_abs [0-9.e-]+ argmax 10/10$' \
    'input_ids\.1: 8 tokens: logits max_abs [0-9.e-]+ argmax 8/8$' \
    'greedy\.0: 24/24 tokens agree' 'greedy\.1: 24/24 tokens agree'
for k in neon-dotprod neon; do
	for m in tiny:bitnet-tiny tiny-bf16:bitnet-tiny-bf16; do
		verify max $k "${m%:*}" "${m#*:}" 8e-2 \
		    'input_ids\.0: 10 tokens: .* argmax 10/10$' \
		    'input_ids\.1: 8 tokens: .* argmax 8/8$'
	done
done
for m in tiny:bitnet-tiny tiny-bf16:bitnet-tiny-bf16; do
	verify cortex-a72 "" "${m%:*}" "${m#*:}" 8e-2 \
	    'input_ids\.0: 10 tokens: .* argmax 10/10$' \
	    'input_ids\.1: 8 tokens: .* argmax 8/8$'
done

# same text from every path (bnrun.bats does ref against avx2): greedy
# on the ternary model, sampled with a seed on the float one; one
# thread, as everywhere here (the pool is tested natively and under
# ThreadSanitizer; emulated threads only cost time)
echo "== the kernels generate the same text"
for k in ref neon neon-dotprod; do
	BN_KERNEL=$k q max "$BINDIR/bnrun" -m "$tmp/tiny.bnt" --temp 0 -n 16 \
	    -t 1 -p Elizabeth >"$tmp/tiny.$k" 2>"$log" &&
	BN_KERNEL=$k q max "$BINDIR/bnrun" -m "$tmp/austen.bnt" --seed 3 \
	    -t 1 -n 16 -p Emma >"$tmp/austen.$k" 2>"$log"
	ok $? "bnrun, BN_KERNEL=$k"
done
for k in neon neon-dotprod; do
	cmp "$tmp/tiny.ref" "$tmp/tiny.$k" >"$log" 2>&1 &&
	    cmp "$tmp/austen.ref" "$tmp/austen.$k" >"$log" 2>&1
	ok $? "ref and $k: the same text"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
