#!/usr/bin/env bats
# bnpack on two more public ternary layouts, against references no one
# here wrote (tests/peers/mk-llama-bitlinear.py, NumPy float64):
# Falcon3-*-1.58bit (LlamaForCausalLM with transformers' BitLinear, head_dim
# 256, rope theta 1000042, eps 1e-6, lm_head kept in float) and 1bitLLM's
# bitnet_b1_58 (float16 masters, SentencePiece tokenizer.model only); and
# the HF round trip of the online bf16-master layout (bitnet-tiny-bf16).

load helper

FAL=$ROOT/tests/fixtures/layouts/falcon3-1.58bit
ONE=$ROOT/tests/fixtures/layouts/bitnet_b1_58-1bitllm

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/fal.bnt" "$FAL"
	bnpack -o "$S/one.bnt" "$ONE"
}

# field DIR K NAME: reference.json's entry K, member NAME
field() {
	python3 -c 'import json, sys
e = json.load(open(sys.argv[1]))[int(sys.argv[2])]
sys.stdout.write(e[sys.argv[3]])' "$1/reference.json" "$2" "$3"
}

# greedy BNT DIR K: bnrun's 24 greedy tokens after prompt K are the
# reference's (its text as reference.json has it: bytes that are not
# UTF-8 as \xNN)
greedy() {
	local want got
	want=$(field "$2" "$3" greedy_text)
	got=$(bnrun -m "$1" --bos --temp 0 -n 24 -p "$(field "$2" "$3" prompt)" |
	    python3 -c 'import sys
sys.stdout.write(sys.stdin.buffer.read().decode("utf-8", "backslashreplace"))')
	[ -n "$want" ] && [ "$got" = "$want" ] || {
		printf 'want: %s\ngot:  %s\n' "$want" "$got"
		return 1
	}
}

@test "Falcon3-1.58bit: llama with BitLinear, head_dim 256, float lm_head" {
	cfgkey "$S/fal.bnt" arch llama
	cfgkey "$S/fal.bnt" bitlinear 1
	cfgkey "$S/fal.bnt" head_dim 256
	cfgkey "$S/fal.bnt" hidden_size 512
	cfgkey "$S/fal.bnt" rope_theta 1000042.0
	cfgkey "$S/fal.bnt" norm_eps 1e-06
	cfgkey "$S/fal.bnt" tie_embeddings 0
	run -0 tensors "$S/fal.bnt"
	assert_line --regexp '^blk\.0\.attn_q\.weight +t2 +512x512 '
	assert_line --regexp '^blk\.1\.attn_k\.weight +t2 +256x512 '
	assert_line --regexp '^blk\.1\.ffn_down\.weight +t2 +512x1024 '
	assert_line --regexp '^output\.weight +bf16 +4096x512 '
	refute_line --partial sub_norm
}

@test "Falcon3-1.58bit: within 1e-3 of the reference, both kernel paths" {
	for k in ref $SIMD; do
		BN_KERNEL=$k run -0 bnverify --model "$S/fal.bnt" \
		    --reference "$FAL/reference.safetensors" --tol 1e-3
		assert_line --regexp 'input_ids\.0: 10 tokens: .* argmax 10/10$'
		assert_line --regexp 'input_ids\.1: 8 tokens: .* argmax 8/8$'
		assert_line --partial 'greedy.0: 24/24 tokens agree'
		assert_line --partial 'greedy.1: 24/24 tokens agree'
	done
}

@test "Falcon3-1.58bit: the codes read as a multiplier miss the reference" {
	mkdir "$BATS_TEST_TMPDIR/m"
	ln -s "$FAL/model.safetensors" "$FAL/tokenizer.json" \
	    "$BATS_TEST_TMPDIR/m/"
	sed 's/"quant_method": "bitnet"/&, "linear_class": "autobitlinear"/' \
	    "$FAL/config.json" >"$BATS_TEST_TMPDIR/m/config.json"
	bnpack -o "$BATS_TEST_TMPDIR/m.bnt" "$BATS_TEST_TMPDIR/m"
	run -1 bnverify --model "$BATS_TEST_TMPDIR/m.bnt" \
	    --reference "$FAL/reference.safetensors" --tol 1e-3
	assert_line --partial FAILED
}

@test "Falcon3-1.58bit: bnrun's greedy tokens are the reference's" {
	greedy "$S/fal.bnt" "$FAL" 0
	greedy "$S/fal.bnt" "$FAL" 1
}

@test "Falcon3-1.58bit: the HF export packs back identical" {
	bnexport -F hf -o "$BATS_TEST_TMPDIR/hf" "$S/fal.bnt"
	run -0 grep -F '"architectures": ["LlamaForCausalLM"]' \
	    "$BATS_TEST_TMPDIR/hf/config.json"
	run -0 grep -F '"linear_class": "bitlinear"' \
	    "$BATS_TEST_TMPDIR/hf/config.json"
	bnpack -o "$BATS_TEST_TMPDIR/b.bnt" "$BATS_TEST_TMPDIR/hf"
	cmp "$S/fal.bnt" "$BATS_TEST_TMPDIR/b.bnt"
}

@test "1bitLLM: tokenizer.model alone gives the reference's prompt ids" {
	[ ! -e "$ONE/tokenizer.json" ]
	for k in 0 1; do
		want=$(python3 -c 'import json, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", d[:8])[0]
a, b = json.loads(d[8:8 + n])["input_ids." + sys.argv[2]]["data_offsets"]
ids = struct.unpack("<%di" % ((b - a) // 4), d[8 + n + a:8 + n + b])
print(" ".join(map(str, ids[1:])))' "$ONE/reference.safetensors" $k)
		got=$(field "$ONE" $k prompt | bnrun -m "$S/one.bnt" --tokenize)
		[ -n "$want" ] && [ "$got" = "$want" ]
	done
}

# XXX issue 17: bnpack reads 1bitLLM's config (architectures
# BitnetForCausalLM, model_type llama, no quantization_config) as a float
# llama and carries inner_attn_ln and ffn_layernorm under their HF names,
# which nothing reads: logits 1.6 off, argmax 0/10.  It must either run
# the layout (arch bitnet, BitLinear on float masters, those two norms as
# attn_sub_norm and ffn_sub_norm) or refuse it with exit 65.
misread() {
	if tensors "$S/one.bnt" | grep -q '^model\.layers\.'; then
		skip "bnpack reads 1bitLLM's layout as a float llama (XXX issue 17)"
	fi
}

@test "1bitLLM: within 1e-3 of the reference, and bnrun's greedy tokens" {
	misread
	cfgkey "$S/one.bnt" bitlinear 1
	cfgkey "$S/one.bnt" act silu
	run -0 bnverify --model "$S/one.bnt" \
	    --reference "$ONE/reference.safetensors" --tol 1e-3
	assert_line --regexp 'input_ids\.0: 17 tokens: .* argmax 17/17$'
	assert_line --regexp 'input_ids\.1: 15 tokens: .* argmax 15/15$'
	assert_line --partial 'greedy.0: 24/24 tokens agree'
	assert_line --partial 'greedy.1: 24/24 tokens agree'
	greedy "$S/one.bnt" "$ONE" 0
	greedy "$S/one.bnt" "$ONE" 1
}

# (with bnpack fixed, this needs bnexport -F hf to write tokenizer.model
# for a SentencePiece vocabulary: today it writes no tokenizer for one)
@test "1bitLLM: the HF export packs back identical" {
	misread
	bnexport -F hf -o "$BATS_TEST_TMPDIR/hf" "$S/one.bnt"
	bnpack -o "$BATS_TEST_TMPDIR/b.bnt" "$BATS_TEST_TMPDIR/hf"
	cmp "$S/one.bnt" "$BATS_TEST_TMPDIR/b.bnt"
}

# The online bf16-master layout (bitnet-tiny-bf16; its logits against
# transformers' are in bnrun.bats): the HF export says so and comes back.
@test "online bf16 masters: the HF export says so and packs back identical" {
	bnpack -o "$BATS_TEST_TMPDIR/a.bnt" "$FIX/bitnet-tiny-bf16"
	bnexport -F hf -o "$BATS_TEST_TMPDIR/hf" "$BATS_TEST_TMPDIR/a.bnt"
	run -0 grep -F '"linear_class": "autobitlinear", "quantization_mode": "online"' \
	    "$BATS_TEST_TMPDIR/hf/config.json"
	bnpack -o "$BATS_TEST_TMPDIR/b.bnt" "$BATS_TEST_TMPDIR/hf"
	cmp "$BATS_TEST_TMPDIR/a.bnt" "$BATS_TEST_TMPDIR/b.bnt"
}

@test "1bitLLM: a sub-norm under both of its names is refused as a duplicate" {
	d=$BATS_TEST_TMPDIR/dup
	cp -r "$ONE" "$d"
	chmod -R u+w "$d"
	python3 - "$d/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]
d = open(p, "rb").read()
n = struct.unpack("<Q", d[:8])[0]
h, data = json.loads(d[8:8 + n]), d[8 + n:]
t = dict(h["model.layers.0.self_attn.inner_attn_ln.weight"])
a, b = t["data_offsets"]
t["data_offsets"] = [len(data), len(data) + b - a]
h["model.layers.0.self_attn.attn_sub_norm.weight"] = t
j = json.dumps(h).encode()
j += b" " * ((8 - len(j) % 8) % 8)
open(p, "wb").write(struct.pack("<Q", len(j)) + j + data + data[a:b])
PY
	run -65 --separate-stderr bnpack -o "$d.bnt" "$d"
	[ "$stderr" = "bnpack: $d: duplicate tensor 'blk.0.attn_sub_norm.weight'" ]
	[ ! -e "$d.bnt" ]
}

@test "tensors a model would not use are refused by the loader, not ignored" {
	# 1bitLLM's layout read as a plain llama (its class renamed): its
	# sub-norms would be carried and never applied
	d=$BATS_TEST_TMPDIR/asllama
	cp -r "$ONE" "$d"
	chmod -R u+w "$d"
	sed -i 's/"BitnetForCausalLM"/"LlamaForCausalLM"/' "$d/config.json"
	bnpack -o "$d.bnt" "$d"
	msg="tensor 'blk.0.attn_sub_norm.weight': this architecture has no place for it"
	run -65 --separate-stderr bnrun -m "$d.bnt" -n 1 -p x
	[ "$stderr" = "bnrun: $d.bnt: $msg" ]
	run -65 --separate-stderr bnverify --model "$d.bnt" \
	    --reference "$ONE/reference.safetensors"
	[ "$stderr" = "bnverify: $d.bnt: $msg" ]
	run -65 --separate-stderr bnquant --train "$ROOT/tests/fixtures/austen-val.txt" \
	    --steps 1 --batch 1 --ctx 8 -o "$d.q.bnt" "$d.bnt"
	[[ $stderr == *"$msg" ]]
	[ ! -e "$d.q.bnt" ]
}
