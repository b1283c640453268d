#!/usr/bin/env bats
# Llama-3 rope_scaling (rope_type llama3) through the toolchain: bnrun
# and bnverify --model against a reference no one here wrote
# (tests/fixtures/layouts/llama3-scaled, float64 from transformers'
# equations), the ONNX export run by ONNX Runtime (tests/peers/onnx),
# the GGUF export run by llama.cpp (tests/peers/llamacpp) and read back,
# and the Hugging Face export packed back.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	d=$FIX/layouts/llama3-scaled
	[ -d "$d" ] || d=$ROOT/tests/fixtures/layouts/llama3-scaled
	ln -s "$d" "$S/l3"
	bnpack -o "$S/l3.bnt" "$S/l3"
}

# verify BNT: bnverify --model against the fixture's reference, 1e-3
verify() {
	bnverify --model "$1" --reference "$S/l3/reference.safetensors" \
	    --tol 1e-3
}

# freqs GGUF OUT VALUE: GGUF with every element of rope_freqs.weight set
# to VALUE, or only the second with "second:VALUE"
freqs() {
	python3 -c 'import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
want = struct.pack("<f", 1.0)
for off in range(0, len(d) - 96, 4):
    v = struct.unpack_from("<24f", d, off)
    if v[0] == 1.0 and v[23] == 8.0 and 1.0 < v[1] < v[2] < 8.0:
        break
else:
    sys.exit("no rope_freqs data")
a = sys.argv[3]
if a.startswith("second:"):
    struct.pack_into("<f", d, off + 4, float(a[7:]))
else:
    struct.pack_into("<24f", d, off, *[float(a)] * 24)
open(sys.argv[2], "wb").write(d)' "$@"
}

@test "llama3-scaled: bnpack writes the keys; bnverify --model within 1e-3, greedy 24/24" {
	cfgkey "$S/l3.bnt" rope_scaling llama3
	cfgkey "$S/l3.bnt" rope_factor 8.0
	cfgkey "$S/l3.bnt" rope_low_freq_factor 1.0
	cfgkey "$S/l3.bnt" rope_high_freq_factor 4.0
	cfgkey "$S/l3.bnt" rope_orig_ctx_len 32
	run -0 verify "$S/l3.bnt"
	assert_line --regexp ': ok: worst logit difference [0-9.e-]+ \(tolerance 0\.001\)$'
	assert_line --regexp 'input_ids\.0: 10 tokens: logits max_abs [0-9.e-]+ argmax 10/10$'
	assert_line --regexp 'input_ids\.1: 8 tokens: logits max_abs [0-9.e-]+ argmax 8/8$'
	assert_line --partial "greedy.0: 24/24 tokens agree"
	assert_line --partial "greedy.1: 24/24 tokens agree"
}

@test "llama3-scaled: the same weights with plain RoPE miss the reference" {
	d=$BATS_TEST_TMPDIR/plain
	mkdir "$d"
	ln -s "$S/l3/model.safetensors" "$S/l3/tokenizer.json" "$d/"
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
del c["rope_scaling"]
json.dump(c, open(sys.argv[2], "w"))' "$S/l3/config.json" "$d/config.json"
	bnpack -o "$d.bnt" "$d"
	run -1 grep -a -q 'rope_scaling=' "$d.bnt"
	run -1 verify "$d.bnt"
	assert_line --partial FAILED
}

@test "llama3-scaled: bnrun's greedy text is the reference's tokens" {
	for k in 0 1; do
		p=$(prompt $k)
		want=$p$(ref_continuation "$S/l3" $k)
		run -0 bnrun -m "$S/l3.bnt" --bos --temp 0 -n 24 -t 1 -p "$p"
		[ "$output" = "$want" ]
	done
}

@test "onnx: ONNX Runtime's logits are bnrun's within 1e-3, with and without the KV cache" {
	if ! command -v node >/dev/null ||
	    [ ! -d "$ROOT/tests/peers/onnx/node_modules/onnxruntime-node" ]; then
		skip "onnxruntime-node is not installed (make deps installs it, as root)"
	fi
	"$BUILDDIR/tests/mkonnx" --logits "$S/l3.bnt" \
	    "$S/l3/reference.safetensors" "$BATS_TEST_TMPDIR/l3.ref"
	bnexport -F onnx -o "$BATS_TEST_TMPDIR/l3.onnx" "$S/l3.bnt"
	run -0 node "$ROOT/tests/peers/onnx/check.js" --greedy --tol 1e-3 \
	    "$BATS_TEST_TMPDIR/l3.onnx" "$BATS_TEST_TMPDIR/l3.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	assert_line --partial "greedy.0: 24/24 tokens agree"
	assert_line --partial "greedy.1: 24/24 tokens agree"
	# and the reference's
	run -0 node "$ROOT/tests/peers/onnx/check.js" --greedy --tol 1e-3 \
	    "$BATS_TEST_TMPDIR/l3.onnx" "$S/l3/reference.safetensors"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	bnexport -F onnx --kv-cache -o "$BATS_TEST_TMPDIR/l3-kv.onnx" \
	    "$S/l3.bnt"
	run -0 node "$ROOT/tests/peers/onnx/check.js" --greedy --kv --tol 1e-3 \
	    "$BATS_TEST_TMPDIR/l3-kv.onnx" "$BATS_TEST_TMPDIR/l3.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
}

