#!/usr/bin/env bats
# bnexport(1): GGUF for llama.cpp, Hugging Face directories for
# transformers.  The GGUF files are checked by llama.cpp itself
# (node-llama-cpp 3.21.1 in tests/peers/llamacpp, which .ci/run installs),
# the Hugging Face directories by our importer, an independent Python
# reader (tests/peers/st-compare.py) and NumPy; transformers itself ran
# tests/interop/hf-check.py on the same bytes (tests/interop/hf-check.out).

load helper

PEER=$ROOT/tests/peers/llamacpp

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	bnquant -q ternary -o "$S/austen-t.bnt" "$S/austen.bnt"
	bnpack -o "$S/tiny.bnt" "$FIX/bitnet-tiny"
}

# peer ARGS...: tests/peers/llamacpp/peer.mjs; a missing install fails
peer() {
	if [ ! -d "$PEER/node_modules/@node-llama-cpp/linux-x64" ]; then
		echo "node-llama-cpp is not installed (make deps installs it," \
		    "as root)" >&2
		return 1
	fi
	node "$PEER/peer.mjs" "$@"
}

# compare BNT GGUF [N]: bnrun against llama.cpp, greedy, fixture prompts
compare() {
	[ -d "$PEER/node_modules/@node-llama-cpp/linux-x64" ] || peer
	BN_BIN=$BIN "$PEER/compare" "$@"
}

@test "--help, usage errors, missing and bad input" {
	run -0 --separate-stderr bnexport --help
	[[ ${lines[0]} == "usage: bnexport -F "* ]]
	[ -z "$stderr" ]
	run -64 --separate-stderr bnexport "$S/austen.bnt"
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "usage: bnexport -F "* ]]
	run -64 --separate-stderr bnexport -F safetensors "$S/austen.bnt"
	[ "${stderr_lines[0]}" = "bnexport: -F: invalid format 'safetensors'" ]
	run -64 --separate-stderr bnexport -F gguf -q tq3_0 "$S/austen.bnt"
	[ "${stderr_lines[0]}" = "bnexport: -q: invalid type 'tq3_0'" ]
	run -64 --separate-stderr bnexport -F gguf --fallback q4_0 "$S/austen.bnt"
	run -64 --separate-stderr bnexport -F gguf --float f8 "$S/austen.bnt"
	run -64 --separate-stderr bnexport -F hf "$S/austen.bnt"
	[ "${stderr_lines[0]}" = "bnexport: -F hf: needs -o DIR or -o NAME.tar.zst" ]
	run -64 --separate-stderr bnexport -F hf -q tq1_0 -o "$BATS_TEST_TMPDIR/d" "$S/austen.bnt"
	run -64 --separate-stderr bnexport -F gguf --shard-size 1M "$S/austen.bnt"
	run -64 --separate-stderr bnexport -F hf --shard-size 0 -o "$BATS_TEST_TMPDIR/d" "$S/austen.bnt"
	run -64 --separate-stderr bnexport --no-such-option
	[[ ${stderr_lines[0]} == "bnexport: "* ]]
	run -66 --separate-stderr bnexport -F gguf -o "$BATS_TEST_TMPDIR/x.gguf" nope.bnt
	[ "$stderr" = "bnexport: nope.bnt: No such file or directory" ]
	run -65 --separate-stderr pipefail "printf XXXXXXXXXXXXXXXX | bnexport -F gguf -o '$BATS_TEST_TMPDIR/x.gguf'"
	[[ $stderr == "bnexport: <stdin>: "* ]]
	[ ! -e "$BATS_TEST_TMPDIR/x.gguf" ]
	run -65 --separate-stderr bnexport -F hf -o "$BATS_TEST_TMPDIR/d" "$BAD/bnt-bad-magic.bnt"
	[ ! -e "$BATS_TEST_TMPDIR/d" ]
	# no output, no temporaries left (bats keeps its separate-stderr-*)
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep -v '^separate-stderr-')" ]
}

