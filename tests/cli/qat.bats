#!/usr/bin/env bats
# bnquant --train: gradients and losses against PyTorch, a training run,
# checkpoints, SIGKILL and --resume, distillation, bad input.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	# small texts cut from the validation split (the tests check the
	# machinery; examples/austen trains on the training split)
	head -c 60000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/train.txt"
	tail -c 12000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/val.txt"
}

qat_fixture() {	# name quant
	local d=$ROOT/tests/fixtures/qat/$1
	bnpack -o "$BATS_TEST_TMPDIR/m.bnt" "$d"
	bnpack -o "$BATS_TEST_TMPDIR/r.bnt" "$d/ref.safetensors"
	run -0 "$BUILDDIR/tests/qatcheck" "$2" "$BATS_TEST_TMPDIR/m.bnt" \
	    "$BATS_TEST_TMPDIR/r.bnt"
	# every gradient tensor and all 10 losses were compared
	[ "$(grep -c '^ok   grad ' <<<"$output")" -ge 20 ]
	[ "$(grep -c '^ok   step ' <<<"$output")" -eq 10 ]
	[ "${lines[-1]}" = "$(( ${#lines[@]} - 1 )) passed, 0 failed" ]
	# the same bits with one thread and with the plain-C kernels
	run -0 "$BUILDDIR/tests/qatcheck" -t 1 "$2" "$BATS_TEST_TMPDIR/m.bnt" \
	    "$BATS_TEST_TMPDIR/r.bnt"
	local one=$output
	run -0 env BN_KERNEL=ref "$BUILDDIR/tests/qatcheck" "$2" \
	    "$BATS_TEST_TMPDIR/m.bnt" "$BATS_TEST_TMPDIR/r.bnt"
	[ "$output" = "$one" ]
}

@test "PyTorch reference: llama, ternary, distillation (alpha 0.5, tau 2)" {
	qat_fixture llama-ternary-kd ternary
}

@test "PyTorch reference: bitnet (SubLN, ReLU^2, tied), ternary" {
	qat_fixture bitnet-ternary ternary
}

@test "PyTorch reference: llama, binary" {
	qat_fixture llama-binary binary
}

@test "PyTorch reference: llama, ternary, hidden-state MSE (layers 1 and 0, weight 0.7) on KD" {
	qat_fixture llama-ternary-hid-mse ternary
}

@test "PyTorch reference: bitnet, ternary, hidden-state cosine (layer 1) on KD" {
	qat_fixture bitnet-ternary-hid-cos ternary
}

@test "PyTorch reference: llama, ternary, attention relations (layer 1, tau 0.5, teacher widths 48/32/32) on KD" {
	qat_fixture llama-ternary-attn ternary
}

# a short run: 2 x 64 tokens a step
train() {
	bnquant --train "$S/train.txt" --batch 2 --ctx 64 --lr 5e-4 \
	    --seed 7 -t 2 "$@"
}

@test "a run writes a packed model, a JSON log and validation losses" {
	run -0 --separate-stderr train --val "$S/val.txt" --steps 6 \
	    --eval-every 3 --log "$BATS_TEST_TMPDIR/log" \
	    -o "$BATS_TEST_TMPDIR/q.bnt" "$S/austen.bnt"
	run -0 bnverify "$BATS_TEST_TMPDIR/q.bnt"
	run -0 bnpack -l "$BATS_TEST_TMPDIR/q.bnt"
	assert_line --regexp '^blk\.5\.ffn_down\.weight +t2 '
	assert_line --regexp '^output\.weight +f32 '
	[ "$(wc -l <"$BATS_TEST_TMPDIR/log")" -eq 6 ]
	python3 - "$BATS_TEST_TMPDIR/log" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6], rows
