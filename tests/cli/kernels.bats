#!/usr/bin/env bats
# BN_KERNEL: every kernel table this CPU runs gives bnrun the same bytes
# on the shipped ternary model (t2 projections, and the int8 head with
# --head q8); avx512 where the CPU has AVX-512 F, BW, VL and VNNI, else
# its documented refusal; unknown names refused.

load helper

MODEL=$ROOT/models/austen-ternary.bnt

# whether this CPU (and its OS: Linux lists no flag it does not enable)
# runs the avx512 table
have_avx512() {
	local f
	[ -r /proc/cpuinfo ] || return 1
	for f in avx512f avx512bw avx512vl avx512_vnni; do
		grep -qw "$f" /proc/cpuinfo || return 1
	done
}

# run_all K: greedy and sampled generation and a perplexity with
# BN_KERNEL=K, into $BATS_TEST_TMPDIR/K
run_all() {
	local o=$BATS_TEST_TMPDIR/$1
	BN_KERNEL=$1 bnrun -m "$MODEL" --head q8 --temp 0 -n 40 \
	    -p "It is a truth universally acknowledged" > "$o.greedy"
	BN_KERNEL=$1 bnrun -m "$MODEL" --seed 7 -n 40 -p "Emma" > "$o.sampled"
	BN_KERNEL=$1 bnrun -m "$MODEL" --head q8 --seed 7 -n 40 \
	    -p "Mr. Darcy" > "$o.sampled-q8"
	BN_KERNEL=$1 bnrun -m "$MODEL" --head q8 \
	    --perplexity "$ROOT/models/README" > "$o.ppl" 2>&1
	grep -q ' ppl ' "$o.ppl"
}

@test "ref, avx2 and avx512 give the same text and perplexity, byte for byte" {
	local k f ks="$SIMD"
	case $(uname -m) in
	x86_64|amd64) [ "$SIMD" = ref ] || ks="avx2 $SIMD" ;;
	esac
	if have_avx512; then
		[ "$SIMD" = avx512 ]	# the default where the CPU has it
		ks="avx2 avx512"
	else
		run -69 --separate-stderr env BN_KERNEL=avx512 \
		    bnrun -m "$MODEL" -p a -n 1
		[ "$stderr" = "bnrun: BN_KERNEL=avx512: not available on this CPU" ]
		[ "$SIMD" != avx512 ]
	fi
	run_all ref
	for f in greedy sampled sampled-q8 ppl; do
		[ -s "$BATS_TEST_TMPDIR/ref.$f" ]
	done
	for k in $ks; do
		[ "$k" != ref ] || continue	# no SIMD path here
		run_all "$k"
		for f in greedy sampled sampled-q8 ppl; do
			cmp "$BATS_TEST_TMPDIR/ref.$f" "$BATS_TEST_TMPDIR/$k.$f"
		done
	done
}

@test "an unknown BN_KERNEL name is refused, saying so" {
	run -69 --separate-stderr env BN_KERNEL=avx1024 bnrun -m "$MODEL" -p a -n 1
	[ -z "$output" ]
	[ "$stderr" = "bnrun: BN_KERNEL=avx1024: unknown; known: ref, avx2, avx512 (x86-64), neon, neon-dotprod (aarch64)" ]
	run -69 --separate-stderr env BN_KERNEL=AVX2 bnstat "$MODEL"
	[ "$stderr" = "bnstat: BN_KERNEL=AVX2: unknown; known: ref, avx2, avx512 (x86-64), neon, neon-dotprod (aarch64)" ]
}