@test "gguf: llama and bitnet headers, a file and a pipe give the same bytes" {
	bnexport -F gguf -o "$BATS_TEST_TMPDIR/a.gguf" "$S/austen.bnt"
	bnexport -F gguf < "$S/austen.bnt" > "$BATS_TEST_TMPDIR/b.gguf"
	cmp "$BATS_TEST_TMPDIR/a.gguf" "$BATS_TEST_TMPDIR/b.gguf"
	[ "$(head -c 8 "$BATS_TEST_TMPDIR/a.gguf" | od -An -tx1 | tr -d ' ')" = 4747554603000000 ]
	run -0 grep -c 'llama\.attention\.head_count_kv' "$BATS_TEST_TMPDIR/a.gguf"
	bnexport -F gguf -o "$BATS_TEST_TMPDIR/t.gguf" "$S/tiny.bnt" 2>/dev/null
	run -0 grep -c 'bitnet\.attention\.layer_norm_rms_epsilon' "$BATS_TEST_TMPDIR/t.gguf"
}

@test "gguf: llama.cpp runs the float austen-llama-6m export exactly as bnrun (24 tokens)" {
	bnexport -F gguf --float f32 -o "$BATS_TEST_TMPDIR/f32.gguf" "$S/austen.bnt"
	run -0 compare "$S/austen.bnt" "$BATS_TEST_TMPDIR/f32.gguf" 24
	echo "$output" | grep '^case'
	assert_line "case 0: tokenize equal, greedy equal 24/24"
	assert_line "case 1: tokenize equal, greedy equal 24/24"
	# the same with the weights kept in bf16 (llama.cpp rounds the
	# activations to bf16 for those products: near-ties could flip)
	bnexport -F gguf -o "$BATS_TEST_TMPDIR/bf16.gguf" "$S/austen.bnt"
	run -0 peer info "$BATS_TEST_TMPDIR/bf16.gguf"
	[[ $output == *'"name":"blk.0.attn_q.weight","type":30,"dims":[256,256]'* ]]
	[[ $output == *'"name":"blk.0.attn_norm.weight","type":0,"dims":[256]'* ]]
	run -0 compare "$S/austen.bnt" "$BATS_TEST_TMPDIR/bf16.gguf" 24
	echo "$output" | grep '^case'
	assert_line "case 0: tokenize equal, greedy equal 24/24"
	assert_line "case 1: tokenize equal, greedy equal 24/24"
}

# the summary lines of compare: every case equal, or diverging on a
# near-tie (llama.cpp's logit gap under 0.1)
near_ties_only() {
	local l gap
	while IFS= read -r l; do
		case $l in
		"case "*"greedy equal 24/24") ;;
		"case "*"logit gap "*)
			gap=${l##*logit gap }
			awk -v g="$gap" 'BEGIN { exit !(g < 0.1) }' || return 1 ;;
		"case "*) return 1 ;;
		esac
	done <<<"$1"
}

@test "gguf: llama.cpp runs the ternary export (TQ2_0, TQ1_0); divergences are near-ties" {
	bnexport -F gguf -o "$BATS_TEST_TMPDIR/t2.gguf" "$S/austen-t.bnt"
	bnexport -F gguf -q tq1_0 -o "$BATS_TEST_TMPDIR/t1.gguf" "$S/austen-t.bnt"
	run -0 peer info "$BATS_TEST_TMPDIR/t2.gguf"
	[[ $output == *'"name":"blk.0.ffn_down.weight","type":35,"dims":[768,256]'* ]]
	run -0 peer info "$BATS_TEST_TMPDIR/t1.gguf"
	[[ $output == *'"name":"blk.0.ffn_down.weight","type":34,"dims":[768,256]'* ]]
	run -0 compare "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/t2.gguf" 24
	t2=$output
	echo "$t2" | grep '^case'
	assert_line --partial "case 0: tokenize equal, greedy equal"
	near_ties_only "$t2"
	run -0 compare "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/t1.gguf" 24
	# TQ1_0 holds the same codes and scales: the same tokens
	[ "$(grep '^case' <<<"$output")" = "$(grep '^case' <<<"$t2")" ]
	# through our GGUF importer: every code comes back
	bnpack -o "$BATS_TEST_TMPDIR/rt.bnt" "$BATS_TEST_TMPDIR/t1.gguf"
	run -0 bnverify --against "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/rt.bnt"
	# attn_q and attn_k come back in llama.cpp's row order
	[ "$(grep -c 'codes 1.000000$' <<<"$output")" -eq 30 ]
}

