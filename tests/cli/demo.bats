#!/usr/bin/env bats
# make demo in a fresh clone, as README.md gives it; examples/austen's
# Makefile: its pipeline, and a small build of it, incremental.

load helper

# the make of a test must not inherit make check's variables (SANITIZE=1)
# or its job server
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEFILES

@test "make demo, as README.md writes it, in a fresh clone" {
	d=$BATS_TEST_TMPDIR/clone
	run -0 git clone -q "$ROOT" "$d"
	# the first indented `make demo` line of README.md, its comment cut
	cmd=$(grep -m 1 -E '^[[:space:]]+make demo' "$d/README.md")
	cmd=${cmd%%#*}
	[ -n "$cmd" ]
	run -0 bash -c "cd '$d' && $cmd"
	# a continuation of the prompt: some words after it
	prompt='It is a truth universally acknowledged'
	[[ $output == *"$prompt"* ]]
	rest=${output#*"$prompt"}
	rest=${rest%%windows *}
	words=$(echo "$rest" | grep -Eo '[A-Za-z]+' | wc -l)
	[ "$words" -ge 10 ]
	# the perplexity of the validation text: near the float teacher's
	# (43.3), below that of ternarization without training (110.6)
	line=$(echo "$output" |
	    grep -E '^windows 212 ctx 256 tokens 54272 nll [0-9.]+ ppl [0-9.]+$')
	ppl=${line##* }
	awk -v p="$ppl" 'BEGIN { exit !(p > 25 && p < 100) }'
}

@test "make -n prints the pipeline of examples/austen" {
	o=$BATS_TEST_TMPDIR/out
	run -0 make -C "$ROOT/examples/austen" -n OUT="$o"
	for step in \
	    'bnpack ../../tests/fixtures/austen-llama-6m | ../../bin/bnverify -p' \
	    'bnquant --train' '--teacher' '-C '"$o"'/ckpt' \
	    'bnverify --against' \
	    'bnstat --stability --min-stability' \
	    'bnstat --ber' '--max-ber' '--svg' \
	    'bnexport -F gguf' 'bnexport -F onnx' 'bnrun -m' '--perplexity'; do
		[[ $output == *"$step"* ]] || { echo "no '$step'"; false; }
	done
	# one command per step, nothing run
	[ ! -e "$o" ]
	run -0 make -C "$ROOT/examples/austen" -n QUICK=1
	[[ $output == *'--steps 6 --batch 2 --ctx 64'* ]]
}

@test "examples/austen: a quick build, up to date, rebuilt after the corpus" {
	t=$BATS_TEST_TMPDIR
	head -c 48000 "$ROOT/tests/fixtures/austen-val.txt" >"$t/corpus.txt"
	a=(-C "$ROOT/examples/austen" QUICK=1 OUT="$t/q" BIN="$BIN"
	    CORPUS="$t/corpus.txt" TRAIN_BYTES=40000 VAL_BYTES=8000)
	run -0 make -j2 "${a[@]}"
	for f in austen.bnt austen-ternary.bnt austen-ternary.bf16.bnt \
	    verify.txt stability.txt stability.svg ber.txt ber.svg \
	    austen-ternary.gguf austen-ternary.onnx sample.txt \
	    perplexity.txt teacher-perplexity.txt train.jsonl; do
		[ -s "$t/q/$f" ] || { echo "no $f"; false; }
	done
	[ "$(ls "$t/q/ckpt")" = "$(printf 'ckpt-00000%s.bnt\n' 2 4 6)" ]
	grep -Eq '^windows [0-9]+ ctx 256 tokens [0-9]+ nll [0-9.]+ ppl [0-9.]+$' \
	    "$t/q/perplexity.txt"
	run -0 bnverify -q "$t/q/austen-ternary.bnt"
	# a second make has nothing to do
	run -0 make -q "${a[@]}"
	run -0 make "${a[@]}"
	[[ $output == *"Nothing to be done"* ]]
	# a newer corpus: everything after it again, the teacher's pack not
	cp -p "$t/q/austen-ternary.bnt" "$t/before.bnt"
	touch "$t/corpus.txt"
	run -1 make -q "${a[@]}"
	run -0 make -j2 "${a[@]}"
	[[ $output == *"bnquant --train"* ]]
	[[ $output == *"bnexport -F onnx"* ]]
	[[ $output != *"bnpack ../../tests"* ]]
	[ "$t/q/austen-ternary.bnt" -nt "$t/before.bnt" ]
	# the same inputs train the same model
	cmp "$t/q/austen-ternary.bnt" "$t/before.bnt"
	run -0 make -q "${a[@]}"
}

@test "examples/scratch: a quick build from zero (bnquant --init, --train without a teacher), up to date after" {
	t=$BATS_TEST_TMPDIR
	head -c 48000 "$ROOT/tests/fixtures/austen-val.txt" >"$t/corpus.txt"
	a=(-C "$ROOT/examples/scratch" QUICK=1 OUT="$t/q" BIN="$BIN"
	    CORPUS="$t/corpus.txt" TRAIN_BYTES=40000 VAL_BYTES=8000)
	run -0 make -j2 "${a[@]}"
	[[ $output == *"bnquant --init bitnet"* ]]
	[[ $output != *"--teacher"* ]]
	for f in init.bnt scratch.bnt train.jsonl perplexity.txt sample.txt; do
		[ -s "$t/q/$f" ] || { echo "no $f"; false; }
	done
	[ "$(ls "$t/q/ckpt")" = "$(printf 'ckpt-00000%s.bnt\n' 3 6)" ]
	# a new model: its loss starts near ln(4096) = 8.32 and falls
	python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 6 and abs(r[0]["ce"] - 8.32) < 0.5, r[0]
assert r[-1]["ce"] < r[0]["ce"] - 0.3 and "val" in r[-1], r' "$t/q/train.jsonl"
	grep -Eq '^windows [0-9]+ ctx 64 tokens [0-9]+ nll [0-9.]+ ppl [0-9.]+$' \
	    "$t/q/perplexity.txt"
	run -0 bnverify -q "$t/q/scratch.bnt"
	run -0 make -q "${a[@]}"
}

@test "examples/qat/ablation: make -n gives each configuration its pieces, one added a row" {
	run -0 make -C "$ROOT/examples/qat/ablation" -n OUT="$BATS_TEST_TMPDIR/r" seed1
	kd=$(echo "$output" | grep -- '--log .*/kd-s1/log.jsonl')
	attn=$(echo "$output" | grep -- '--log .*/attn-s1/log.jsonl')
	subln=$(echo "$output" | grep -- '--log .*/subln-s1/log.jsonl')
	lam=$(echo "$output" | grep -- '--log .*/lambda-s1/log.jsonl')
	[[ $kd == *"--teacher"* && $kd != *"--distill-attn"* ]]
	[[ $attn == *"--teacher"*"--distill-attn 10"* && $attn != *"--to-arch"* ]]
	[[ $subln == *"--distill-attn 10 --to-arch bitnet"* && $subln != *"--lambda"* ]]
	[[ $lam == *"--to-arch bitnet --lambda-warmup 50 --lambda-shape sigmoid"* ]]
	for l in "$kd" "$attn" "$subln" "$lam"; do
		[[ $l == *"--steps 200 --batch 16 --ctx 256"*"--seed 1 "* ]]
	done
	[ "$(echo "$output" | grep -c -- '--kl-base .* --json')" -eq 4 ]
	[ ! -e "$BATS_TEST_TMPDIR/r" ]
}
