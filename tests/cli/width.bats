#!/usr/bin/env bats
# BitLinear at widths that are not a multiple of 128 (issue 17): the
# layouts/bitlinear-odd fixture (hidden 320, ffn 864) against its NumPy
# reference, greedy generation, a training run and bnstat --ber.

load helper

ODD=$ROOT/tests/fixtures/layouts/bitlinear-odd

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/odd.bnt" "$ODD"
	head -c 30000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/train.txt"
	tail -c 6000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/val.txt"
}

@test "bnpack keeps the codes ternary at widths 320 and 864" {
	run -0 tensors "$S/odd.bnt"
	assert_line --regexp '^blk\.0\.attn_q\.weight +t2 +320x320 '
	assert_line --regexp '^blk\.1\.ffn_down\.weight +t2 +320x864 '
	assert_line --regexp '^blk\.1\.ffn_up\.weight +t2 +864x320 '
}

@test "bnverify --model: within 1e-3 of the reference, both kernel paths" {
	for k in ref $SIMD; do
		BN_KERNEL=$k run -0 bnverify --model "$S/odd.bnt" \
		    --reference "$ODD/reference.safetensors" --tol 1e-3
		assert_line --regexp 'input_ids\.0: 10 tokens: .* argmax 10/10$'
		assert_line --regexp 'input_ids\.1: 8 tokens: .* argmax 8/8$'
		assert_line --partial 'greedy.0: 24/24 tokens agree'
		assert_line --partial 'greedy.1: 24/24 tokens agree'
	done
}

@test "bnrun greedy continues both prompts as the reference does" {
	local k p
	for k in 0 1; do
		p=$(prompt $k)
		{ printf '%s' "$p"; ref_continuation "$ODD" $k; printf '\n'; } \
		    >"$S/want$k"
		bnrun -m "$S/odd.bnt" --bos --temp 0 -n 24 -p "$p" >"$S/got$k"
		cmp "$S/want$k" "$S/got$k"
	done
}

train() {
	bnquant --train "$S/train.txt" --batch 2 --ctx 64 --steps 2 --lr 5e-4 \
	    --seed 7 -t 2 "$@"
}

@test "training: two steps; bnrun reads the result as the trainer did" {
	run -0 --separate-stderr train -v --val "$S/val.txt" \
	    -o "$BATS_TEST_TMPDIR/q.bnt" "$S/odd.bnt"
	val=$(sed -n 's/^bnquant: validation loss \([0-9.]*\) .*/\1/p' \
	    <<<"$stderr")
	[ -n "$val" ]
	run -0 tensors "$BATS_TEST_TMPDIR/q.bnt"
	assert_line --regexp '^blk\.0\.ffn_down\.weight +t2 +320x864 '
	# the trainer's BitLinear forward and bnrun's agree on the loss to
	# float32 noise (2e-5 to 8e-5 here, as on this model at 384 x 896)
	run -0 bnrun -m "$BATS_TEST_TMPDIR/q.bnt" --perplexity "$S/val.txt" \
	    --ctx 64 -t 2
	ppl=$output
	nll=$(sed -n 's/.* nll \([0-9.]*\) .*/\1/p' <<<"$ppl")
	awk -v a="$val" -v b="$nll" 'BEGIN { d = a - b; if (d < 0) d = -d;
	    exit !(d < 2e-4) }'
	# master weights, ternarized on load, run as the packed codes (as
	# float layers they were 0.19 nats apart)
	train --keep-master -o "$BATS_TEST_TMPDIR/m.bnt" "$S/odd.bnt"
	run -0 tensors "$BATS_TEST_TMPDIR/m.bnt"
	assert_line --regexp '^blk\.0\.ffn_down\.weight +f32 +320x864 '
	a=$(bnrun -m "$BATS_TEST_TMPDIR/m.bnt" --perplexity "$S/val.txt" \
	    --ctx 64 -t 2)
	[ -n "$a" ] && [ "$a" = "$ppl" ]
}

# cell ROW COLUMN: a cell of bnstat's CSV on stdin, by first field and
# header name
cell() {
	awk -F, -v r="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++)
	    if ($i == c) k = i; next } $1 == r { print $k }'
}

@test "bnstat --ber: int8 activations at every width, 0 with them off" {
	run -0 bnstat --ber --csv --data "$S/val.txt" --tokens 32 "$S/odd.bnt"
	[ "$(cell '(all)' n <<<"$output")" = $((32 * (320 * 10 + 864 * 2))) ]
	# the first BitLinear's input is the float model's; after it the
	# int8 step shows, in layer 0 and through to the end
	[ "$(cell blk.0.qkv_in ber_bit <<<"$output")" = 0 ]
	for s in blk.0.o_in blk.0.down_in blk.1.down_in final; do
		c=$(cell $s cer_int8 <<<"$output")
		cs=$(cell $s cosine <<<"$output")
		awk -v c="$c" -v cs="$cs" 'BEGIN { exit !(c > 0.05 &&
		    cs < 1) }'
	done
	run -0 bnstat --ber --no-quant --csv --data "$S/val.txt" --tokens 32 \
	    "$S/odd.bnt"
	[ "$(cell '(all)' cer_int8 <<<"$output")" = 0 ]
	[ "$(cell '(all)' n <<<"$output")" = $((32 * (320 * 10 + 864 * 2))) ]
}

@test "ONNX: int8 activations at every width, in each packing, as bnrun" {
	if ! command -v node >/dev/null ||
	    [ ! -d "$ROOT/tests/peers/onnx/node_modules/onnxruntime-node" ]; then
		skip "onnxruntime-node is not installed (make deps installs it, as root)"
	fi
	"$BUILDDIR/tests/mkonnx" --logits "$S/odd.bnt" \
	    "$ODD/reference.safetensors" "$BATS_TEST_TMPDIR/bn.safetensors"
	for p in int2mm nbits int2; do
		bnexport -F onnx -q $p -o "$BATS_TEST_TMPDIR/$p.onnx" "$S/odd.bnt"
		# logits at every position (greedy continuations can part
		# on near-ties, which a logit check does not hide)
		run -0 node "$ROOT/tests/peers/onnx/check.js" --tol 1e-4 \
		    "$BATS_TEST_TMPDIR/$p.onnx" \
		    "$BATS_TEST_TMPDIR/bn.safetensors"
		assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	done
}

@test "the HF export packs back to the identical bnt at these widths" {
	bnexport -F hf -o "$BATS_TEST_TMPDIR/hf" "$S/odd.bnt"
	bnpack -o "$BATS_TEST_TMPDIR/b.bnt" "$BATS_TEST_TMPDIR/hf"
	cmp "$S/odd.bnt" "$BATS_TEST_TMPDIR/b.bnt"
}