@test "gguf: rows not a multiple of 256 fall back per tensor, said on stderr" {
	python3 "$ROOT/tests/peers/mkodd.py" "$FIX/tokenizer/tokenizer.json" 96 160 "$BATS_TEST_TMPDIR/odd"
	bnpack "$BATS_TEST_TMPDIR/odd" | bnquant -q ternary -o "$BATS_TEST_TMPDIR/odd.bnt"
	run -0 --separate-stderr bnexport -F gguf -o "$BATS_TEST_TMPDIR/q8.gguf" "$BATS_TEST_TMPDIR/odd.bnt"
	[ "${#stderr_lines[@]}" -eq 7 ]
	assert_equal "${stderr_lines[0]}" "bnexport: $BATS_TEST_TMPDIR/odd.bnt: tensor 'blk.0.attn_k.weight': Q8_0 instead of TQ2_0 (row length 96 is not a multiple of 256)"
	run -0 peer info "$BATS_TEST_TMPDIR/q8.gguf"
	[[ $output == *'"name":"blk.0.ffn_down.weight","type":8,"dims":[160,96]'* ]]
	run -0 compare "$BATS_TEST_TMPDIR/odd.bnt" "$BATS_TEST_TMPDIR/q8.gguf" 8
	assert_line "case 0: tokenize equal, greedy equal 8/8"
	assert_line "case 1: tokenize equal, greedy equal 8/8"
	run -0 --separate-stderr bnexport -F gguf --fallback f16 -o "$BATS_TEST_TMPDIR/f16.gguf" "$BATS_TEST_TMPDIR/odd.bnt"
	[[ ${stderr_lines[6]} == *"'blk.0.ffn_up.weight': F16 instead of TQ2_0"* ]]
	run -0 peer info "$BATS_TEST_TMPDIR/f16.gguf"
	[[ $output == *'"name":"blk.0.ffn_up.weight","type":1,"dims":[96,160]'* ]]
	# float tensors as Q8_0 on request
	run -0 bnexport -F gguf --float q8_0 -o "$BATS_TEST_TMPDIR/fq8.gguf" "$S/austen.bnt"
	run -0 peer info "$BATS_TEST_TMPDIR/fq8.gguf"
	[[ $output == *'"name":"token_embd.weight","type":8,"dims":[256,4096]'* ]]
}

@test "gguf: llama.cpp loads the bitnet-tiny export (types, shapes, tokenizer); SiLU caveat" {
	run -0 --separate-stderr bnexport -F gguf -o "$BATS_TEST_TMPDIR/t.gguf" "$S/tiny.bnt"
	[[ $stderr == *"llama.cpp's bitnet graph computes SiLU where this model uses squared ReLU"* ]]
	run -0 peer info "$BATS_TEST_TMPDIR/t.gguf"
	[[ $output == '{"arch":"bitnet","n_tensors":38,"tokenizer":"gpt2","pre":"gpt-2",'* ]]
	[[ $output == *'"name":"blk.1.attn_k.weight","type":35,"dims":[256,64]'* ]]
	[[ $output == *'"name":"blk.1.attn_k.scale","type":0,"dims":[1]'* ]]
	[[ $output == *'"name":"blk.1.ffn_sub_norm.weight","type":0,"dims":[768]'* ]]
	# llama.cpp tokenizes as bnrun does
	want=$(printf 'Hello world, it is a truth.' | bnrun -m "$S/tiny.bnt" --tokenize | tr ' ' ,)
	[[ $output == *"\"hello\":[$want]"* ]]
	# with SiLU in the model too, llama.cpp's bitnet graph (sub-norms,
	# per-tensor .scale tensors) gives bnrun's tokens
	bnexport -F hf -o "$BATS_TEST_TMPDIR/silu" "$S/tiny.bnt"
	sed -i 's/"relu2"/"silu"/' "$BATS_TEST_TMPDIR/silu/config.json"
	bnpack -o "$BATS_TEST_TMPDIR/silu.bnt" "$BATS_TEST_TMPDIR/silu"
	bnexport -F gguf -o "$BATS_TEST_TMPDIR/silu.gguf" "$BATS_TEST_TMPDIR/silu.bnt"
	run -0 compare "$BATS_TEST_TMPDIR/silu.bnt" "$BATS_TEST_TMPDIR/silu.gguf" 24
	assert_line "case 0: tokenize equal, greedy equal 24/24"
	assert_line "case 1: tokenize equal, greedy equal 24/24"
}

