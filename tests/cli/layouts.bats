#!/usr/bin/env bats
# bnpack on Hugging Face checkpoints as public models ship them: the
# BitNet b1.58 2B-4T layout against a reference no one here wrote, the
# config keys of qwen2, qwen3 and Llama-3 RoPE scaling, and every key
# that would change the maths but is not implemented refused by name.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
	L=$FIX/layouts/bitnet-2b4t-layout
	[ -d "$L" ] || L=$ROOT/tests/fixtures/layouts/bitnet-2b4t-layout
}

# layout NAME SED...: the 2B-4T layout in $T/NAME with its config.json
# edited by the sed expressions (weights and tokenizer linked).
layout() {
	local d=$T/$1 e
	shift
	mkdir "$d"
	ln -s "$L/model.safetensors" "$L/tokenizer.json" \
	    "$L/reference.safetensors" "$d/"
	cp "$L/config.json" "$d/config.json"
	chmod u+w "$d/config.json"
	for e in "$@"; do
		sed -i -e "$e" "$d/config.json"
	done
	! cmp -s "$L/config.json" "$d/config.json" || [ $# -eq 0 ]
}

# refused NAME KEY SED...: that edit makes bnpack exit 65 naming KEY and
# write nothing.
refused() {
	local name=$1 key=$2
	shift 2
	layout "$name" "$@"
	run -65 --separate-stderr bnpack -o "$T/$name.bnt" "$T/$name"
	[[ $stderr == *"'$key'"* ]] || {
		echo "$name: $stderr"
		return 1
	}
	[ ! -e "$T/$name.bnt" ]
}

@test "2B-4T layout: weight_scale multiplies; logits within 1e-3 of the reference" {
	bnpack -o "$T/b.bnt" "$L"
	run -0 bnverify --model "$T/b.bnt" --reference "$L/reference.safetensors" \
	    --tol 1e-3
	assert_line --partial 'input_ids.0: 10 tokens: '
	assert_line --partial 'argmax 10/10'
	assert_line --partial 'argmax 8/8'
	assert_line --partial 'greedy.0: 24/24 tokens agree'
	assert_line --partial 'greedy.1: 24/24 tokens agree'
	cfgkey "$T/b.bnt" bitlinear 1
	cfgkey "$T/b.bnt" tie_embeddings 1
	cfgkey "$T/b.bnt" act relu2
}

@test "2B-4T layout: the same codes read as a divisor miss the reference" {
	layout div 's/"autobitlinear"/"bitlinear"/'
	bnpack -o "$T/div.bnt" "$T/div"
	run -1 bnverify --model "$T/div.bnt" \
	    --reference "$L/reference.safetensors" --tol 1e-3
	assert_line --partial FAILED
}

@test "2B-4T layout: bnrun's greedy tokens are the reference's" {
	bnpack -o "$T/b.bnt" "$L"
	want="It is a truth universally acknowledged"
	for i in $(seq 24); do
		want="$want acknowledged"
	done
	run -0 bnrun -m "$T/b.bnt" --bos --temp 0 -n 24 -p \
	    "It is a truth universally acknowledged"
	[ "$output" = "$want" ]
	want="Elizabeth looked at Mr. Darcy and"
	for i in $(seq 24); do
		want="$want and"
	done
	run -0 bnrun -m "$T/b.bnt" --bos --temp 0 -n 24 -p \
	    "Elizabeth looked at Mr. Darcy and"
	[ "$output" = "$want" ]
}

@test "2B-4T layout: the HF export says autobitlinear and packs back identical" {
	bnpack -o "$T/a.bnt" "$L"
	bnexport -F hf -o "$T/hf" "$T/a.bnt"
	run -0 grep -F '"linear_class": "autobitlinear", "quantization_mode": "offline"' \
	    "$T/hf/config.json"
	bnpack -o "$T/b.bnt" "$T/hf"
	cmp "$T/a.bnt" "$T/b.bnt"
	# a stream whose scales divide still says bitlinear
	bnpack -o "$T/t.bnt" "$FIX/bitnet-tiny"
	bnexport -F hf -o "$T/hft" "$T/t.bnt"
	run -0 grep -F '"linear_class": "bitlinear"' "$T/hft/config.json"
}

@test "a yarn rope_scaling exits 65 naming rope_scaling" {
	refused yarn rope_scaling 's/"rope_theta": 500000.0,/&\n "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32},/'
	[[ $stderr == *"rope_type 'yarn' is not implemented"* ]]
}

@test "every other rope_scaling type is refused, in either spelling" {
	for t in longrope dynamic linear su; do
		refused "rs-$t" rope_scaling "s/\"rope_theta\": 500000.0,/&\n \"rope_scaling\": {\"rope_type\": \"$t\", \"factor\": 2.0},/"
		refused "ty-$t" rope_scaling "s/\"rope_theta\": 500000.0,/&\n \"rope_scaling\": {\"type\": \"$t\", \"factor\": 2.0},/"
	done
	# transformers 5 keeps the type in rope_parameters
	refused rp rope_parameters 's/"rope_theta": 500000.0,/"rope_parameters": {"rope_theta": 500000.0, "rope_type": "yarn", "factor": 4.0},/'
}

@test "every unimplemented key that changes the maths exits 65 naming it" {
	refused ab attention_bias 's/"attention_bias": false/"attention_bias": true/'
	refused mb mlp_bias 's/"attention_bias": false,/&\n "mlp_bias": true,/'
	refused sw sliding_window 's/"attention_bias": false,/&\n "use_sliding_window": true, "sliding_window": 4,/'
	refused lt layer_types 's/"attention_bias": false,/&\n "layer_types": ["full_attention", "sliding_attention"],/'
	refused fs final_logit_softcapping 's/"attention_bias": false,/&\n "final_logit_softcapping": 30.0,/'
	refused as attn_logit_softcapping 's/"attention_bias": false,/&\n "attn_logit_softcapping": 50.0,/'
	refused pr partial_rotary_factor 's/"attention_bias": false,/&\n "partial_rotary_factor": 0.5,/'
	refused act hidden_act 's/"relu2"/"gelu_pytorch_tanh"/'
	refused qm quantization_config.quant_method 's/"quant_method": "bitnet"/"quant_method": "gptq"/'
	refused lc quantization_config.linear_class 's/"autobitlinear"/"bitlinear158"/'
	refused mo quantization_config.quantization_mode 's/"offline"/"dynamic"/'
	refused rms quantization_config.use_rms_norm 's/"quantization_mode": "offline"/&, "use_rms_norm": true/'
	refused nc quantization_config.modules_to_not_convert 's/"quantization_mode": "offline"/&, "modules_to_not_convert": ["lm_head", "mlp"]/'
	refused nc1 quantization_config.modules_to_not_convert 's/"quantization_mode": "offline"/&, "modules_to_not_convert": ["layers.1.self_attn.o_proj"]/'
	refused bo quantization_config.quantization_mode 's/"autobitlinear"/"bitlinear"/' 's/"offline"/"online"/'
}

@test "the quantization mode must match the stored projections" {
	layout on 's/"offline"/"online"/'
	run -65 --separate-stderr bnpack -o "$T/on.bnt" "$T/on"
	[[ $stderr == *"tensor 'model.layers.0."*"packed codes, but quantization_mode is online"* ]]
	d=$T/off
	mkdir "$d"
	ln -s "$FIX/bitnet-tiny-bf16/model.safetensors" \
	    "$FIX/bitnet-tiny-bf16/tokenizer.json" "$d/"
	sed 's/"online"/"offline"/' "$FIX/bitnet-tiny-bf16/config.json" \
	    > "$d/config.json"
	run -65 --separate-stderr bnpack -o "$T/off.bnt" "$d"
	[[ $stderr == *"not packed codes with a weight_scale, but quantization_mode is offline"* ]]
}

@test "keys that leave the maths alone pack and run as before" {
	layout ok 's/"attention_bias": false,/&\n "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 2, "mlp_bias": false, "partial_rotary_factor": 1.0, "final_logit_softcapping": null, "attention_dropout": 0.0, "pretraining_tp": 1, "layer_types": ["full_attention", "full_attention"],/' \
	    's/"quantization_mode": "offline"/&, "modules_to_not_convert": ["lm_head"], "use_rms_norm": false, "rms_norm_eps": 1e-06/' \
	    's/"rope_theta": 500000.0,/"rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"},/'
	bnpack -o "$T/ok.bnt" "$T/ok"
	bnpack -o "$T/b.bnt" "$L"
	cmp "$T/ok.bnt" "$T/b.bnt"
}

@test "qwen2, qwen3 and llama3-scaled configs write their keys" {
	cat > "$T/qwen2.json" <<'EOF'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
 "hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 2,
 "num_attention_heads": 3, "num_key_value_heads": 1, "hidden_act": "silu",
 "max_position_embeddings": 4096, "rms_norm_eps": 1e-06,
 "rope_theta": 1000000.0, "tie_word_embeddings": false, "vocab_size": 4096,
 "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 28,
 "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 1}
EOF
	bnpack -o "$T/qwen2.bnt" "$T/qwen2.json"
	cfgkey "$T/qwen2.bnt" arch qwen2
	cfgkey "$T/qwen2.bnt" head_dim 64
	cfgkey "$T/qwen2.bnt" rope_theta 1000000.0
	cfgkey "$T/qwen2.bnt" tie_embeddings 0
	cfgkey "$T/qwen2.bnt" bitlinear 0
	run -1 grep -a -q 'rope_scaling=' "$T/qwen2.bnt"
	cat > "$T/qwen3.json" <<'EOF'
{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
 "hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 96,
 "hidden_act": "silu", "max_position_embeddings": 4096,
 "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "attention_bias": false,
 "tie_word_embeddings": true, "vocab_size": 4096, "use_sliding_window": false,
 "sliding_window": null, "bos_token_id": 0, "eos_token_id": 1}
EOF
	bnpack -o "$T/qwen3.bnt" "$T/qwen3.json"
	cfgkey "$T/qwen3.bnt" arch qwen3
	cfgkey "$T/qwen3.bnt" head_dim 96
	cfgkey "$T/qwen3.bnt" hidden_size 192
	cfgkey "$T/qwen3.bnt" tie_embeddings 1
	# qwen3 reads attention_bias: true would add an o_proj bias too
	sed 's/"attention_bias": false/"attention_bias": true/' "$T/qwen3.json" \
	    > "$T/qwen3b.json"
	run -65 --separate-stderr bnpack -o "$T/q3b.bnt" "$T/qwen3b.json"
	[[ $stderr == *"'attention_bias'"* ]]
	cat > "$T/llama3.json" <<'EOF'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
 "hidden_size": 192, "intermediate_size": 768, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 48,
 "hidden_act": "silu", "max_position_embeddings": 4096,
 "rms_norm_eps": 1e-06, "rope_theta": 500000.0,
 "tie_word_embeddings": false, "vocab_size": 4096,
 "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
 "low_freq_factor": 1.0, "high_freq_factor": 4.0,
 "original_max_position_embeddings": 32}}
