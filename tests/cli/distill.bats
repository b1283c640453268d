#!/usr/bin/env bats
# bnquant's distillation pieces (issue 22): the quantization warm-up
# (--lambda-warmup, --lambda-shape), the BitNet layout (--to-arch
# bitnet) and hidden-state distillation (--distill-hidden).

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	head -c 60000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/train.txt"
	tail -c 12000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/val.txt"
}

# a short run: 2 x 64 tokens a step
train() {
	bnquant --train "$S/train.txt" --batch 2 --ctx 64 --lr 5e-4 \
	    --seed 7 -t 2 --steps 4 "$@"
}

@test "lambda warm-up: --lambda-warmup 0 is today's run, byte for byte" {
	train -o "$BATS_TEST_TMPDIR/a.bnt" "$S/austen.bnt"
	run -0 train --lambda-warmup 0 -o "$BATS_TEST_TMPDIR/b.bnt" \
	    "$S/austen.bnt"
	cmp "$BATS_TEST_TMPDIR/a.bnt" "$BATS_TEST_TMPDIR/b.bnt"
}

@test "lambda warm-up: linear and sigmoid change the run, and the log says lambda" {
	train -o "$BATS_TEST_TMPDIR/a.bnt" "$S/austen.bnt"
	run -0 train --lambda-warmup 3 --log "$BATS_TEST_TMPDIR/lin.log" \
	    -o "$BATS_TEST_TMPDIR/lin.bnt" "$S/austen.bnt"
	run -0 train --lambda-warmup 3 --lambda-shape sigmoid \
	    --log "$BATS_TEST_TMPDIR/sig.log" -o "$BATS_TEST_TMPDIR/sig.bnt" \
	    "$S/austen.bnt"
	! cmp -s "$BATS_TEST_TMPDIR/a.bnt" "$BATS_TEST_TMPDIR/lin.bnt"
	! cmp -s "$BATS_TEST_TMPDIR/lin.bnt" "$BATS_TEST_TMPDIR/sig.bnt"
	run -0 bnverify "$BATS_TEST_TMPDIR/lin.bnt"
	# linear s / 3 at steps 0..3; sigmoid 1 / (1 + exp(-100 (s/3 - 1/2)))
	run -0 sed 's/.*"lambda":\([^,]*\),.*/\1/' "$BATS_TEST_TMPDIR/lin.log"
	[ "$output" = "$(printf '0\n0.333333\n0.666667\n1')" ]
	run -0 sed 's/.*"lambda":\([^,]*\),.*/\1/' "$BATS_TEST_TMPDIR/sig.log"
	[ "$output" = "$(printf '1.92875e-22\n5.77775e-08\n1\n1')" ]
	# the loss is finite at every step
	run -0 grep -c '"loss":[0-9]' "$BATS_TEST_TMPDIR/lin.log"
	[ "$output" = 4 ]
}

@test "lambda warm-up: resuming a warm-up run is the uninterrupted run" {
	local d=$BATS_TEST_TMPDIR
	train --lambda-warmup 3 --lambda-shape sigmoid -C "$d/c" \
	    --ckpt-every 2 -o "$d/full.bnt" "$S/austen.bnt"
	run -0 cfgkey "$d/c/ckpt-000002.bnt" train.lambda_shape sigmoid
	run -0 cfgkey "$d/c/ckpt-000002.bnt" train.lambda_warmup 3
	# from step 2 of 4, mid-warm-up
	train --lambda-warmup 3 --lambda-shape sigmoid \
	    --resume "$d/c/ckpt-000002.bnt" -o "$d/res.bnt"
	cmp "$d/full.bnt" "$d/res.bnt"
}

@test "lambda warm-up: options that do not apply are usage errors" {
	run -64 --separate-stderr train --lambda-shape sigmoid \
	    -o "$BATS_TEST_TMPDIR/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"--lambda-shape: needs --lambda-warmup"* ]]
	run -64 --separate-stderr train --lambda-warmup 2 --lambda-shape cubic \
	    -o "$BATS_TEST_TMPDIR/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"invalid shape 'cubic'"* ]]
	run -64 --separate-stderr bnquant -q ternary --lambda-warmup 2 \
	    -o "$BATS_TEST_TMPDIR/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"need --train"* ]]
	run -64 --separate-stderr train --lambda-warmup -1 \
	    -o "$BATS_TEST_TMPDIR/x.bnt" "$S/austen.bnt"
	[ ! -e "$BATS_TEST_TMPDIR/x.bnt" ]
}