@test "gguf: what llama.cpp cannot run is refused (65), no output left" {
	bnexport -F hf -o "$BATS_TEST_TMPDIR/r" "$S/austen.bnt"
	sed -i 's/"silu"/"relu2"/' "$BATS_TEST_TMPDIR/r/config.json"
	bnpack -o "$BATS_TEST_TMPDIR/r.bnt" "$BATS_TEST_TMPDIR/r"
	run -65 --separate-stderr bnexport -F gguf -o "$BATS_TEST_TMPDIR/r.gguf" "$BATS_TEST_TMPDIR/r.bnt"
	[ "$stderr" = "bnexport: $BATS_TEST_TMPDIR/r.bnt: act 'relu2': llama.cpp's llama needs silu" ]
	[ ! -e "$BATS_TEST_TMPDIR/r.gguf" ]
	# a BitLinear model with float projections: ternarize first
	bnpack -o "$BATS_TEST_TMPDIR/f.bnt" "$FIX/bitnet-tiny-bf16"
	run -65 --separate-stderr bnexport -F gguf -o "$BATS_TEST_TMPDIR/f.gguf" "$BATS_TEST_TMPDIR/f.bnt"
	[[ $stderr == *"float projection of a BitLinear model (ternarize it first: bnquant -q ternary)" ]]
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c '\.tmp\.')" -eq 0 ]
}

@test "an invalid ternary code in a well-formed file: every format refuses it (65), no output left" {
	local m=$BATS_TEST_TMPDIR/bad.bnt f
	"$BUILDDIR/tests/mkrandmodel" --shape tiny \
	    --bad-code blk.1.ffn_down.weight -o "$m"
	run -1 bnverify "$m"
	for f in gguf onnx hf; do
		run -65 --separate-stderr bnexport -F $f -o "$BATS_TEST_TMPDIR/o.$f" "$m"
		[[ $stderr == "bnexport: $m: "*"tensor 'blk.1.ffn_down.weight': invalid "*"code"* ]]
		[ ! -e "$BATS_TEST_TMPDIR/o.$f" ]
	done
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c '\.tmp')" -eq 0 ]
	# the same model with valid codes exports
	"$BUILDDIR/tests/mkrandmodel" --shape tiny -o "$m"
	bnexport -F onnx -o "$BATS_TEST_TMPDIR/o.onnx" "$m"
}

@test "hf: bnexport | bnpack gives back the identical bnt (float, ternary, bitnet)" {
	for m in austen austen-t tiny; do
		bnexport -F hf -o "$BATS_TEST_TMPDIR/$m" "$S/$m.bnt"
		bnpack -o "$BATS_TEST_TMPDIR/$m.bnt" "$BATS_TEST_TMPDIR/$m"
		cmp "$S/$m.bnt" "$BATS_TEST_TMPDIR/$m.bnt"
	done
	run -0 ls "$BATS_TEST_TMPDIR/austen"
	assert_output "config.json
generation_config.json
model.safetensors
tokenizer.json
tokenizer_config.json"
	run -0 grep -c '"quantization_mode": "offline"' "$BATS_TEST_TMPDIR/austen-t/config.json"
}

@test "hf: tensor data is the fixtures' byte for byte (independent reader)" {
	bnexport -F hf -o "$BATS_TEST_TMPDIR/tiny" "$S/tiny.bnt"
	run -0 python3 "$ROOT/tests/peers/st-compare.py" "$FIX/bitnet-tiny" "$BATS_TEST_TMPDIR/tiny"
	assert_output "38 tensors identical, 0 different"
	bnexport -F hf -o "$BATS_TEST_TMPDIR/a" "$S/austen.bnt"
	run -0 python3 "$ROOT/tests/peers/st-compare.py" "$FIX/austen-llama-6m" "$BATS_TEST_TMPDIR/a"
	assert_output "57 tensors identical, 0 different"
	# the comparison can fail: the ternary export is not the float model
	bnexport -F hf -o "$BATS_TEST_TMPDIR/t" "$S/austen-t.bnt"
	run -1 python3 "$ROOT/tests/peers/st-compare.py" "$FIX/austen-llama-6m" "$BATS_TEST_TMPDIR/t"
	assert_line "15 tensors identical, 84 different"
	# tokenizer.json says what the fixture's says
	python3 -c 'import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a == b, [k for k in a if a[k] != b.get(k)]' "$FIX/austen-llama-6m/tokenizer.json" "$BATS_TEST_TMPDIR/a/tokenizer.json"
}