EOF
	bnpack -o "$T/llama3.bnt" "$T/llama3.json"
	cfgkey "$T/llama3.bnt" arch llama
	cfgkey "$T/llama3.bnt" rope_scaling llama3
	cfgkey "$T/llama3.bnt" rope_factor 8.0
	cfgkey "$T/llama3.bnt" rope_low_freq_factor 1.0
	cfgkey "$T/llama3.bnt" rope_high_freq_factor 4.0
	cfgkey "$T/llama3.bnt" rope_orig_ctx_len 32
	# each of the four is required, as transformers requires it
	sed 's/"low_freq_factor": 1.0, //' "$T/llama3.json" > "$T/l3.json"
	run -65 --separate-stderr bnpack -o "$T/l3.bnt" "$T/l3.json"
	[[ $stderr == *"'rope_scaling': llama3 needs 'low_freq_factor'"* ]]
}

@test "the shipped qwen2, qwen3 and llama3-scaled layouts pack whole" {
	for m in qwen2-float qwen3-float llama3-scaled; do
		d=$FIX/layouts/$m
		[ -d "$d" ] || d=$ROOT/tests/fixtures/layouts/$m
		bnpack -o "$T/$m.bnt" "$d"
		run -0 bnverify "$T/$m.bnt"
	done
	run -0 tensors "$T/qwen2-float.bnt"
	assert_line --regexp '^blk\.1\.attn_q\.bias +bf16 +192 '
	assert_line --regexp '^blk\.0\.attn_v\.bias +bf16 +64 '
	run -0 tensors "$T/qwen3-float.bnt"
	assert_line --regexp '^blk\.0\.attn_q_norm\.weight +bf16 +96 '
	assert_line --regexp '^blk\.0\.attn_q\.weight +bf16 +384x192 '
	refute_line --regexp '^output\.weight '
	cfgkey "$T/llama3-scaled.bnt" rope_scaling llama3
}
