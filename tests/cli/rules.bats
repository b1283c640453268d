#!/usr/bin/env bats
# The one set of configuration and tokenizer rules (common/config.c):
# bnpack refuses to write what breaks them, bnverify reports it, bnrun
# and the other loaders refuse it; and what bnverify -p leaves behind
# when a check fails (issue 18, items 2, 8 and 11).

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	# the austen tokenizer cut to its first 300 tokens (and the merges
	# among them), and with an added special token of id 4096, its
	# vocab_size; each packed alone, a stream of one TOKENIZER record
	python3 - "$FIX/austen-llama-6m/tokenizer.json" "$S" <<'PY'
import json, sys
src, d = sys.argv[1], sys.argv[2]
t = json.load(open(src))
t["model"]["vocab"] = {k: i for k, i in t["model"]["vocab"].items()
                       if i < 300}
v = t["model"]["vocab"]
t["model"]["merges"] = [m for m in t["model"]["merges"]
                        if all(x in v for x in m) and "".join(m) in v]
json.dump(t, open(d + "/tok300.json", "w"))
t = json.load(open(src))
t["added_tokens"].append({"id": 4096, "content": "<|x|>",
    "single_word": False, "lstrip": False, "rstrip": False,
    "normalized": False, "special": True})
json.dump(t, open(d + "/tok4097.json", "w"))
PY
	mkdir "$S/tok300" "$S/tok4097"
	cp "$S/tok300.json" "$S/tok300/tokenizer.json"
	cp "$S/tok4097.json" "$S/tok4097/tokenizer.json"
	bnpack -o "$S/tok300.bnt" "$S/tok300/tokenizer.json"
	bnpack -o "$S/tok4097.bnt" "$S/tok4097/tokenizer.json"
}

setup() {
	T=$BATS_TEST_TMPDIR
}

# rebnt IN OUT [KEY=VALUE ...] [-KEY ...] [tok=FILE]: IN, one
# uncompressed stream, written again with its CONFIG record's KEY set to
# VALUE or (-KEY) removed, and with the
# TOKENIZER record of the stream FILE instead of its own; checksums
# right, so that only the rules judge it
rebnt() {
	PYTHONPATH=$ROOT/tests/peers python3 - "$@" <<'PY'
import sys
from peerlib import bnt_record, bnt_records
def records(path):
    head, recs = bnt_records(open(path, 'rb').read())
    return head, [r[:4] for r in recs]
record = bnt_record
src, dst = sys.argv[1], sys.argv[2]
sets, tok = {}, None
drop = [a[1:] for a in sys.argv[3:] if a[0] == '-']
for a in sys.argv[3:]:
    if a[0] == '-':
        continue
    k, v = a.split('=', 1)
    if k == 'tok':
        tok = [r for r in records(v)[1] if r[0] == 0x80000002][0]
    else:
        sets[k] = v
head, recs = records(src)
out = head
for kind, fl, meta, data in recs:
    if kind == 0x80000001:
        kv = dict(l.split('=', 1) for l in meta.decode().splitlines())
        kv.update(sets)
        for k in drop:
            kv.pop(k, None)
        meta = ''.join('%s=%s\n' % i for i in kv.items()).encode()
    if kind == 0x80000002 and tok is not None:
        kind, fl, meta, data = tok
    out += record(kind, fl, meta, data)
open(dst, 'wb').write(out)
PY
}

# hfcopy DIR EXPR: a copy of the austen model in DIR with config.json
# changed by the Python statement EXPR on c
hfcopy() {
	cp -r "$FIX/austen-llama-6m" "$1"
	python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))' "$1/config.json" "$2"
}

@test "rules: the good models and the vocabularies of other archs still pass" {
	run -0 bnverify "$S/austen.bnt"
	bnpack -o "$T/falcon.bnt" "$ROOT/tests/fixtures/vocab/ggml-vocab-falcon.gguf"
	cfgkey "$T/falcon.bnt" arch falcon
	run -0 bnverify "$T/falcon.bnt"
	# a config of no arch is judged by the keys it has
	rebnt "$S/austen.bnt" "$T/x.bnt" -arch
	run -1 grep -a -q '^arch=' "$T/x.bnt"
	run -0 bnverify "$T/x.bnt"
	rebnt "$S/austen.bnt" "$T/x.bnt" -arch n_layers=0
	run -1 bnverify "$T/x.bnt"
}