@test "hf: shards, tar.zst, existing directories" {
	bnexport -F hf --shard-size 1M -o "$BATS_TEST_TMPDIR/s" "$S/austen.bnt"
	[ -e "$BATS_TEST_TMPDIR/s/model.safetensors.index.json" ]
	[ "$(ls "$BATS_TEST_TMPDIR/s" | grep -c '^model-000[0-9][0-9]-of-00015\.safetensors$')" -eq 15 ]
	run -0 python3 "$ROOT/tests/peers/st-compare.py" "$FIX/austen-llama-6m" "$BATS_TEST_TMPDIR/s"
	assert_output "57 tensors identical, 0 different"
	bnpack -o "$BATS_TEST_TMPDIR/s.bnt" "$BATS_TEST_TMPDIR/s"
	cmp "$S/austen.bnt" "$BATS_TEST_TMPDIR/s.bnt"
	bnexport -F hf -o "$BATS_TEST_TMPDIR/tiny.tar.zst" < "$S/tiny.bnt"
	run -0 tar --zstd -tf "$BATS_TEST_TMPDIR/tiny.tar.zst"
	assert_line "tiny/config.json"
	assert_line "tiny/model.safetensors"
	bnpack -o "$BATS_TEST_TMPDIR/z.bnt" "$BATS_TEST_TMPDIR/tiny.tar.zst"
	cmp "$S/tiny.bnt" "$BATS_TEST_TMPDIR/z.bnt"
	# an empty directory is filled; a non-empty one is refused (73)
	mkdir "$BATS_TEST_TMPDIR/e"
	bnexport -F hf -o "$BATS_TEST_TMPDIR/e" "$S/tiny.bnt"
	[ -s "$BATS_TEST_TMPDIR/e/model.safetensors" ]
	run -73 --separate-stderr bnexport -F hf -o "$BATS_TEST_TMPDIR/e" "$S/tiny.bnt"
	[ "$stderr" = "bnexport: $BATS_TEST_TMPDIR/e: directory is not empty" ]
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c '\.tmp\.')" -eq 0 ]
}

@test "hf: what transformers cannot hold is refused (65), no directory left" {
	bnquant -q binary -o "$BATS_TEST_TMPDIR/b.bnt" "$S/austen.bnt"
	run -65 --separate-stderr bnexport -F hf -o "$BATS_TEST_TMPDIR/b" "$BATS_TEST_TMPDIR/b.bnt"
	[[ $stderr == *"binary weights have no transformers layout" ]]
	bnquant -q ternary --scale row -o "$BATS_TEST_TMPDIR/r.bnt" "$S/austen.bnt"
	run -65 --separate-stderr bnexport -F hf -o "$BATS_TEST_TMPDIR/r" "$BATS_TEST_TMPDIR/r.bnt"
	[[ $stderr == *"holds one scale per tensor (requantize with bnquant --scale tensor)" ]]
	[ ! -e "$BATS_TEST_TMPDIR/b" ] && [ ! -e "$BATS_TEST_TMPDIR/r" ]
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c '\.tmp\.')" -eq 0 ]
}

