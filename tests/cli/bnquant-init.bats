#!/usr/bin/env bats
# bnquant(1) --init: a freshly initialised model from a tokenizer source.

load helper

# a small shape, so that 128k-token vocabularies stay quick
SMALL="--hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 --ctx 64"

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	bnpack -o "$S/tiny.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$S/tok.bnt" "$FIX/tokenizer/tokenizer.json"
	bnpack -o "$S/bpe.bnt" "$VOCAB/ggml-vocab-llama-bpe.gguf"
	bnpack -o "$S/spm.bnt" "$VOCAB/ggml-vocab-llama-spm.gguf"
}

# cfg FILE KEY: the value of KEY in FILE's configuration record (the
# first record: its metadata starts at byte 96, after the file header
# and the record header)
cfg() {
	tail -c +97 "$1" | head -c 2048 | grep -a "^$2=" | head -n 1 |
	    cut -d= -f2
}

@test "--help shows --init; usage errors are one line, exit 64, no output" {
	run -0 bnquant --help
	[[ ${lines[1]} == "       bnquant --init llama|bitnet|qwen2|qwen3 [--hidden n] "* ]]
	assert_line --regexp '^ +--tokenizer FILE'
	mkdir "$BATS_TEST_TMPDIR/d" && cd "$BATS_TEST_TMPDIR/d"
	tj=$FIX/austen-llama-6m/tokenizer.json
	run -64 --separate-stderr bnquant --init gpt2 --tokenizer "$tj" -o n.bnt
	[ "$stderr" = "bnquant: --init: invalid architecture 'gpt2'" ]
	run -64 --separate-stderr bnquant --init llama -o n.bnt
	[ "$stderr" = "bnquant: --init: --tokenizer is required" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --heads 7 -o n.bnt
	[ "$stderr" = "bnquant: heads 7 does not divide hidden 256" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --kv-heads 3 -o n.bnt
	[ "$stderr" = "bnquant: kv-heads 3 does not divide heads 8" ]
	run -64 --separate-stderr bnquant --init bitnet --tokenizer "$tj" \
	    --hidden 24 -o n.bnt
	[ "$stderr" = "bnquant: head size 3 (hidden / heads) is odd" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --hidden 0 -o n.bnt
	[ "$stderr" = "bnquant: --hidden: invalid size '0'" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --ffn 12x -o n.bnt
	[ "$stderr" = "bnquant: --ffn: invalid size '12x'" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --layers 1025 -o n.bnt
	[ "$stderr" = "bnquant: layers 1025 is out of range (1 to 1024)" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --hidden 65536 --layers 1024 --ffn 262144 -o n.bnt
	[ "$stderr" = "bnquant: too many parameters (more than 68719476736)" ]
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" \
	    --seed -1 -o n.bnt
	[ "$stderr" = "bnquant: --seed: invalid seed '-1'" ]
	# --init takes no operand and no -q; sizes need --init
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" x.bnt
	run -64 --separate-stderr bnquant --init llama --tokenizer "$tj" -q ternary
	run -64 --separate-stderr bnquant -q ternary --hidden 64 "$S/austen.bnt"
	[ -z "$output" ]
	[ -z "$(ls -A)" ]
}

@test "a source without a tokenizer, or none at all: 65, 66, no output" {
	mkdir "$BATS_TEST_TMPDIR/d" && cd "$BATS_TEST_TMPDIR/d"
	run -65 --separate-stderr bnquant --init llama \
	    --tokenizer "$FIX/austen-llama-6m/config.json" -o n.bnt
	[ "$stderr" = "bnquant: $FIX/austen-llama-6m/config.json: no tokenizer" ]
	run -66 --separate-stderr bnquant --init llama --tokenizer nope.json \
	    -o n.bnt
	[ "$stderr" = "bnquant: nope.json: No such file or directory" ]
	[ -z "$(ls -A)" ]
}

@test "a write error: 74, nothing left behind" {
	[ -w /dev/full ] || skip "no /dev/full"
	run -74 --separate-stderr bnquant --init llama \
	    --tokenizer "$S/austen.bnt" -o /dev/full
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "each tokenizer kind and arch: verifies, runs, tokenizes as its source" {
	local src ref a m
	printf 'Hello, world! It is a truth universally acknowledged.\n' \
	    >"$BATS_TEST_TMPDIR/text"
	for pair in "$FIX/austen-llama-6m/tokenizer.json:$S/austen.bnt" \
	    "$FIX/tokenizer/tokenizer.json:$S/tok.bnt" \
	    "$VOCAB/ggml-vocab-llama-bpe.gguf:$S/bpe.bnt" \
	    "$VOCAB/ggml-vocab-llama-spm.gguf:$S/spm.bnt" \
	    "$S/austen.bnt:$S/austen.bnt" \
	    "$FIX/bitnet-tiny:$S/tiny.bnt"; do
		src=${pair%%:*} ref=${pair#*:}
		for a in llama bitnet; do
			m=$BATS_TEST_TMPDIR/m.bnt
			bnquant --init "$a" $SMALL --tokenizer "$src" -o "$m"
			run -0 bnverify "$m"
			run -0 bnrun -m "$m" -p hello -n 5 --temp 0 -t 1
			[[ $output == hello* ]]
			[ "$(bnrun -m "$m" --tokenize <"$BATS_TEST_TMPDIR/text")" = \
			    "$(bnrun -m "$ref" --tokenize <"$BATS_TEST_TMPDIR/text")" ]
			[ "$(cfg "$m" arch)" = "$a" ]
		done
	done
}

@test "the configuration: sizes, defaults, special ids from the tokenizer" {
	m=$BATS_TEST_TMPDIR/m.bnt
	bnquant --init llama --tokenizer "$FIX/austen-llama-6m/tokenizer.json" \
	    -o "$m"
	[ "$(cfg "$m" vocab_size)" = 4096 ]
	[ "$(cfg "$m" hidden_size)" = 256 ]
	[ "$(cfg "$m" n_layers)" = 6 ]
	[ "$(cfg "$m" n_heads)" = 8 ]
	[ "$(cfg "$m" n_kv_heads)" = 4 ]
	[ "$(cfg "$m" head_dim)" = 32 ]
	[ "$(cfg "$m" ffn_size)" = 768 ]
	[ "$(cfg "$m" ctx_len)" = 256 ]
	[ "$(cfg "$m" rope_theta)" = 10000 ]
	[ "$(cfg "$m" act)" = silu ]
	[ "$(cfg "$m" tie_embeddings)" = 0 ]
	[ "$(cfg "$m" bitlinear)" = 1 ]
	run -0 tensors "$m"
	[ "${#lines[@]}" -eq $((3 + 6 * 9)) ]
	assert_line --regexp '^token_embd\.weight +f32 +4096x256 '
	assert_line --regexp '^output\.weight +f32 +4096x256 '
	assert_line --regexp '^blk\.5\.attn_k\.weight +f32 +128x256 '
	assert_line --regexp '^blk\.0\.ffn_down\.weight +f32 +256x768 '
	bnquant --init bitnet --hidden 64 --layers 2 --heads 8 --ffn 128 \
	    --tokenizer "$VOCAB/ggml-vocab-llama-spm.gguf" -o "$m"
	[ "$(cfg "$m" arch)" = bitnet ]
	[ "$(cfg "$m" vocab_size)" = 32000 ]
	[ "$(cfg "$m" n_heads)" = 8 ]
	[ "$(cfg "$m" n_kv_heads)" = 8 ]
	[ "$(cfg "$m" head_dim)" = 8 ]
	[ "$(cfg "$m" rope_theta)" = 500000 ]
	[ "$(cfg "$m" act)" = relu2 ]
	[ "$(cfg "$m" tie_embeddings)" = 1 ]
	[ "$(cfg "$m" bos_id)" = 1 ]
	[ "$(cfg "$m" eos_id)" = 2 ]
	run -0 tensors "$m"
	[ "${#lines[@]}" -eq $((2 + 2 * 11)) ]
	refute_line --regexp '^output\.weight '
	assert_line --regexp '^blk\.1\.attn_sub_norm\.weight +f32 +64 '
	assert_line --regexp '^blk\.1\.ffn_sub_norm\.weight +f32 +128 '
}

@test "the same seed gives the same bytes; another seed, other bytes" {
	cd "$BATS_TEST_TMPDIR"
	for a in llama bitnet; do
		bnquant --init $a $SMALL --tokenizer "$S/austen.bnt" -o a.bnt
		bnquant --init $a $SMALL --tokenizer "$S/austen.bnt" --seed 0 \
		    -o b.bnt
		cmp a.bnt b.bnt
		bnquant --init $a $SMALL --tokenizer "$S/austen.bnt" --seed 1 \
		    -o c.bnt
		run -1 cmp -s a.bnt c.bnt
		# standard output is the same stream
		pipefail "bnquant --init $a $SMALL --tokenizer '$S/austen.bnt' \
		    | cmp - a.bnt"
	done
}

@test "the weights are pinned: these hashes on every machine" {
	m=$BATS_TEST_TMPDIR/m.bnt
	bnquant --init llama --hidden 32 --layers 1 --heads 2 --ffn 64 \
	    --seed 1 --tokenizer "$FIX/austen-llama-6m/tokenizer.json" -o "$m"
	run -0 pipefail "'$BUILDDIR/tests/tensorstat' '$m' | cut -d' ' -f1,3"
	[ "$output" = "token_embd.weight 022aaa7d436c88e2
blk.0.attn_norm.weight dfcb3795c607c825
blk.0.attn_q.weight f9bccda63b2b2b48
blk.0.attn_k.weight 74de041bc17166fc
blk.0.attn_v.weight 6cad7db52b78c26d
blk.0.attn_output.weight c211887376681945
blk.0.ffn_norm.weight dfcb3795c607c825
blk.0.ffn_gate.weight 9943ecf472699ecb
blk.0.ffn_up.weight baa892e4242e25b0
blk.0.ffn_down.weight 06e7d685e9016055
output_norm.weight dfcb3795c607c825
output.weight 3071a2ddb12cc4cf" ]
}

@test "the weights: N(0, 0.02^2) projections and embeddings, norms exactly 1" {
	m=$BATS_TEST_TMPDIR/m.bnt
	bnquant --init bitnet --seed 7 --tokenizer "$S/austen.bnt" -o "$m"
	run -0 bnstat --csv "$m"
	[ "${#lines[@]}" -eq $((1 + 2 + 6 * 11)) ]
	# file,name,dtype,shape,count,mean,std,min,max,...: every float
	# matrix has |mean| < 5e-4 and std within 2% of 0.02 (the largest
	# within 0.5%), extremes below 6 sigma; every norm is all ones
	echo "$output" | awk -F, '
	NR == 1 || $3 != "f32" { next }
	$2 ~ /norm/ {
		if ($6 != 1 || $7 != 0 || $8 != 1 || $9 != 1) bad = bad " " $2
		nn++; next
	}
	{
		sd = $7 / 0.02 - 1; if (sd < 0) sd = -sd
		m = $6; if (m < 0) m = -m
		if (m > 5e-4 || sd > 0.02 || $8 < -0.12 || $9 > 0.12)
			bad = bad " " $2
		if ($5 >= 1000000 && sd > 0.005) bad = bad " " $2
		nw++
	}
	END {
		if (bad != "" || nn != 6 * 4 + 1 || nw != 1 + 6 * 7) {
			print "bad:" bad, nn, nw; exit 1
		}
	}'
}

@test "the vocabulary's pad row of the embedding is zero, as in transformers" {
	g=$BATS_TEST_TMPDIR/v.gguf m=$BATS_TEST_TMPDIR/m.bnt
	"$BUILDDIR/tests/mkgguf" "$g" "$BATS_TEST_TMPDIR/r.safetensors"
	bnquant --init llama --hidden 32 --layers 1 --heads 2 --ffn 64 \
	    --tokenizer "$g" -o "$m"
	[ "$(cfg "$m" pad_id)" = 31 ]
	run -0 "$BUILDDIR/tests/tensorstat" "$m"
	assert_line --regexp '^token_embd\.weight 1024 .* 31$'
	assert_line --regexp '^output\.weight 1024 .* -$'
	run -0 bnverify "$m"
}