@test "--to-arch bitnet: sub-norms of ones before attn_output and ffn_down, the rest byte for byte" {
	local d=$BATS_TEST_TMPDIR
	run -0 bnquant --to-arch bitnet -o "$d/b.bnt" "$S/austen.bnt"
	run -0 bnverify "$d/b.bnt"
	cfgkey "$d/b.bnt" arch bitnet
	# the activation and bitlinear stay the llama model's, written out
	cfgkey "$d/b.bnt" act silu
	cfgkey "$d/b.bnt" bitlinear 0
	# from standard input to standard output too
	bnquant --to-arch bitnet <"$S/austen.bnt" | cmp - "$d/b.bnt"
	PYTHONPATH=$ROOT/tests/peers python3 - "$S/austen.bnt" "$d/b.bnt" <<-'PY'
	import struct, sys
	from peerlib import bnt_records, bnt_tensor_name
	T = 0x80000003
	def tensors(path):
	    return [(bnt_tensor_name(r[2]), r) for r in
	            bnt_records(open(path, 'rb').read())[1] if r[0] == T]
	a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
	new = [(n, r) for n, r in b if 'sub_norm' in n]
	# every input tensor, in its order, with its bytes (meta and data)
	old = [(n, r[:4]) for n, r in b if 'sub_norm' not in n]
	assert old == [(n, r[:4]) for n, r in a], 'tensors changed'
	assert len(new) == 2 * 6, len(new)
	names = [n for n, _ in b]
	for l in range(6):
	    i = names.index('blk.%d.attn_sub_norm.weight' % l)
	    assert names[i + 1] == 'blk.%d.attn_output.weight' % l
	    i = names.index('blk.%d.ffn_sub_norm.weight' % l)
	    assert names[i + 1] == 'blk.%d.ffn_down.weight' % l
	for n, r in new:
	    k = 256 if 'attn' in n else 768	# heads x head_dim, ffn
	    assert r[3] == struct.pack('<%df' % k, *[1.0] * k), n
	print('ok')
	PY
	run -0 bnpack -l "$d/b.bnt"
	assert_line --regexp '^blk\.5\.attn_sub_norm\.weight +f32 +256 +1024$'
	assert_line --regexp '^blk\.5\.ffn_sub_norm\.weight +f32 +768 +3072$'
}

@test "--to-arch bitnet --train: the converted model trains, the validation loss falls" {
	local d=$BATS_TEST_TMPDIR
	tail -c 6000 "$ROOT/tests/fixtures/austen-val.txt" >"$d/val.txt"
	run -0 bnquant --to-arch bitnet --train "$S/train.txt" \
	    --val "$d/val.txt" --eval-every 3 --batch 4 --ctx 64 --lr 2e-3 \
	    --warmup 0 --seed 7 -t 2 --steps 9 --log "$d/log" \
	    -o "$d/q.bnt" "$S/austen.bnt"
	run -0 bnverify "$d/q.bnt"
	cfgkey "$d/q.bnt" arch bitnet
	run -0 bnpack -l "$d/q.bnt"
	assert_line --regexp '^blk\.0\.attn_sub_norm\.weight +f32 '
	assert_line --regexp '^blk\.0\.ffn_down\.weight +t2 '
	python3 - "$d/log" <<-'PY'
	import json, math, sys
	rows = [json.loads(l) for l in open(sys.argv[1])]
	assert len(rows) == 9 and all(math.isfinite(r['loss']) for r in rows)
	v = [r['val'] for r in rows if 'val' in r]
	assert len(v) == 3 and v[0] > v[1] > v[2], v
	PY
	# the temporary converted model is gone
	[ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'bnquant.*' -newer "$d/val.txt" 2>/dev/null)" ]
}