@test "onnx: bnexport -F onnx writes export/onnx.c's graph; ONNX Runtime runs it" {
	"$BUILDDIR/tests/mkonnx" "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	bnexport -F onnx -o "$BATS_TEST_TMPDIR/a.onnx" "$S/austen-t.bnt"
	cmp "$BATS_TEST_TMPDIR/m.onnx" "$BATS_TEST_TMPDIR/a.onnx"
	"$BUILDDIR/tests/mkonnx" --kv --packing int2 "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/m2.onnx"
	bnexport -F onnx --kv-cache -q int2 < "$S/austen-t.bnt" > "$BATS_TEST_TMPDIR/a2.onnx"
	cmp "$BATS_TEST_TMPDIR/m2.onnx" "$BATS_TEST_TMPDIR/a2.onnx"
	run -64 --separate-stderr bnexport -F onnx -q tq2_0 "$S/austen-t.bnt"
	[ "${stderr_lines[0]}" = "bnexport: -q: type not for -F onnx" ]
	run -64 --separate-stderr bnexport -F gguf --kv-cache "$S/austen-t.bnt"
	# ONNX Runtime (tests/peers/onnx) against bnrun's logits
	[ -d "$ROOT/tests/peers/onnx/node_modules/onnxruntime-node" ]
	bnexport -F onnx -o "$BATS_TEST_TMPDIR/f.onnx" "$S/austen.bnt"
	"$BUILDDIR/tests/mkonnx" --logits "$S/austen.bnt" \
	    "$FIX/austen-llama-6m/reference.safetensors" "$BATS_TEST_TMPDIR/f.ref"
	run -0 node "$ROOT/tests/peers/onnx/check.js" --greedy --tol 1e-3 \
	    "$BATS_TEST_TMPDIR/f.onnx" "$BATS_TEST_TMPDIR/f.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
}

# numpy DIR REF TOL: tests/peers/hf-numpy.py (Debian's python3-numpy)
numpy_check() {
	/usr/bin/python3 "$ROOT/tests/peers/hf-numpy.py" --tol "$3" "$1" "$2"
}

@test "hf: NumPy, as transformers defines the models, gets bnrun's logits from the exports" {
	for m in austen austen-t tiny; do
		bnexport -F hf -o "$BATS_TEST_TMPDIR/$m" "$S/$m.bnt"
	done
	"$BUILDDIR/tests/mkonnx" --logits "$S/austen-t.bnt" \
	    "$FIX/austen-llama-6m/reference.safetensors" "$BATS_TEST_TMPDIR/at.ref"
	"$BUILDDIR/tests/mkonnx" --logits "$S/tiny.bnt" \
	    "$FIX/bitnet-tiny/reference.safetensors" "$BATS_TEST_TMPDIR/tiny.ref"
	# float: transformers' own logits (the fixture's reference)
	run -0 numpy_check "$BATS_TEST_TMPDIR/austen" "$FIX/austen-llama-6m/reference.safetensors" 1e-4
	echo "$output"
	assert_line --regexp '^logits\.0: max_abs [0-9.e-]+ argmax 10/10$'
	# ternary llama, packed for transformers' BitLinear: bnrun's logits
	run -0 numpy_check "$BATS_TEST_TMPDIR/austen-t" "$BATS_TEST_TMPDIR/at.ref" 1e-4
	echo "$output"
	assert_line --regexp '^logits\.1: max_abs [0-9.e-]+ argmax 8/8$'
	# bitnet-tiny: int8 activation rounding sits on near-ties
	run -0 numpy_check "$BATS_TEST_TMPDIR/tiny" "$BATS_TEST_TMPDIR/tiny.ref" 8e-2
	echo "$output"
	run -0 numpy_check "$BATS_TEST_TMPDIR/tiny" "$FIX/bitnet-tiny/reference.safetensors" 8e-2
	# the check can fail: the float model is not the ternary one
	run -1 numpy_check "$BATS_TEST_TMPDIR/austen" "$BATS_TEST_TMPDIR/at.ref" 1e-4
}

@test "hf: the exports are the bytes transformers 5.17 ran (tests/interop/hf-check.out)" {
	# tests/interop/hf-check.out is transformers loading these five
	# directories; if an export changes, run the check again (README there)
	bnpack -o "$BATS_TEST_TMPDIR/tiny-bf16.bnt" "$FIX/bitnet-tiny-bf16"
	cd "$BATS_TEST_TMPDIR"
	for m in austen austen-t tiny; do
		bnexport -F hf -o "$m" "$S/$m.bnt"
	done
	bnexport -F hf -o tiny-bf16 tiny-bf16.bnt
	bnexport -F hf --shard-size 4M -o austen-s "$S/austen.bnt"
	run -0 sha256sum -c "$ROOT/tests/interop/hf-check.sha256"
	[ "${#lines[@]}" -eq 29 ]
	# transformers' run passed every check there
	run -0 grep -c ': ok$' "$ROOT/tests/interop/hf-check.out"
	[ "$output" -eq 8 ]
	run -1 grep -e FAIL -e DIFFERENT "$ROOT/tests/interop/hf-check.out"
	# the digests can fail: a sharding of another size is other bytes
	rm -r austen-s
	bnexport -F hf --shard-size 5M -o austen-s "$S/austen.bnt"
	run -1 sha256sum --quiet -c "$ROOT/tests/interop/hf-check.sha256"
}

