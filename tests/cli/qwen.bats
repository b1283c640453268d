#!/usr/bin/env bats
# qwen2 (q, k and v biases) and qwen3 (per-head q and k RMSNorm before
# RoPE, heads x head_dim != hidden) through the toolchain: bnrun and
# bnverify --model against references no one here wrote
# (tests/fixtures/layouts, float64 from transformers' equations), the
# GGUF export run by llama.cpp (tests/peers/llamacpp), the Hugging Face
# export packed back, the ONNX export run by ONNX Runtime
# (tests/peers/onnx).

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	for m in qwen2-float qwen3-float; do
		d=$FIX/layouts/$m
		[ -d "$d" ] || d=$ROOT/tests/fixtures/layouts/$m
		bnpack -o "$S/$m.bnt" "$d"
		ln -s "$d" "$S/$m"
	done
}

@test "qwen2, qwen3: bnverify --model within 1e-3 of the reference, greedy 24/24" {
	for m in qwen2-float qwen3-float; do
		run -0 bnverify "$S/$m.bnt"
		run -0 bnverify --model "$S/$m.bnt" --reference \
		    "$S/$m/reference.safetensors"
		assert_line --regexp ': ok: worst logit difference [0-9.e-]+ \(tolerance 0\.001\)$'
		assert_line --partial "greedy.0: 24/24 tokens agree"
		assert_line --partial "greedy.1: 24/24 tokens agree"
		assert_line --regexp 'input_ids\.0: 10 tokens: logits max_abs [0-9.e-]+ argmax 10/10$'
	done
}

@test "qwen2, qwen3: bnrun's greedy text is the reference's tokens" {
	for m in qwen2-float qwen3-float; do
		for k in 0 1; do
			p=$(prompt $k)
			want=$p$(ref_continuation "$S/$m" $k)
			run -0 bnrun -m "$S/$m.bnt" --bos --temp 0 -n 24 -t 1 \
			    -p "$p"
			[ "$output" = "$want" ]
		done
	done
}

@test "qwen2 without its biases, qwen3 without its norms: refused by name" {
	bnpack --exclude 'blk\.1\.attn_k\.bias' -o "$BATS_TEST_TMPDIR/a.bnt" \
	    "$S/qwen2-float"
	run -65 --separate-stderr bnrun -m "$BATS_TEST_TMPDIR/a.bnt" -n 1 -p x
	[[ $stderr == *"tensor 'blk.1.attn_k.bias' is missing"* ]]
	bnpack --exclude 'attn_q_norm' -o "$BATS_TEST_TMPDIR/b.bnt" \
	    "$S/qwen3-float"
	run -65 --separate-stderr bnrun -m "$BATS_TEST_TMPDIR/b.bnt" -n 1 -p x
	[[ $stderr == *"tensor 'blk.0.attn_q_norm.weight' is missing"* ]]
}

@test "gguf: llama.cpp's qwen2 and qwen3 run the f32 exports exactly as bnrun (24 tokens)" {
	for m in qwen2-float qwen3-float; do
		g=$BATS_TEST_TMPDIR/$m.gguf
		bnexport -F gguf --float f32 -o "$g" "$S/$m.bnt"
		run -0 grep -c "${m%-float}\.attention\.key_length" "$g"
		run -0 llamacpp_compare "$S/$m.bnt" "$g"
		echo "$output" | grep '^case'
		assert_line "case 0: tokenize equal, greedy equal 24/24"
		assert_line "case 1: tokenize equal, greedy equal 24/24"
	done
	# llama.cpp read them as its qwen2 and qwen3, with their tensors
	run -0 node "$ROOT/tests/peers/llamacpp/peer.mjs" info \
	    "$BATS_TEST_TMPDIR/qwen2-float.gguf"
	[[ $output == *'"arch":"qwen2"'* ]]
	[[ $output == *'"name":"blk.0.attn_q.bias","type":0,"dims":[192]'* ]]
	run -0 node "$ROOT/tests/peers/llamacpp/peer.mjs" info \
	    "$BATS_TEST_TMPDIR/qwen3-float.gguf"
	[[ $output == *'"arch":"qwen3"'* ]]
	[[ $output == *'"name":"blk.1.attn_k_norm.weight","type":0,"dims":[96]'* ]]
}

@test "hf: Qwen2ForCausalLM and Qwen3ForCausalLM; bnpack gives back the same bnt" {
	for m in qwen2-float qwen3-float; do
		bnexport -F hf -o "$BATS_TEST_TMPDIR/$m" "$S/$m.bnt"
		bnpack -o "$BATS_TEST_TMPDIR/$m.bnt" "$BATS_TEST_TMPDIR/$m"
		cmp "$S/$m.bnt" "$BATS_TEST_TMPDIR/$m.bnt"
	done
	c=$BATS_TEST_TMPDIR/qwen2-float/config.json
	grep -q '"architectures": \["Qwen2ForCausalLM"\]' "$c"
	grep -q '"model_type": "qwen2"' "$c"
	run -1 grep -q attention_bias "$c"
	c=$BATS_TEST_TMPDIR/qwen3-float/config.json
	grep -q '"architectures": \["Qwen3ForCausalLM"\]' "$c"
	grep -q '"model_type": "qwen3"' "$c"
	grep -q '"head_dim": 96' "$c"
	grep -q '"attention_bias": false' "$c"
}

@test "onnx: ONNX Runtime's logits are bnrun's within 1e-3, with and without the KV cache" {
	if ! command -v node >/dev/null ||
	    [ ! -d "$ROOT/tests/peers/onnx/node_modules/onnxruntime-node" ]; then
		skip "onnxruntime-node is not installed (make deps installs it, as root)"
	fi
	for m in qwen2-float qwen3-float; do
		"$BUILDDIR/tests/mkonnx" --logits "$S/$m.bnt" \
		    "$S/$m/reference.safetensors" "$BATS_TEST_TMPDIR/$m.ref"
		bnexport -F onnx -o "$BATS_TEST_TMPDIR/$m.onnx" "$S/$m.bnt"
		run -0 node "$ROOT/tests/peers/onnx/check.js" --greedy --tol 1e-3 \
		    "$BATS_TEST_TMPDIR/$m.onnx" "$BATS_TEST_TMPDIR/$m.ref"
		assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
		assert_line --partial "greedy.1: 24/24 tokens agree"
		bnexport -F onnx --kv-cache -o "$BATS_TEST_TMPDIR/$m-kv.onnx" \
		    "$S/$m.bnt"
		run -0 node "$ROOT/tests/peers/onnx/check.js" --greedy --kv \
		    --tol 1e-3 "$BATS_TEST_TMPDIR/$m-kv.onnx" \
		    "$BATS_TEST_TMPDIR/$m.ref"
		assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	done
}