@test "--to-arch bitnet: qwen2's biases and qwen3's q/k norms are refused by name" {
	local d=$BATS_TEST_TMPDIR
	bnquant --init qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 2 \
	    --ffn 64 --ctx 64 --tokenizer "$S/austen.bnt" -o "$d/q2.bnt"
	bnquant --init qwen3 --hidden 32 --layers 2 --heads 4 --kv-heads 2 \
	    --ffn 64 --ctx 64 --tokenizer "$S/austen.bnt" -o "$d/q3.bnt"
	run -65 --separate-stderr bnquant --to-arch bitnet -o "$d/x.bnt" \
	    "$d/q2.bnt"
	[ "$stderr" = "bnquant: $d/q2.bnt: arch qwen2: bitnet has no place for its attn_q.bias, attn_k.bias, attn_v.bias; not converted" ]
	run -65 --separate-stderr bnquant --to-arch bitnet -o "$d/x.bnt" \
	    "$d/q3.bnt"
	[ "$stderr" = "bnquant: $d/q3.bnt: arch qwen3: bitnet has no place for its attn_q_norm.weight, attn_k_norm.weight; not converted" ]
	[ ! -e "$d/x.bnt" ]
	run -65 --separate-stderr bnquant --to-arch bitnet --train \
	    "$S/train.txt" --steps 1 -o "$d/x.bnt" "$d/q2.bnt"
	[[ $stderr == *"bitnet has no place for its attn_q.bias"* ]]
	[ ! -e "$d/x.bnt" ]
	bnquant --to-arch bitnet -o "$d/b.bnt" "$S/austen.bnt"
	run -65 --separate-stderr bnquant --to-arch bitnet -o "$d/x.bnt" \
	    "$d/b.bnt"
	[[ $stderr == *"bitnet already"* ]]
	# not a model: no configuration record to convert by
	run -65 --separate-stderr bnquant --to-arch bitnet -o "$d/x.bnt" \
	    "$ROOT/tests/fixtures/bad/good.bnt"
	[[ $stderr == *"good.bnt: config: arch is missing" ]]
	[ ! -e "$d/x.bnt" ]
}

@test "--to-arch: usage errors" {
	local d=$BATS_TEST_TMPDIR
	run -64 --separate-stderr bnquant --to-arch qwen3 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[[ $stderr == *"--to-arch: invalid architecture 'qwen3'"* ]]
	run -64 --separate-stderr bnquant --to-arch bitnet -q ternary \
	    -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"--to-arch: alone or with --train"* ]]
	run -64 --separate-stderr bnquant --to-arch bitnet --init llama \
	    --tokenizer "$S/austen.bnt" -o "$d/x.bnt"
	[[ $stderr == *"--to-arch: alone or with --train"* ]]
	[ ! -e "$d/x.bnt" ]
}

@test "--distill-hidden: the log's terms add up; weight 0 is plain distillation, byte for byte" {
	local d=$BATS_TEST_TMPDIR
	train --teacher "$S/austen.bnt" -o "$d/kd.bnt" "$S/austen.bnt"
	run -0 train --teacher "$S/austen.bnt" --distill-hidden mse \
	    --log "$d/mse.log" -o "$d/mse.bnt" "$S/austen.bnt"
	run -0 train --teacher "$S/austen.bnt" --distill-hidden cos \
	    --distill-hidden-layers 5,2 --distill-hidden-weight 3 \
	    --log "$d/cos.log" -o "$d/cos.bnt" "$S/austen.bnt"
	run -0 bnverify "$d/mse.bnt"
	! cmp -s "$d/kd.bnt" "$d/mse.bnt"
	! cmp -s "$d/mse.bnt" "$d/cos.bnt"
	python3 - "$d/mse.log" 1 "$d/cos.log" 3 <<-'PY'
	import json, math, sys
	for path, w in ((sys.argv[1], float(sys.argv[2])),
	                (sys.argv[3], float(sys.argv[4]))):
	    rows = [json.loads(l) for l in open(path)]
	    assert len(rows) == 4
	    for r in rows:
	        # alpha 0.5, tau 1 by default
	        want = 0.5 * r['ce'] + 0.5 * r['kl'] + w * r['hid']
	        assert math.isfinite(r['hid']) and r['hid'] > 0, r
	        assert abs(r['loss'] - want) < 2e-5, (r, want)
	PY
	# weight 0 adds nothing to the loss or the gradients
	run -0 train --teacher "$S/austen.bnt" --distill-hidden cos \
	    --distill-hidden-weight 0 -o "$d/w0.bnt" "$S/austen.bnt"
	cmp "$d/kd.bnt" "$d/w0.bnt"
	# a checkpoint records the term
	run -0 train --teacher "$S/austen.bnt" --distill-hidden cos \
	    --distill-hidden-layers 5,2 --steps 1 -C "$d/c" --ckpt-every 1 \
	    -o "$d/x.bnt" "$S/austen.bnt"
	cfgkey "$d/c/ckpt-000001.bnt" train.distill_hidden cos
	cfgkey "$d/c/ckpt-000001.bnt" train.distill_hidden_layers 5,2
}