@test "hf: a model from a GGUF (rope_style=interleaved) goes back to transformers' rows" {
	bnexport -F gguf --float f32 -o "$BATS_TEST_TMPDIR/a.gguf" "$S/austen.bnt"
	bnpack -o "$BATS_TEST_TMPDIR/g.bnt" "$BATS_TEST_TMPDIR/a.gguf"
	run -0 grep -ac '^rope_style=interleaved$' "$BATS_TEST_TMPDIR/g.bnt"
	bnexport -F hf --float bf16 -o "$BATS_TEST_TMPDIR/h" "$BATS_TEST_TMPDIR/g.bnt"
	run -0 python3 "$ROOT/tests/peers/st-compare.py" "$FIX/austen-llama-6m" "$BATS_TEST_TMPDIR/h"
	assert_output "57 tensors identical, 0 different"
	# (the bnt holds q and k in llama.cpp's order: bnexport -F gguf
	# permuted them, and bnpack kept them so)
	run -0 bnverify --against "$S/austen.bnt" "$BATS_TEST_TMPDIR/g.bnt"
	assert_line --regexp 'blk\.0\.attn_q\.weight: max_abs 0\.[1-9]'
	assert_line --regexp 'blk\.0\.attn_v\.weight: max_abs 0 '
}

@test "gguf: llama.cpp tokenizes the SentencePiece and LLaMA-3 vocabularies as bnrun does" {
	[ -d "$PEER/node_modules/@node-llama-cpp/linux-x64" ] || peer
	for v in spm bpe; do
		bnquant --init llama --hidden 64 --layers 1 --heads 4 --ffn 128 \
		    --tokenizer "$VOCAB/ggml-vocab-llama-$v.gguf" |
		    bnquant -q ternary -o "$BATS_TEST_TMPDIR/$v.bnt"
		bnexport -F gguf -o "$BATS_TEST_TMPDIR/$v.gguf" "$BATS_TEST_TMPDIR/$v.bnt" 2>/dev/null
		run -0 env BN_BIN="$BIN" "$PEER/tokcheck" "$BATS_TEST_TMPDIR/$v.bnt" \
		    "$BATS_TEST_TMPDIR/$v.gguf" "$VOCAB/ggml-vocab-llama-$v.gguf.inp" \
		    "$VOCAB/ggml-vocab-llama-$v.gguf.out"
		echo "$v: $output"
		assert_output "46 texts: bnrun 46 equal, llama.cpp 46 equal"
	done
	run -0 peer info "$BATS_TEST_TMPDIR/spm.gguf"
	[[ $output == *'"tokenizer":"llama","pre":"default",'* ]]
	run -0 peer info "$BATS_TEST_TMPDIR/bpe.gguf"
	[[ $output == *'"tokenizer":"gpt2","pre":"llama-bpe",'* ]]
}

@test "gguf: bnexport | bnpack | bnrun: the GGUF comes back and tokenizes alike" {
	bnexport -F gguf -o "$BATS_TEST_TMPDIR/a.gguf" "$S/austen.bnt"
	bnpack -o "$BATS_TEST_TMPDIR/back.bnt" "$BATS_TEST_TMPDIR/a.gguf"
	text=$(head -c 2000 "$ROOT/tests/fixtures/austen-val.txt")
	a=$(printf '%s' "$text" | bnrun -m "$S/austen.bnt" --tokenize)
	b=$(printf '%s' "$text" | bnrun -m "$BATS_TEST_TMPDIR/back.bnt" --tokenize)
	[ -n "$a" ] && [ "$a" = "$b" ]
	run -0 bnrun -m "$BATS_TEST_TMPDIR/back.bnt" -p "It is a truth" -n 8 --temp 0
	want=$(bnrun -m "$S/austen.bnt" -p "It is a truth" -n 8 --temp 0)
	[ "$output" = "$want" ]
}