assert all(r["tokens"] == 128 * r["step"] for r in rows)
assert [("val" in r) for r in rows] == [0, 0, 1, 0, 0, 1]
assert all(r["loss"] == r["ce"] and "kl" not in r for r in rows)
assert rows[0]["lr"] > 0 and rows[-1]["lr"] < rows[1]["lr"]
PY
	# the model bnrun runs, and its perplexity is finite
	run -0 --separate-stderr bnrun -m "$BATS_TEST_TMPDIR/q.bnt" \
	    --perplexity "$S/val.txt" --ctx 64
	[[ $output =~ nll\ [0-9]+\.[0-9]+ ]]
}

@test "--keep-master writes master weights the loader ternarizes the same" {
	train --steps 3 --keep-master -o "$BATS_TEST_TMPDIR/m.bnt" "$S/austen.bnt"
	train --steps 3 -o "$BATS_TEST_TMPDIR/q.bnt" "$S/austen.bnt"
	run -0 bnpack -l "$BATS_TEST_TMPDIR/m.bnt"
	assert_line --regexp '^blk\.0\.attn_q\.weight +f32 '
	a=$(bnrun -m "$BATS_TEST_TMPDIR/m.bnt" --perplexity "$S/val.txt" --ctx 64)
	b=$(bnrun -m "$BATS_TEST_TMPDIR/q.bnt" --perplexity "$S/val.txt" --ctx 64)
	[ -n "$a" ] && [ "$a" = "$b" ]
	# and the same run again gives the same bytes
	train --steps 3 -o "$BATS_TEST_TMPDIR/q2.bnt" "$S/austen.bnt"
	cmp "$BATS_TEST_TMPDIR/q.bnt" "$BATS_TEST_TMPDIR/q2.bnt"
	# a different seed does not
	bnquant --train "$S/train.txt" --batch 2 --ctx 64 --lr 5e-4 --seed 8 \
	    --steps 3 -o "$BATS_TEST_TMPDIR/q3.bnt" "$S/austen.bnt"
	! cmp -s "$BATS_TEST_TMPDIR/q.bnt" "$BATS_TEST_TMPDIR/q3.bnt"
}

@test "SIGKILL mid-run, --resume: byte-identical to an uninterrupted run" {
	d=$BATS_TEST_TMPDIR
	train --steps 8 -C "$d/ck1" --ckpt-every 2 -o "$d/full.bnt" \
	    "$S/austen.bnt"
	ls "$d/ck1" >"$d/list"
	[ "$(cat "$d/list")" = "$(printf 'ckpt-%06d.bnt\n' 2 4 6 8)" ]
	train --steps 8 -C "$d/ck2" --ckpt-every 2 -o "$d/resumed.bnt" \
	    "$S/austen.bnt" &
	pid=$!
	while [ ! -e "$d/ck2/ckpt-000004.bnt" ] && kill -0 $pid 2>/dev/null; do
		sleep 0.05
	done
	kill -9 $pid
	wait $pid || true
	[ -e "$d/ck2/ckpt-000004.bnt" ]
	[ ! -e "$d/resumed.bnt" ]
	# no temporary file left behind where it could be mistaken
	last=$(ls "$d/ck2" | grep '^ckpt-[0-9]*\.bnt$' | tail -n 1)
	train --steps 8 -C "$d/ck2" --ckpt-every 2 --resume "$d/ck2/$last" \
	    -o "$d/resumed.bnt"
	cmp "$d/full.bnt" "$d/resumed.bnt"
	cmp "$d/ck1/ckpt-000008.bnt" "$d/ck2/ckpt-000008.bnt"
	# resuming from an earlier checkpoint gives the same bytes too
	train --steps 8 --resume "$d/ck1/ckpt-000002.bnt" -o "$d/r2.bnt"
	cmp "$d/full.bnt" "$d/r2.bnt"
}