@test "gguf: llama.cpp runs the f32 export with rope_freqs exactly as bnrun (24 tokens)" {
	g=$BATS_TEST_TMPDIR/l3.gguf
	bnexport -F gguf --float f32 -o "$g" "$S/l3.bnt"
	run -0 node "$ROOT/tests/peers/llamacpp/peer.mjs" info "$g"
	[[ $output == *'"name":"rope_freqs.weight","type":0,"dims":[24]'* ]]
	run -0 llamacpp_compare "$S/l3.bnt" "$g"
	echo "$output" | grep '^case'
	assert_line "case 0: tokenize equal, greedy equal 24/24"
	assert_line "case 1: tokenize equal, greedy equal 24/24"
	# llama.cpp does read the factors: with ones it turns as plain RoPE
	freqs "$g" "$BATS_TEST_TMPDIR/ones.gguf" 1
	run -0 llamacpp_compare "$S/l3.bnt" "$BATS_TEST_TMPDIR/ones.gguf"
	run -1 grep -q "greedy equal 24/24" <<<"$output"
}

@test "gguf: bnpack reads rope_freqs back into the keys; other factors are refused" {
	g=$BATS_TEST_TMPDIR/l3.gguf
	bnexport -F gguf --float f32 -o "$g" "$S/l3.bnt"
	bnpack -o "$BATS_TEST_TMPDIR/g.bnt" "$g"
	run -1 grep -a -q 'rope_freqs' "$BATS_TEST_TMPDIR/g.bnt"
	cfgkey "$BATS_TEST_TMPDIR/g.bnt" rope_scaling llama3
	cfgkey "$BATS_TEST_TMPDIR/g.bnt" rope_factor 8
	cfgkey "$BATS_TEST_TMPDIR/g.bnt" rope_low_freq_factor 1
	cfgkey "$BATS_TEST_TMPDIR/g.bnt" rope_high_freq_factor 4
	cfgkey "$BATS_TEST_TMPDIR/g.bnt" rope_orig_ctx_len 32
	run -0 verify "$BATS_TEST_TMPDIR/g.bnt"
	assert_line --partial "greedy.1: 24/24 tokens agree"
	# all ones: no scaling
	freqs "$g" "$BATS_TEST_TMPDIR/ones.gguf" 1
	bnpack -o "$BATS_TEST_TMPDIR/ones.bnt" "$BATS_TEST_TMPDIR/ones.gguf"
	run -1 grep -a -q 'rope_scaling=' "$BATS_TEST_TMPDIR/ones.bnt"
	# one factor off the llama3 curve
	freqs "$g" "$BATS_TEST_TMPDIR/bad.gguf" second:1.3
	run -65 --separate-stderr bnpack -o "$BATS_TEST_TMPDIR/bad.bnt" \
	    "$BATS_TEST_TMPDIR/bad.gguf"
	[[ $stderr == *"tensor 'rope_freqs.weight': factors that no llama3 rope_scaling gives"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/bad.bnt" ]
}

@test "gguf: llama3 scaling on a bitnet model is refused (llama.cpp's bitnet has no rope_freqs)" {
	d=$BATS_TEST_TMPDIR/bt
	mkdir "$d"
	ln -s "$FIX/bitnet-tiny/model.safetensors" \
	    "$FIX/bitnet-tiny/tokenizer.json" "$d/"
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
c["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0,
    "low_freq_factor": 1.0, "high_freq_factor": 4.0,
    "original_max_position_embeddings": 32}
json.dump(c, open(sys.argv[2], "w"))' "$FIX/bitnet-tiny/config.json" \
	    "$d/config.json"
	bnpack -o "$d.bnt" "$d"
	run -65 --separate-stderr bnexport -F gguf -o "$d.gguf" "$d.bnt"
	[[ $stderr == *"rope_scaling 'llama3': llama.cpp's bitnet graph has no rope_freqs"* ]]
	[ ! -e "$d.gguf" ]
}

@test "hf: config.json carries rope_scaling; bnpack gives back the same bnt" {
	h=$BATS_TEST_TMPDIR/hf
	bnexport -F hf -o "$h" "$S/l3.bnt"
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
want = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
    "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
assert c["rope_scaling"] == want, c["rope_scaling"]
want["rope_theta"] = 500000.0
assert c["rope_parameters"] == want, c["rope_parameters"]' "$h/config.json"
	bnpack -o "$h.bnt" "$h"
	cmp "$S/l3.bnt" "$h.bnt"
}
