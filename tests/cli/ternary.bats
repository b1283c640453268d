#!/usr/bin/env bats
# --ternary (bnrun, bnserve) and bnquant --pack t3: ternary weights in
# the kernels' 1.6-bit layout give the same bytes as in t2, whichever
# way they came (a t3 file, t2 or b1 repacked, float masters ternarized
# at load) and on every kernel table this CPU runs.

load helper

setup_file() {
	local d=$BATS_FILE_TMPDIR
	bnpack -o "$d/f.bnt" "$FIX/austen-llama-6m"
	bnquant -q ternary -o "$d/t2.bnt" "$d/f.bnt"
	bnquant -q ternary --pack t3 -o "$d/t3.bnt" "$d/f.bnt"
	bnquant -q binary -o "$d/b1.bnt" "$d/f.bnt"
	bnpack -o "$d/bitnet.bnt" "$FIX/bitnet-tiny"
}

# outs MODEL TAG ARGS...: greedy text, sampled text and a perplexity
# with ARGS, into $BATS_FILE_TMPDIR/TAG.*
outs() {
	local m=$1 o=$BATS_FILE_TMPDIR/$2
	shift 2
	bnrun -m "$m" "$@" --temp 0 -n 32 -p "It is a truth" > "$o.greedy"
	bnrun -m "$m" "$@" --seed 3 -n 32 -p "Emma" > "$o.sampled"
	bnrun -m "$m" "$@" --ctx 64 --perplexity "$ROOT/models/README" \
	    > "$o.ppl" 2>&1
	grep -q ' ppl ' "$o.ppl"
}

same() {
	local f
	for f in greedy sampled ppl; do
		cmp "$BATS_FILE_TMPDIR/$1.$f" "$BATS_FILE_TMPDIR/$2.$f"
	done
}

@test "bnquant --pack t3 writes t3 codes: 5 a byte, the same values as t2" {
	local d=$BATS_FILE_TMPDIR
	run tensors "$d/t3.bnt"
	assert_line --regexp '^blk\.0\.attn_q\.weight +t3 +256x256 '
	assert_line --regexp '^blk\.0\.ffn_down\.weight +t3 +256x768 '
	refute_line --regexp ' t2 '
	bnverify "$d/t3.bnt"
	[ "$(stat -c %s "$d/t3.bnt")" -lt "$(stat -c %s "$d/t2.bnt")" ]
	# every value and code the same as t2's
	run bnverify --against "$d/t2.bnt" --tol 0 "$d/t3.bnt"
	[ "$status" -eq 0 ]
	assert_line "$d/t3.bnt: blk.5.ffn_down.weight: max_abs 0 rms 0 cosine 1 codes 1.000000"
	refute_line --partial 'differs'
}

@test "t2 and t3 files, each as t2, t3 and as stored: the same bytes" {
	local f l
	outs "$BATS_FILE_TMPDIR/t2.bnt" base
	for f in t2 t3; do
		for l in auto t2 t3; do
			outs "$BATS_FILE_TMPDIR/$f.bnt" "$f-$l" --ternary "$l"
			same base "$f-$l"
		done
	done
}

@test "b1 codes and float masters ternarized at load, repacked as t3" {
	outs "$BATS_FILE_TMPDIR/b1.bnt" b1
	outs "$BATS_FILE_TMPDIR/b1.bnt" b1-t3 --ternary t3
	same b1 b1-t3
	outs "$BATS_FILE_TMPDIR/bitnet.bnt" bn
	outs "$BATS_FILE_TMPDIR/bitnet.bnt" bn-t3 --ternary t3
	same bn bn-t3
}

@test "every kernel table this CPU runs gives t3 the same bytes" {
	local k ks=ref
	case $(uname -m) in
	x86_64|amd64) [ "$SIMD" = ref ] || ks="ref avx2 $SIMD" ;;
	*) ks="ref $SIMD" ;;
	esac
	outs "$BATS_FILE_TMPDIR/t2.bnt" k-base --ternary t2
	for k in $ks; do
		BN_KERNEL=$k outs "$BATS_FILE_TMPDIR/t3.bnt" "k-$k"
		same k-base "k-$k"
	done
}

@test "bnrun --bench counts the bytes of the layout in memory" {
	local d=$BATS_FILE_TMPDIR b2 b3
	# widths 640 and 1280: t2 rows of 160 and 320 bytes, t3k 128 and
	# 256 (whole 320-element blocks), 1.6 bits a weight
	bnquant --init llama --hidden 640 --layers 1 --heads 5 --kv-heads 5 \
	    --ffn 1280 --tokenizer "$d/t2.bnt" -o "$d/w.bnt"
	bnquant -q ternary -o "$d/w2.bnt" "$d/w.bnt"
	b2=$(bnrun -m "$d/w2.bnt" --bench --pp 8 --tg 4 -t 1 |
	    sed -n 's/^bytes\/token: \([0-9]*\) weights.*/\1/p')
	b3=$(bnrun -m "$d/w2.bnt" --ternary t3 --bench --pp 8 --tg 4 -t 1 |
	    sed -n 's/^bytes\/token: \([0-9]*\) weights.*/\1/p')
	# t2 in place: each projection as stored (bnpack -l); t3k made at
	# load: q, k, v, o 640 rows of 128 bytes, gate and up 1280 of 128,
	# down 640 of 256, and a float scale a row
	p2=$(bnpack -l "$d/w2.bnt" | awk '$1 ~ /^blk\.[0-9]+\.(attn_(q|k|v|output)|ffn_(gate|up|down))\.weight$/ { t += $4 } END { print t }')
	[ "$p2" -gt 0 ]
	[ "$b3" -eq $((b2 - p2 + 4 * 640 * 132 + 2 * 1280 * 132 + 640 * 260)) ]
	[ "$b3" -lt "$b2" ]
}

@test "--ternary t3 refuses an invalid t2 code, naming the tensor" {
	"$BUILDDIR/tests/mkrandmodel" --shape tiny \
	    --bad-code blk.1.ffn_up.weight -o "$BATS_TEST_TMPDIR/bad.bnt"
	run -65 --separate-stderr bnrun -m "$BATS_TEST_TMPDIR/bad.bnt" \
	    --ternary t3 --bench --pp 4 --tg 2
	[ "$stderr" = "bnrun: $BATS_TEST_TMPDIR/bad.bnt: tensor 'blk.1.ffn_up.weight': row 511: an invalid t2 code" ]
}

@test "--ternary and --pack: unknown layouts and combinations refused" {
	run -64 --separate-stderr bnrun -m "$BATS_FILE_TMPDIR/t2.bnt" \
	    --ternary t4 -p a -n 1
	[ "${stderr_lines[0]}" = "bnrun: --ternary: invalid layout 't4'" ]
	run -64 --separate-stderr bnquant -q binary --pack t3 \
	    "$BATS_FILE_TMPDIR/f.bnt"
	[ "${stderr_lines[0]}" = "bnquant: --pack t3: with -q ternary only (not binary, --init, --train or --to-arch)" ]
	run -64 --separate-stderr bnquant -q ternary --pack t5 \
	    "$BATS_FILE_TMPDIR/f.bnt"
	[ "${stderr_lines[0]}" = "bnquant: --pack: invalid packing 't5'" ]
}