@test "distillation: the log has the KL term; alpha 1 is plain CE" {
	train --steps 2 --teacher "$S/austen.bnt" --log "$BATS_TEST_TMPDIR/kd" \
	    -o "$BATS_TEST_TMPDIR/k.bnt" "$S/austen.bnt"
	python3 - "$BATS_TEST_TMPDIR/kd" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = rows[0]
assert r["kl"] > 0
assert abs(r["loss"] - (0.5 * r["ce"] + 0.5 * r["kl"])) < 1e-5, r
PY
	train --steps 2 --teacher "$S/austen.bnt" --kd-alpha 1 --kd-temp 2 \
	    --log "$BATS_TEST_TMPDIR/kd1" -o "$BATS_TEST_TMPDIR/k1.bnt" \
	    "$S/austen.bnt"
	train --steps 2 --log "$BATS_TEST_TMPDIR/ce" \
	    -o "$BATS_TEST_TMPDIR/c.bnt" "$S/austen.bnt"
	cmp "$BATS_TEST_TMPDIR/k1.bnt" "$BATS_TEST_TMPDIR/c.bnt"
}

@test "bad input: one line, documented codes, no output" {
	d=$BATS_TEST_TMPDIR
	run -64 --separate-stderr bnquant --train "$S/train.txt" -C "$d/c" "$S/austen.bnt"
	[ "$stderr" = "bnquant: -C and --ckpt-every go together" ]
	run -64 --separate-stderr bnquant --train "$S/train.txt" --kd-alpha 2 "$S/austen.bnt"
	run -64 --separate-stderr bnquant --train "$S/train.txt"
	run -66 --separate-stderr train --steps 1 -o "$d/o.bnt" nope.bnt
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -66 --separate-stderr bnquant --train nope.txt -o "$d/o.bnt" "$S/austen.bnt"
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -65 --separate-stderr train --steps 1 --resume "$S/austen.bnt" -o "$d/o.bnt"
	[[ $stderr == *"not a checkpoint"* ]]
	printf 'hi' >"$d/tiny.txt"
	run -64 --separate-stderr bnquant --train "$d/tiny.txt" -o "$d/o.bnt" "$S/austen.bnt"
	[[ $stderr == *"fewer than one window"* ]]
	run -65 --separate-stderr train --steps 1 --teacher "$VOCAB/ggml-vocab-llama-bpe.gguf" -o "$d/o.bnt" "$S/austen.bnt"
	[ ! -e "$d/o.bnt" ]
	[ -z "$(ls "$d" | grep '\.tmp\.')" ]
}

@test "bnstat reads the run's checkpoints: flips fall as the learning rate decays" {
	d=$BATS_TEST_TMPDIR
	train --steps 6 -C "$d/ck" --ckpt-every 2 -o "$d/q.bnt" "$S/austen.bnt"
	run -0 --separate-stderr bnstat --stability --json "$d"/ck/ckpt-*.bnt
	python3 - "$output" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
proj = [r for r in rows if r["name"].startswith("blk.")]
assert len(proj) == 6 * 7, len(proj)
for r in rows:
    s = r.get("stability")
    assert s is None or 0 < s <= 1, r
assert any(r.get("stability", 1) < 1 for r in proj), "nothing flipped"
PY
	# the cosine schedule: fewer flips from step 4 to 6 than from 2 to 4
	a=$(bnstat --stability --json "$d/ck/ckpt-000002.bnt" \
	    "$d/ck/ckpt-000004.bnt" | grep '"name":"(all)"')
	b=$(bnstat --stability --json "$d/ck/ckpt-000004.bnt" \
	    "$d/ck/ckpt-000006.bnt" | grep '"name":"(all)"')
	python3 -c 'import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert 0 < b["flip_rate"] < a["flip_rate"], (a["flip_rate"], b["flip_rate"])
' "$a" "$b"
	# the last checkpoint codes as the written model does: no flips
	run -0 bnstat --stability --json "$d/ck/ckpt-000006.bnt" "$d/q.bnt"
	python3 - "$output" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert rows and all(r.get("stability", 1) == 1 for r in rows), rows[:3]
PY
}
