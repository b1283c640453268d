#!/usr/bin/env bats
# bnrun(1): tokenizers, generation, perplexity, bench, exit status; and
# bnverify --model against the reference forward passes.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	bnpack -o "$S/tiny.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$S/tiny-bf16.bnt" "$FIX/bitnet-tiny-bf16"
	bnpack -o "$S/bpe.bnt" "$VOCAB/ggml-vocab-llama-bpe.gguf"
	bnpack -o "$S/spm.bnt" "$VOCAB/ggml-vocab-llama-spm.gguf"
	bnpack -o "$S/tok.bnt" "$FIX/tokenizer/tokenizer.json"
}

@test "--help, --version, usage errors" {
	run -0 bnrun --help
	[[ ${lines[0]} == "usage: bnrun -m model "* ]]
	run -0 bnrun --version
	[[ ${lines[0]} == "bnrun (bntools) "* ]]
	[[ ${lines[2]} == "kernels "* ]]
	run -64 --separate-stderr bnrun
	run -64 --separate-stderr bnrun -m x --temp -1
	[ "${stderr_lines[0]}" = "bnrun: --temp: invalid value '-1'" ]
	run -64 --separate-stderr bnrun -m x -p a --bench
	run -66 --separate-stderr bnrun -m nope.bnt -p hi
	[ "$stderr" = "bnrun: nope.bnt: No such file or directory" ]
}

@test "BN_KERNEL pins a path; an unknown one exits 69" {
	run -69 --separate-stderr env BN_KERNEL=$FOREIGN bnrun -m "$S/austen.bnt" -p a -n 1
	[ "$stderr" = "bnrun: BN_KERNEL=$FOREIGN: not available on this CPU" ]
}

# check_vocab GGUF: every llama.cpp test vector tokenizes exactly
check_vocab() {
	local inp=$VOCAB/$1.inp out=$VOCAB/$1.out model=$2 i=0 fails=0
	"$BUILDDIR/tests/splitvocab" "$inp" "$BATS_TEST_TMPDIR/case"
	while IFS= read -r want; do
		got=$(bnrun -m "$model" --tokenize < "$BATS_TEST_TMPDIR/case.$i")
		want=$(echo $want)
		if [ "$got" != "$want" ]; then
			echo "case $i: got '$got' want '$want'" >&2
			fails=$((fails + 1))
		fi
		i=$((i + 1))
	done < "$out"
	[ "$i" -gt 20 ] && [ "$fails" -eq 0 ]
}

@test "--tokenize: LLaMA-3 byte-level BPE matches llama.cpp's vectors" {
	check_vocab ggml-vocab-llama-bpe.gguf "$S/bpe.bnt"
}

@test "--tokenize: LLaMA-2 SentencePiece matches llama.cpp's vectors" {
	check_vocab ggml-vocab-llama-spm.gguf "$S/spm.bnt"
}

@test "--tokenize: tokenizer.json matches the tokenizers library" {
	"$BUILDDIR/tests/splitcases" "$FIX/tokenizer/encode-cases.json" \
	    "$BATS_TEST_TMPDIR/c"
	n=0
	for f in "$BATS_TEST_TMPDIR"/c.*.txt; do
		want=$(cat "${f%.txt}.ids")
		got=$(bnrun -m "$S/tok.bnt" --tokenize < "$f")
		[ "$got" = "$want" ] || { echo "$f: got '$got' want '$want'" >&2; false; }
		n=$((n + 1))
	done
	[ "$n" -ge 5 ]
}

@test "bnverify --model: austen-llama-6m within 1e-3 of transformers" {
	run -0 bnverify --model "$S/austen.bnt" \
	    --reference "$FIX/austen-llama-6m/reference.safetensors" --tol 1e-3
	assert_line --regexp 'input_ids\.0: 10 tokens: logits max_abs [0-9.e-]+ argmax 10/10$'
	assert_line --regexp 'input_ids\.1: 8 tokens: logits max_abs [0-9.e-]+ argmax 8/8$'
	assert_line --partial 'greedy.0: 24/24 tokens agree'
	assert_line --partial 'greedy.1: 24/24 tokens agree'
}

