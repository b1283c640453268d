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
