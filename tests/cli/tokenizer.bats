#!/usr/bin/env bats
# bnrun --tokenize: every byte-level BPE pre-tokenizer family that
# llama.cpp's vocabulary tests cover, through bnpack's bnt stream,
# against their vectors (made by Hugging Face tokenizers).  A process
# per vector is slow, so these take every fifth and the last; the unit
# test t_tokenizer runs them all in one process (and Qwen3.5's, whose
# vocabulary is Qwen2's).  The vocabularies: tests/fixtures/vocab.

load helper

V=$ROOT/tests/fixtures/vocab

# family NAME: bnpack the GGUF, then the vectors tokenize exactly
family() {
	bnpack -o "$BATS_TEST_TMPDIR/$1.bnt" "$V/ggml-vocab-$1.gguf"
	vectors "$1" "$BATS_TEST_TMPDIR/$1.bnt"
}

# vectors NAME MODEL: NAME's vectors tokenize exactly with MODEL
vectors() {
	local g=$V/ggml-vocab-$1.gguf m=$2 i=0 n fails=0 tried=0
	"$BUILDDIR/tests/splitvocab" "$g.inp" "$BATS_TEST_TMPDIR/case"
	n=$(wc -l < "$g.out")
	while IFS= read -r want; do
		if [ $((i % 5)) -eq 0 ] || [ $((i + 1)) -eq "$n" ]; then
			got=$(bnrun -m "$m" --tokenize \
			    < "$BATS_TEST_TMPDIR/case.$i")
			want=$(echo $want)
			if [ "$got" != "$want" ]; then
				echo "$1 case $i: got '$got' want '$want'" >&2
				fails=$((fails + 1))
			fi
			tried=$((tried + 1))
		fi
		i=$((i + 1))
	done < "$g.out"
	[ "$i" -gt 40 ] && [ "$tried" -ge 10 ] && [ "$fails" -eq 0 ]
}

@test "qwen2" {
	family qwen2
}

@test "deepseek-llm" {
	family deepseek-llm
}

@test "deepseek-coder" {
	family deepseek-coder
}

@test "gpt-2" {
	family gpt-2
}

@test "falcon" {
	family falcon
}

@test "starcoder" {
	family starcoder
}

@test "refact" {
	family refact
}

@test "Qwen2 splits digits one by one, LLaMA-3 in threes" {
	bnpack -o "$BATS_TEST_TMPDIR/q.bnt" "$V/ggml-vocab-qwen2.gguf"
	bnpack -o "$BATS_TEST_TMPDIR/l.bnt" "$V/ggml-vocab-llama-bpe.gguf"
	run -0 bash -c "printf 12345 | bnrun -m '$BATS_TEST_TMPDIR/q.bnt' --tokenize"
	[ "$output" = "16 17 18 19 20" ]
	run -0 bash -c "printf 12345 | bnrun -m '$BATS_TEST_TMPDIR/l.bnt' --tokenize"
	[ "$output" = "4513 1774" ]
}

@test "the chat template travels in the tokenizer record" {
	# tokenizer_config.json's (here the list form: "default" is taken)
	d=$BATS_TEST_TMPDIR/hf
	cp -r "$ROOT/tests/fixtures/austen-llama-6m" "$d"
	printf '%s' '{"chat_template": [{"name": "rag", "template": "no"},
	    {"name": "default", "template": "{{ a }}\n\\x"}]}' \
	    > "$d/tokenizer_config.json"
	bnpack -o "$d.bnt" "$d"
	run -0 grep -ac '^chat_template={{ a }}\\n\\\\x$' "$d.bnt"
	[ "$output" = 1 ]
	# and GGUF's tokenizer.chat_template
	bnpack -o "$d.q.bnt" "$V/ggml-vocab-qwen2.gguf"
	run -0 grep -ac '^chat_template={% for message in messages %}' \
	    "$d.q.bnt"
	[ "$output" = 1 ]
	printf '%s' '{"chat_template": 3' > "$d/tokenizer_config.json"
	run -65 --separate-stderr bnpack -o "$d.bnt" "$d"
	[[ $stderr == *tokenizer_config.json* ]]
}