@test "bnverify --model: bitnet-tiny packed and bf16, both kernel paths" {
	for k in ref $SIMD; do
		for m in tiny tiny-bf16; do
			BN_KERNEL=$k run -0 bnverify --model "$S/$m.bnt" \
			    --reference "$FIX/bitnet-$m/reference.safetensors" \
			    --tol 8e-2
			assert_line --regexp 'input_ids\.0: 10 tokens: .* argmax 10/10$'
			assert_line --regexp 'input_ids\.1: 8 tokens: .* argmax 8/8$'
		done
	done
}

@test "bnverify --model fails past the tolerance" {
	run -1 bnverify --model "$S/tiny.bnt" \
	    --reference "$FIX/bitnet-tiny/reference.safetensors" --tol 1e-9
	assert_line --partial FAILED
}

@test "greedy generation continues the fixture prompts as transformers did" {
	run -0 bnrun -m "$S/austen.bnt" --bos --temp 0 -n 24 \
	    -p "It is a truth universally acknowledged"
	[ "$output" = "$(printf 'It is a truth universally acknowledged.\n\n"I am sure," said he, "that I should not have been in love with you.\n')" ]
}

@test "the ref and SIMD kernels generate the same text" {
	BN_KERNEL=ref bnrun -m "$S/tiny.bnt" --temp 0 -n 16 -p "Elizabeth" > "$BATS_TEST_TMPDIR/a"
	BN_KERNEL=$SIMD bnrun -m "$S/tiny.bnt" --temp 0 -n 16 -p "Elizabeth" > "$BATS_TEST_TMPDIR/b"
	cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	BN_KERNEL=ref bnrun -m "$S/austen.bnt" --seed 3 -n 16 -p "Emma" > "$BATS_TEST_TMPDIR/a"
	BN_KERNEL=$SIMD bnrun -m "$S/austen.bnt" --seed 3 -n 16 -p "Emma" > "$BATS_TEST_TMPDIR/b"
	cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
}

@test "sampling is reproducible with --seed and stops at -n" {
	a=$(bnrun -m "$S/austen.bnt" --seed 42 -n 20 -p "Mr. Knightley")
	b=$(bnrun -m "$S/austen.bnt" --seed 42 -n 20 -p "Mr. Knightley" -t 1)
	[ "$a" = "$b" ]
	n=$(bnrun -m "$S/austen.bnt" --seed 42 -n 20 -p "Mr. Knightley" | wc -c)
	[ "$n" -gt 14 ]
}

@test "--perplexity of austen-llama-6m on the validation text is 3.768" {
	tail -c 201252 "$ROOT/../shared/corpus/austen.txt" > "$BATS_TEST_TMPDIR/val.txt" 2>/dev/null ||
	    tail -c 201252 "$ROOT/tests/fixtures/austen-val.txt" > "$BATS_TEST_TMPDIR/val.txt"
	run -0 bnrun -m "$S/austen.bnt" --perplexity "$BATS_TEST_TMPDIR/val.txt"
	[[ $output =~ ^windows\ 212\ ctx\ 256\ tokens\ 54272\ nll\ ([0-9.]+)\ ppl ]]
	nll=${BASH_REMATCH[1]}
	awk -v x="$nll" 'BEGIN { exit !(x > 3.758 && x < 3.778) }'
}

@test "--bench reports prompt and generation speed" {
	run -0 bnrun -m "$S/tiny.bnt" --bench --pp 32 --tg 8 --json -t 1
	[[ $output =~ \"pp_tps\":[0-9.]+,\"tg\":8,\"tg_tps\":[0-9.]+ ]]
}

@test "--head q8: an int8 head costs under 0.001 nats of perplexity" {
	head -c 60000 "$ROOT/tests/fixtures/austen-val.txt" > "$BATS_TEST_TMPDIR/v.txt"
	a=$(bnrun -m "$S/austen.bnt" --perplexity "$BATS_TEST_TMPDIR/v.txt" | awk '{ print $8 }')
	b=$(bnrun -m "$S/austen.bnt" --head q8 --perplexity "$BATS_TEST_TMPDIR/v.txt" | awk '{ print $8 }')
	awk -v a="$a" -v b="$b" 'BEGIN { d = b - a; if (d < 0) d = -d; exit !(a > 3 && d < 0.001) }'
	BN_KERNEL=ref bnrun -m "$S/austen.bnt" --head q8 --temp 0 -n 12 -p Emma > "$BATS_TEST_TMPDIR/r"
	BN_KERNEL=$SIMD bnrun -m "$S/austen.bnt" --head q8 --temp 0 -n 12 -p Emma > "$BATS_TEST_TMPDIR/x"
	cmp "$BATS_TEST_TMPDIR/r" "$BATS_TEST_TMPDIR/x"
	run -64 --separate-stderr bnrun -m "$S/austen.bnt" --head q3 -p a
	[ "${stderr_lines[0]}" = "bnrun: --head: invalid type 'q3'" ]
}

@test "RoPE: GGUF interleaved pairs compute what HF rotate-half does" {
	"$BUILDDIR/tests/ropeperm" "$S/austen.bnt" "$BATS_TEST_TMPDIR/i.bnt"
	run -0 bnverify --model "$BATS_TEST_TMPDIR/i.bnt" \
	    --reference "$FIX/austen-llama-6m/reference.safetensors" --tol 1e-3
	assert_line --partial 'greedy.0: 24/24 tokens agree'
	# the control: permuted weights with the wrong convention disagree
	"$BUILDDIR/tests/ropeperm" "$S/austen.bnt" "$BATS_TEST_TMPDIR/w.bnt" keep
	run -1 bnverify --model "$BATS_TEST_TMPDIR/w.bnt" \
	    --reference "$FIX/austen-llama-6m/reference.safetensors" --tol 1e-3
}

@test "--head auto: int8 from a vocabulary of 32000, as stored below it" {
	# a small new model with the 32000-token SentencePiece vocabulary
	bnquant --init llama --tokenizer "$VOCAB/ggml-vocab-llama-spm.gguf" \
	    --hidden 64 --layers 1 --heads 2 --kv-heads 2 --ffn 128 --ctx 64 \
	    -o "$BATS_TEST_TMPDIR/v32k.bnt"
	head -c 3000 "$ROOT/tests/fixtures/austen-val.txt" >"$BATS_TEST_TMPDIR/t"
	for m in "$BATS_TEST_TMPDIR/v32k.bnt" "$S/austen.bnt"; do
		for h in auto q8 keep; do
			bnrun -m "$m" --perplexity "$BATS_TEST_TMPDIR/t" --ctx 64 \
			    --head $h >"$BATS_TEST_TMPDIR/$h"
		done
		! cmp -s "$BATS_TEST_TMPDIR/q8" "$BATS_TEST_TMPDIR/keep"
		if [ "$m" = "$S/austen.bnt" ]; then	# 4096 tokens: as stored
			cmp "$BATS_TEST_TMPDIR/auto" "$BATS_TEST_TMPDIR/keep"
		else
			cmp "$BATS_TEST_TMPDIR/auto" "$BATS_TEST_TMPDIR/q8"
		fi
	done
}

@test "a token id past the vocabulary is refused" {
	d=$BATS_TEST_TMPDIR/x
	cp -r "$FIX/austen-llama-6m" "$d"
	chmod -R u+w "$d"
	python3 - "$d/tokenizer.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["added_tokens"].append({"id": 4096, "content": "<|x|>",
    "single_word": False, "lstrip": False, "rstrip": False,
    "normalized": False, "special": True})
json.dump(t, open(sys.argv[1], "w"))
PY
	# refused before it is written (issue 18); bnrun refuses such a
	# stream at load, before any logits (rules.bats), and range-checks
	# every id it indexes with besides
	run -65 --separate-stderr bnpack -o "$d.bnt" "$d"
	[[ $stderr == *"tokenizer: 4097 tokens, more than the config's vocab_size 4096"* ]]
	[ ! -e "$d.bnt" ]
}