@test "rules: bnverify reports what bnrun refuses (n_layers 0, ctx_len 0, norm_eps -1, rope_theta 0)" {
	for kv in n_layers=0 ctx_len=0 norm_eps=-1 rope_theta=0 \
	    tie_embeddings=2 n_kv_heads=3; do
		k=${kv%%=*}
		rebnt "$S/austen.bnt" "$T/$k.bnt" "$kv"
		run -1 --separate-stderr bnverify "$T/$k.bnt"
		[[ $stderr == *"record 0 (offset 64): config: "*"$k"* ]]
		run -65 --separate-stderr bnrun -m "$T/$k.bnt" -p a -n 1
		[[ $stderr == *"config: "*"$k"* ]]
		# bnpack refuses to write it again
		run -65 --separate-stderr bnpack -o "$T/again.bnt" "$T/$k.bnt"
		[[ $stderr == *"config: "*"$k"* ]]
		[ ! -e "$T/again.bnt" ]
	done
}

@test "rules: bnpack refuses a Hugging Face config that breaks a rule, naming the key" {
	hfcopy "$T/l0" 'c["num_hidden_layers"] = 0'
	run -65 --separate-stderr bnpack -o "$T/l0.bnt" "$T/l0"
	[ "$stderr" = "bnpack: $T/l0: config: n_layers is 0; it must be at least 1" ]
	[ ! -e "$T/l0.bnt" ]
	hfcopy "$T/eps" 'c["rms_norm_eps"] = -1'
	run -65 --separate-stderr bnpack -o "$T/eps.bnt" "$T/eps"
	[[ $stderr == *"config: bad norm_eps '-1'"* ]]
	hfcopy "$T/th" 'c["rope_parameters"]["rope_theta"] = 0'
	run -65 --separate-stderr bnpack -o "$T/th.bnt" "$T/th"
	[[ $stderr == *"config: bad rope_theta '0'"* ]]
	hfcopy "$T/ctx" 'c["max_position_embeddings"] = 0'
	run -65 --separate-stderr bnpack -o "$T/ctx.bnt" "$T/ctx"
	[[ $stderr == *"config: ctx_len is 0"* ]]
}

@test "rules: bnpack refuses bos_id 1000000, past vocab_size and the tokenizer" {
	hfcopy "$T/b" 'c["bos_token_id"] = 1000000'
	run -65 --separate-stderr bnpack -o "$T/b.bnt" "$T/b"
	[ "$stderr" = "bnpack: $T/b: config: bos_id 1000000 is not below vocab_size 4096" ]
	[ ! -e "$T/b.bnt" ]
	rebnt "$S/austen.bnt" "$T/b.bnt" bos_id=1000000
	run -1 --separate-stderr bnverify "$T/b.bnt"
	[[ $stderr == *"config: bos_id 1000000 is not below vocab_size 4096"* ]]
	run -65 --separate-stderr bnrun -m "$T/b.bnt" -p a -n 1
	[[ $stderr == *"config: bos_id 1000000 is not below vocab_size 4096"* ]]
}

@test "rules: a config id below vocab_size but past the tokenizer's tokens is refused" {
	rebnt "$S/austen.bnt" "$T/e.bnt" eos_id=350 tok="$S/tok300.bnt"
	run -1 --separate-stderr bnverify "$T/e.bnt"
	[[ $stderr == *"config: eos_id 350 is not a token of the tokenizer (of 300)"* ]]
	run -65 --separate-stderr bnrun -m "$T/e.bnt" -p a -n 1
	[[ $stderr == *"config: eos_id 350 is not a token of the tokenizer (of 300)"* ]]
	run -65 --separate-stderr bnpack -o "$T/again.bnt" "$T/e.bnt"
	[ ! -e "$T/again.bnt" ]
}