@test "the chat template goes out again: HF and GGUF exports, packed back" {
	d=$BATS_TEST_TMPDIR/hf
	cp -r "$ROOT/tests/fixtures/austen-llama-6m" "$d"
	printf '%s' '{"chat_template": "{% for m in messages %}{{ m.content }}\n{% endfor %}"}' \
	    > "$d/tokenizer_config.json"
	bnpack -o "$d.bnt" "$d"
	bnexport -F hf -o "$d.out" "$d.bnt"
	run -0 grep -F '"chat_template": "{% for m in messages %}{{ m.content }}\n{% endfor %}"' \
	    "$d.out/tokenizer_config.json"
	bnpack -o "$d.back.bnt" "$d.out"
	cmp "$d.bnt" "$d.back.bnt"
	bnexport -F gguf -o "$d.gguf" "$d.bnt"
	bnpack -o "$d.g.bnt" "$d.gguf"
	run -0 grep -ac '^chat_template={% for m in messages %}{{ m.content }}\\n{% endfor %}$' \
	    "$d.g.bnt"
	[ "$output" = 1 ]
}

@test "SentencePiece from tokenizer.model where there is no tokenizer.json" {
	# a small model with LLaMA-2's vocabulary, exported to a Hugging
	# Face directory (no tokenizer.json for SentencePiece), given the
	# tokenizer.model that mkspm-model.py made from the same vocabulary
	d=$BATS_TEST_TMPDIR/spm
	bnquant --init llama --tokenizer "$V/ggml-vocab-llama-spm.gguf" \
	    --hidden 64 --layers 1 --heads 2 --kv-heads 2 --ffn 128 --ctx 64 \
	    -o "$d.bnt"
	bnexport -F hf -o "$d" "$d.bnt" 2>/dev/null
	[ ! -e "$d/tokenizer.json" ]
	cp "$V/llama-spm.tokenizer.model" "$d/tokenizer.model"
	bnpack -o "$d.hf.bnt" "$d"
	vectors llama-spm "$d.hf.bnt"
	# the space prefix (add_dummy_prefix): "Hello" is one piece
	run -0 bash -c "printf Hello | bnrun -m '$d.hf.bnt' --tokenize"
	[ "$output" = 15043 ]
	# a model type other than BPE (1: unigram) is refused
	printf '\x0a\x05\x0a\x01a\x18\x01\x12\x02\x18\x01' \
	    >"$d/tokenizer.model"
	run -65 --separate-stderr bnpack -o "$d.x.bnt" "$d"
	[[ $stderr == *"tokenizer.model: model_type 1"* ]]
	# and a truncated file is an error, not a vocabulary
	head -c 1000 "$V/llama-spm.tokenizer.model" >"$d/tokenizer.model"
	run -65 --separate-stderr bnpack -o "$d.x.bnt" "$d"
	[[ $stderr == *tokenizer.model* ]]
}

@test "tokenizer.json: Qwen2's Split regex is read as qwen2" {
	# merges would make "123" one token; Qwen2's regex splits digits
	cat >"$BATS_TEST_TMPDIR/tokenizer.json" <<'JSON'
{"version":"1.0","added_tokens":[],
 "pre_tokenizer":{"type":"Sequence","pretokenizers":[
  {"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},
  {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]},
 "decoder":{"type":"ByteLevel"},
 "model":{"type":"BPE","vocab":{"1":0,"2":1,"3":2,"12":3,"123":4},
  "merges":["1 2","12 3"]}}
JSON
	bnpack -o "$BATS_TEST_TMPDIR/t.bnt" "$BATS_TEST_TMPDIR/tokenizer.json"
	run -0 bash -c "printf 123 | bnrun -m '$BATS_TEST_TMPDIR/t.bnt' --tokenize"
	[ "$output" = "0 1 2" ]
}
