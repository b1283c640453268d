#!/usr/bin/env bats
# bnquant(1): post-training ternary and binary quantization.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/q.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$S/f.bnt" "$FIX/bitnet-tiny-bf16"
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
}

@test "--help, usage errors" {
	run -0 bnquant --help
	[[ ${lines[0]} == "usage: bnquant -q ternary|binary "* ]]
	run -64 --separate-stderr bnquant "$S/f.bnt"
	run -64 --separate-stderr bnquant -q quaternary "$S/f.bnt"
	[ "${stderr_lines[0]}" = "bnquant: -q: invalid type 'quaternary'" ]
	run -64 --separate-stderr bnquant -q ternary --scale block:0 "$S/f.bnt"
	run -65 --separate-stderr bnquant -q ternary --scale block:100 -o "$BATS_TEST_TMPDIR/x" "$S/f.bnt"
	run -66 --separate-stderr bnquant -q ternary nope.bnt
	[ "$stderr" = "bnquant: nope.bnt: No such file or directory" ]
}

@test "ternarizing bitnet-tiny-bf16 gives exactly the codes of bitnet-tiny" {
	bnquant -q ternary -o "$BATS_TEST_TMPDIR/t.bnt" "$S/f.bnt"
	run -0 bnverify --against "$S/q.bnt" "$BATS_TEST_TMPDIR/t.bnt"
	[ "$(grep -c 'codes 1.000000$' <<<"$output")" -eq 14 ]
	# the scales differ only by bf16 rounding of the stored weight_scale
	run -0 bnverify --against "$S/q.bnt" --tol 1e-4 "$BATS_TEST_TMPDIR/t.bnt"
	run -0 bnverify --model "$BATS_TEST_TMPDIR/t.bnt" \
	    --reference "$FIX/bitnet-tiny/reference.safetensors" --tol 8e-2
	run -0 bnpack -l "$BATS_TEST_TMPDIR/t.bnt"
	assert_line --regexp '^token_embd\.weight +bf16 '
	assert_line --regexp '^blk\.0\.attn_output\.weight +t2 '
}

@test "binary and row/block scales: valid streams a model runs" {
	for sc in tensor row block:128; do
		bnquant -q binary --scale "$sc" -o "$BATS_TEST_TMPDIR/b.bnt" "$S/austen.bnt"
		bnverify -q "$BATS_TEST_TMPDIR/b.bnt"
		run -0 bnpack -l "$BATS_TEST_TMPDIR/b.bnt"
		assert_line --regexp '^blk\.0\.ffn_up\.weight +b1 +768x256 '
		bnquant -q ternary --scale "$sc" -o "$BATS_TEST_TMPDIR/t.bnt" "$S/austen.bnt"
		run -0 bnrun -m "$BATS_TEST_TMPDIR/t.bnt" --temp 0 -n 4 -p Emma
	done
}

@test "--keep leaves matching tensors in float; a pipeline works" {
	run -0 --separate-stderr pipefail "bnquant -q ternary --keep 'ffn|norm|token_embd|^output' < $S/austen.bnt | bnverify -p | bnpack -l -"
	assert_line --regexp '^blk\.0\.ffn_up\.weight +bf16 '
	assert_line --regexp '^blk\.0\.attn_q\.weight +t2 '
}

# poison DIR VALUE: a copy of austen-llama-6m in DIR whose
# blk.0.attn_q.weight has one element (row 3, column 5) set to the bf16
# VALUE (hex), packed to DIR.bnt
poison() {
	cp -r "$FIX/austen-llama-6m" "$1"
	chmod -R u+w "$1"
	python3 - "$1/model.safetensors" "$2" <<'PY'
import json, struct, sys
p, val = sys.argv[1], int(sys.argv[2], 16)
d = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", d[:8])[0]
t = json.loads(d[8:8 + n])["model.layers.0.self_attn.q_proj.weight"]
assert t["dtype"] == "BF16"
o = 8 + n + t["data_offsets"][0] + 2 * (3 * t["shape"][1] + 5)
d[o:o + 2] = struct.pack("<H", val)
open(p, "wb").write(d)
PY
	bnpack -o "$1.bnt" "$1"
}

@test "NaN or infinity in a weight: exit 65 naming the tensor, no output" {
	local v q
	for v in 7fc0 7f80 ff80; do
		poison "$BATS_TEST_TMPDIR/p$v" $v
		for q in ternary binary; do
			run -65 --separate-stderr bnquant -q $q \
			    -o "$BATS_TEST_TMPDIR/o.bnt" "$BATS_TEST_TMPDIR/p$v.bnt"
			[[ $stderr == *"tensor 'blk.0.attn_q.weight': "*" at row 3, column 5: cannot quantize" ]]
			[ ! -e "$BATS_TEST_TMPDIR/o.bnt" ]
		done
	done
	run -0 --separate-stderr bnquant -q ternary -o "$BATS_TEST_TMPDIR/o.bnt" \
	    "$BATS_TEST_TMPDIR/p7fc0.bnt" --keep 'attn_q|norm|token_embd|^output'
}