@test "rules: a tokenizer token id equal to vocab_size: bnpack 65, bnverify 1, bnrun 65" {
	want="tokenizer: 4097 tokens, more than the config's vocab_size 4096 (token ids 4096 and above have no embedding)"
	cp -r "$FIX/austen-llama-6m" "$T/m"
	cp "$S/tok4097.json" "$T/m/tokenizer.json"
	run -65 --separate-stderr bnpack -o "$T/m.bnt" "$T/m"
	[ "$stderr" = "bnpack: $T/m: $want" ]
	[ ! -e "$T/m.bnt" ]
	rebnt "$S/austen.bnt" "$T/m.bnt" tok="$S/tok4097.bnt"
	run -1 --separate-stderr bnverify "$T/m.bnt"
	[[ $stderr == *"record 1 (offset 384): $want" ]]
	# text ending in that token: refused at load, before any logits
	{ head -c 3000 "$ROOT/tests/fixtures/austen-val.txt"; printf '<|x|>'; } > "$T/t.txt"
	run -65 --separate-stderr bnrun -m "$T/m.bnt" --perplexity "$T/t.txt" --ctx 16
	[[ $stderr == *"$want" ]]
	run -65 --separate-stderr bnrun -m "$T/m.bnt" -n 2 -p 'Emma <|x|>'
	[[ $stderr == *"$want" ]]
	for f in gguf onnx hf; do
		run -65 --separate-stderr bnexport -F $f -o "$T/out.$f" "$T/m.bnt"
		[[ $stderr == *"$want" ]]
	done
}

@test "rules: fewer tokens than vocab_size (padding) pass; a generated id with no text is reported once" {
	rebnt "$S/austen.bnt" "$T/p.bnt" tok="$S/tok300.bnt"
	run -0 bnverify "$T/p.bnt"
	run -0 --separate-stderr bnrun -m "$T/p.bnt" --temp 0 -n 24 -p "It is a truth"
	[[ $output == "It is a truth"* ]]
	[[ $stderr == "bnrun: token "*" has no text: the tokenizer has 300 tokens, the model more; such tokens are left out of the output" ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "rules: a subnormal divisor scale (9e-41) is invalid to bnverify" {
	cp -r "$FIX/bitnet-tiny" "$T/ws"
	python3 - "$T/ws/model.safetensors" <<'PY'
import json, struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n])
a = h["model.layers.0.mlp.down_proj.weight_scale"]["data_offsets"][0]
d[8 + n + a:8 + n + a + 2] = b"\x01\x00"	# bf16 9.18e-41, subnormal
open(sys.argv[1], "wb").write(d)
PY
	bnpack -o "$T/ws.bnt" "$T/ws"
	run -1 --separate-stderr bnverify "$T/ws.bnt"
	[[ $stderr == *"tensor 'blk.0.ffn_down.weight': scale 0 is 9.18355e-41" ]]
	run -1 --separate-stderr bnverify --allow-nonfinite "$T/ws.bnt"
}

@test "bnverify -p: a bad second stream leaves no complete-looking output" {
	good=$BAD/good.bnt
	for bad in bnt-bad-magic bnt-trunc-header bnt-flip-payload \
	    bnt-no-end; do
		cat "$good" "$BAD/$bad.bnt" > "$T/in.bnt"
		run -1 pipefail "bnverify -p < $T/in.bnt > $T/out.bnt"
		# what passed, in order, but never a last END record (all of
		# bnt-no-end's records pass: its input is its output, cut short)
		[ "$(stat -c %s "$T/out.bnt")" -le "$(stat -c %s "$T/in.bnt")" ]
		cmp -s "$T/out.bnt" <(head -c "$(stat -c %s "$T/out.bnt")" "$T/in.bnt")
		run -1 bnverify "$T/out.bnt"
		run -1 bnverify -p -o "$T/o.bnt" "$T/in.bnt"
		[ ! -e "$T/o.bnt" ]
	done
	# a bad first record of the second stream: the first stream is cut
	cat "$good" "$BAD/bnt-bad-magic.bnt" | { bnverify -p 2>/dev/null || true; } > "$T/out.bnt"
	[ "$(stat -c %s "$T/out.bnt")" -eq $(( $(stat -c %s "$good") - 64 )) ]
	# a good input still passes whole, END included
	run -0 pipefail "bnverify -p < $good | cmp - $good"
	run -0 pipefail "bnverify -p < $S/austen.bnt | cmp - $S/austen.bnt"
}