@test "--distill-hidden: options that do not apply are usage errors" {
	local d=$BATS_TEST_TMPDIR
	run -64 --separate-stderr train --distill-hidden mse -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[ "$stderr" = "bnquant: --distill-hidden: needs --train and --teacher" ]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-hidden-weight 2 -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"need --distill-hidden" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-hidden-layers 1 -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"need --distill-hidden" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-hidden l2 -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"invalid loss 'l2' (mse or cos)" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-hidden mse --distill-hidden-layers 1,1 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[[ $stderr == *"layer 1 twice" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-hidden mse --distill-hidden-layers 1,,2 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[[ $stderr == *"invalid list '1,,2'" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-hidden mse --distill-hidden-layers 6 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[ "$stderr" = "bnquant: --distill-hidden-layers: layer 6: the student has 6 layers, the teacher 6 (from 0)" ]
	# a teacher of another width cannot be compared
	bnquant --init llama --hidden 64 --layers 2 --heads 4 --ffn 128 \
	    --ctx 64 --tokenizer "$S/austen.bnt" -o "$d/narrow.bnt"
	run -64 --separate-stderr train --teacher "$d/narrow.bnt" \
	    --distill-hidden mse -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"narrow.bnt: hidden size 64, the student has 256"* ]]
	[ ! -e "$d/x.bnt" ]
}

@test "--distill-attn: the relation term is logged and adds up, layer and temperature change it" {
	local d=$BATS_TEST_TMPDIR
	train --teacher "$S/austen.bnt" -o "$d/kd.bnt" "$S/austen.bnt"
	run -0 train --teacher "$S/austen.bnt" --distill-attn 2 \
	    --log "$d/a.log" -o "$d/a.bnt" "$S/austen.bnt"
	run -0 train --teacher "$S/austen.bnt" --distill-attn 2 \
	    --distill-attn-layer 1 --distill-attn-temp 0.2 \
	    --log "$d/b.log" -o "$d/b.bnt" "$S/austen.bnt"
	run -0 bnverify "$d/a.bnt"
	! cmp -s "$d/kd.bnt" "$d/a.bnt"
	! cmp -s "$d/a.bnt" "$d/b.bnt"
	python3 - "$d/a.log" "$d/b.log" <<-'PY'
	import json, math, sys
	a = [json.loads(l) for l in open(sys.argv[1])]
	b = [json.loads(l) for l in open(sys.argv[2])]
	assert len(a) == len(b) == 4
	for r in a + b:
	    want = 0.5 * r['ce'] + 0.5 * r['kl'] + 2 * r['att']
	    assert math.isfinite(r['att']) and r['att'] > 0, r
	    assert abs(r['loss'] - want) < 2e-5, (r, want)
	# the same first batch: another layer and temperature, another term
	assert abs(a[0]['att'] - b[0]['att']) > 1e-4, (a[0], b[0])
	PY
	run -0 train --teacher "$S/austen.bnt" --distill-attn 2 \
	    --distill-attn-layer 1 --steps 1 -C "$d/c" --ckpt-every 1 \
	    -o "$d/x.bnt" "$S/austen.bnt"
	cfgkey "$d/c/ckpt-000001.bnt" train.distill_attn_layer 1
	# weight 0 is off
	run -0 train --teacher "$S/austen.bnt" --distill-attn 0 \
	    -o "$d/w0.bnt" "$S/austen.bnt"
	cmp "$d/kd.bnt" "$d/w0.bnt"
}

@test "--distill-attn: options that do not apply are usage errors" {
	local d=$BATS_TEST_TMPDIR
	run -64 --separate-stderr train --distill-attn 1 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[ "$stderr" = "bnquant: --distill-attn: needs --train and --teacher" ]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-attn-temp 2 -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"need --distill-attn" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-attn-layer 2 -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"need --distill-attn" ]]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-attn 1 --distill-attn-layer 6 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	[ "$stderr" = "bnquant: --distill-attn-layer 6: the student has 6 layers, the teacher 6 (from 0)" ]
	run -64 --separate-stderr train --teacher "$S/austen.bnt" \
	    --distill-attn 1 --distill-attn-temp 0 -o "$d/x.bnt" \
	    "$S/austen.bnt"
	# a teacher whose widths 8 relation heads do not split
	bnquant --init llama --hidden 36 --layers 6 --heads 3 --kv-heads 3 \
	    --ffn 64 --ctx 64 --tokenizer "$S/austen.bnt" -o "$d/odd.bnt"
	run -64 --separate-stderr train --teacher "$d/odd.bnt" \
	    --distill-attn 1 -o "$d/x.bnt" "$S/austen.bnt"
	[[ $stderr == *"do not split into 8 relation heads"* ]]
	[ ! -e "$d/x.bnt" ]
}
