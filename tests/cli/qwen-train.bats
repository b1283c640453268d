#!/usr/bin/env bats
# bnquant --init and --train on qwen2 (q, k and v biases) and qwen3
# (per-head q and k norms, heads x head_dim != hidden): new models and
# the float fixtures of tests/fixtures/layouts train (the loss falls on
# a repeated text), checkpoints resume bit for bit, and bnrun runs the
# result with the validation loss the training forward computed.  The gradients themselves are checked against finite
# differences in tests/unit/t_train.c.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	tj=$FIX/austen-llama-6m/tokenizer.json
	bnquant --init qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 2 \
	    --ffn 64 --ctx 32 --tokenizer "$tj" --seed 3 -o "$S/qwen2.bnt"
	bnquant --init qwen3 --hidden 32 --layers 2 --heads 4 --kv-heads 2 \
	    --head-dim 12 --ffn 64 --ctx 32 --tokenizer "$tj" --seed 3 \
	    -o "$S/qwen3.bnt"
	for m in qwen2-float qwen3-float; do
		d=$FIX/layouts/$m
		[ -d "$d" ] || d=$ROOT/tests/fixtures/layouts/$m
		bnpack -o "$S/$m.bnt" "$d"
	done
	# one sentence over and over: every window is nearly the same
	for i in $(seq 60); do
		printf 'Elizabeth walked to the house and sat by the fire. '
	done >"$S/rep.txt"
	head -c 3000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/val.txt"
}

# a short run on the repeated text: 2 x 16 tokens a step
train() {
	bnquant --train "$S/rep.txt" --batch 2 --ctx 16 --lr 3e-3 --warmup 1 \
	    --seed 5 -t 2 "$@"
}

# falls LOG: every loss finite, each step's below the one before
falls() {
	python3 - "$1" <<'PY'
import json, math, sys
loss = [json.loads(l)["loss"] for l in open(sys.argv[1])]
assert len(loss) >= 3 and all(math.isfinite(x) for x in loss), loss
assert all(b < a for a, b in zip(loss, loss[1:])), loss
PY
}

# same_val LOG MODEL: the last validation loss of the training forward
# is bnrun's nll on the written model (within 1e-4 relative)
same_val() {
	local nll
	nll=$(bnrun -m "$2" --perplexity "$S/val.txt" --ctx 16 |
	    sed -n 's/.* nll \([0-9.]*\) .*/\1/p')
	python3 - "$1" "$nll" <<'PY'
import json, sys
val = [json.loads(l)["val"] for l in open(sys.argv[1]) if "val" in l][-1]
nll = float(sys.argv[2])
assert abs(val - nll) <= 1e-4 * nll, (val, nll)
PY
}

@test "--init qwen2, qwen3: the tables' tensors, biases 0, norms of head_dim" {
	run -0 bnpack -l "$S/qwen2.bnt"
	assert_line --regexp '^blk\.1\.attn_q\.bias +f32 +32 '
	assert_line --regexp '^blk\.1\.attn_v\.bias +f32 +16 '
	assert_line --regexp '^output\.weight +f32 '
	refute_line --regexp 'q_norm'
	run -0 bnpack -l "$S/qwen3.bnt"
	# 4 heads x 12 = 48 != hidden 32
	assert_line --regexp '^blk\.0\.attn_q\.weight +f32 +48x32 '
	assert_line --regexp '^blk\.0\.attn_output\.weight +f32 +32x48 '
	assert_line --regexp '^blk\.0\.attn_q_norm\.weight +f32 +12 '
	assert_line --regexp '^blk\.0\.attn_k_norm\.weight +f32 +12 '
	refute_line --regexp '\.bias'
	run -0 bnverify "$S/qwen2.bnt"
	run -0 bnverify "$S/qwen3.bnt"
	run -64 --separate-stderr bnquant --init qwen3 --head-dim 9 \
	    --tokenizer "$FIX/austen-llama-6m/tokenizer.json" \
	    -o "$BATS_TEST_TMPDIR/n.bnt"
	[ "$stderr" = "bnquant: head-dim 9 is odd" ]
	[ ! -e "$BATS_TEST_TMPDIR/n.bnt" ]
}

@test "new qwen2 and qwen3 models train: the loss falls, bnrun agrees" {
	for m in qwen2 qwen3; do
		train --steps 5 --val "$S/val.txt" --eval-every 5 \
		    --log "$BATS_TEST_TMPDIR/$m.log" \
		    -o "$BATS_TEST_TMPDIR/$m.bnt" "$S/$m.bnt"
		falls "$BATS_TEST_TMPDIR/$m.log"
		run -0 bnverify "$BATS_TEST_TMPDIR/$m.bnt"
		run -0 bnpack -l "$BATS_TEST_TMPDIR/$m.bnt"
		assert_line --regexp '^blk\.1\.attn_q\.weight +t2 '
		same_val "$BATS_TEST_TMPDIR/$m.log" "$BATS_TEST_TMPDIR/$m.bnt"
	done
	# the biases and the q/k norms are written in float, trained
	run -0 bnpack -l "$BATS_TEST_TMPDIR/qwen2.bnt"
	assert_line --regexp '^blk\.0\.attn_k\.bias +f32 +16 '
	run -0 bnpack -l "$BATS_TEST_TMPDIR/qwen3.bnt"
	assert_line --regexp '^blk\.0\.attn_k_norm\.weight +f32 +12 '
}

@test "the qwen2 and qwen3 fixtures (float, bf16) train; bnrun agrees" {
	for m in qwen2-float qwen3-float; do
		train --steps 3 --val "$S/val.txt" --eval-every 3 \
		    --log "$BATS_TEST_TMPDIR/$m.log" \
		    -o "$BATS_TEST_TMPDIR/$m.bnt" "$S/$m.bnt"
		falls "$BATS_TEST_TMPDIR/$m.log"
		run -0 bnverify "$BATS_TEST_TMPDIR/$m.bnt"
		same_val "$BATS_TEST_TMPDIR/$m.log" "$BATS_TEST_TMPDIR/$m.bnt"
	done
}

@test "qwen2, qwen3: --resume from a checkpoint gives the same bytes" {
	d=$BATS_TEST_TMPDIR
	for m in qwen2 qwen3 qwen3-float; do
		train --steps 4 -C "$d/ck-$m" --ckpt-every 2 \
		    -o "$d/full-$m.bnt" "$S/$m.bnt"
		[ "$(ls "$d/ck-$m")" = "$(printf 'ckpt-%06d.bnt\n' 2 4)" ]
		run -0 bnpack -l "$d/ck-$m/ckpt-000002.bnt"
		if [ $m = qwen2 ]; then
			assert_line --regexp '^optim\.v\.blk\.1\.attn_v\.bias +f32 '
		else
			assert_line --regexp '^optim\.m\.blk\.1\.attn_q_norm\.weight +f32 '
		fi
		train --steps 4 --resume "$d/ck-$m/ckpt-000002.bnt" \
		    -o "$d/resumed-$m.bnt"
		cmp "$d/full-$m.bnt" "$d/resumed-$m.bnt"
		# one thread gives the same bytes too
		train --steps 4 -t 1 -o "$d/one-$m.bnt" "$S/$m.bnt"
		cmp "$d/full-$m.bnt" "$d/one-$m.bnt"
	done
}
