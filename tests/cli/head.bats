#!/usr/bin/env bats
# bnrun --head q4: the compact output head in 4.5 bits a weight (an f16
# scale per 32): its perplexity cost on the shipped model against the
# stored head and the int8 one, the bytes it reads, the same bytes on
# every kernel table, and the widths it refuses.

load helper

MODEL=$ROOT/models/austen-ternary.bnt

nll() {
	sed -n 's/.* nll \([0-9.]*\) ppl .*/\1/p'
}

@test "--head q4: perplexity on austen's validation text within 1% of the stored head" {
	local keep q8 q4
	head -c 60000 "$ROOT/tests/fixtures/austen-val.txt" > "$BATS_TEST_TMPDIR/v.txt"
	keep=$(bnrun -m "$MODEL" --head keep --ctx 128 \
	    --perplexity "$BATS_TEST_TMPDIR/v.txt" 2>&1 | nll)
	q8=$(bnrun -m "$MODEL" --head q8 --ctx 128 \
	    --perplexity "$BATS_TEST_TMPDIR/v.txt" 2>&1 | nll)
	q4=$(bnrun -m "$MODEL" --head q4 --ctx 128 \
	    --perplexity "$BATS_TEST_TMPDIR/v.txt" 2>&1 | nll)
	echo "nll keep $keep q8 $q8 q4 $q4"
	[ -n "$keep" ] && [ -n "$q8" ] && [ -n "$q4" ]
	# the q4 head costs more than q8 and less than 0.01 nats a token (1% of perplexity)
	awk -v k="$keep" -v a="$q8" -v b="$q4" 'BEGIN {
		exit !(b != k && b - k < 0.01 && (b - k) > (a - k)) }'
}

@test "--head q4: every kernel table gives the same bytes" {
	local k ks=ref
	case $(uname -m) in
	x86_64|amd64) [ "$SIMD" = ref ] || ks="ref avx2 $SIMD" ;;
	*) ks="ref $SIMD" ;;
	esac
	for k in $ks; do
		BN_KERNEL=$k bnrun -m "$MODEL" --head q4 --temp 0 -n 40 \
		    -p "It is a truth" > "$BATS_TEST_TMPDIR/g.$k"
		BN_KERNEL=$k bnrun -m "$MODEL" --head q4 --ctx 64 \
		    --perplexity "$ROOT/models/README" > "$BATS_TEST_TMPDIR/p.$k" 2>&1
		cmp "$BATS_TEST_TMPDIR/g.ref" "$BATS_TEST_TMPDIR/g.$k"
		cmp "$BATS_TEST_TMPDIR/p.ref" "$BATS_TEST_TMPDIR/p.$k"
	done
	grep -q ' ppl ' "$BATS_TEST_TMPDIR/p.ref"
}

@test "--head q4: bnrun --bench counts its bytes (n / 2 and an f16 per 32 a row)" {
	local b8 b4
	b8=$(bnrun -m "$MODEL" --head q8 --bench --pp 8 --tg 4 -t 1 |
	    sed -n 's/^bytes\/token: \([0-9]*\) weights.*/\1/p')
	b4=$(bnrun -m "$MODEL" --head q4 --bench --pp 8 --tg 4 -t 1 |
	    sed -n 's/^bytes\/token: \([0-9]*\) weights.*/\1/p')
	# 4096 rows of 256: int8 256 + 4 bytes a row, q4 128 + 16
	[ $((b8 - b4)) -eq $((4096 * (260 - 144))) ]
}

@test "--head q4 refuses a hidden size that is not a multiple of 32" {
	bnquant --init llama --hidden 40 --heads 5 --kv-heads 5 --layers 1 \
	    --ffn 64 --tokenizer "$MODEL" -o "$BATS_TEST_TMPDIR/w.bnt"
	run -65 --separate-stderr bnrun -m "$BATS_TEST_TMPDIR/w.bnt" \
	    --head q4 -p a -n 1
	[ "$stderr" = "bnrun: $BATS_TEST_TMPDIR/w.bnt: a q4 head needs a hidden size that is a multiple of 32 up to 32768, not 40" ]
	run -64 --separate-stderr bnrun -m "$MODEL" --head q2 -p a -n 1
	[ "${stderr_lines[0]}" = "bnrun: --head: invalid type 'q2'" ]
}
