#!/usr/bin/env bats
# bnexport -F onnx (export/onnx.c) run by ONNX Runtime (onnxruntime-node
# 1.30.0, tests/peers/onnx, installed by .ci/run): its logits must match
# bnrun's within 1e-3 for float models and 8e-2 for ternary and binary
# ones, with the same argmax at every position and the same 24-token
# greedy continuation.

load helper

PEER=$ROOT/tests/peers/onnx

# onnx_export [--kv] [--packing nbits|int2] IN OUT: bnexport -F onnx
onnx_export() {
	local a=()
	while [ $# -gt 2 ]; do
		case $1 in
		--kv) a+=(--kv-cache) ;;
		--packing) a+=(-q "$2"); shift ;;
		esac
		shift
	done
	bnexport -F onnx "${a[@]}" -o "$2" "$1"
}

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	bnquant -q ternary -o "$S/austen-t.bnt" "$S/austen.bnt"
	bnquant -q binary --scale row -o "$S/austen-b.bnt" "$S/austen.bnt"
	bnpack -o "$S/tiny.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$S/tiny-f.bnt" "$FIX/bitnet-tiny-bf16"
	# bnrun's logits for the fixtures' prompts (model/model.c)
	for m in austen austen-t austen-b; do
		"$BUILDDIR/tests/mkonnx" --logits "$S/$m.bnt" \
		    "$FIX/austen-llama-6m/reference.safetensors" "$S/$m.ref"
	done
	"$BUILDDIR/tests/mkonnx" --logits "$S/tiny.bnt" \
	    "$FIX/bitnet-tiny/reference.safetensors" "$S/tiny.ref"
}

# need_peer: skip a test that runs ONNX Runtime where it is not installed
need_peer() {
	if ! command -v node >/dev/null ||
	    [ ! -d "$PEER/node_modules/onnxruntime-node" ]; then
		skip "onnxruntime-node is not installed (make deps installs it, as root)"
	fi
}

# peer [--greedy] [--kv] [--tol X] MODEL REF: ONNX Runtime against REF's
# logits (and greedy continuation: mkonnx --logits writes bnrun's)
peer() {
	node "$PEER/check.js" "$@"
}

@test "austen-llama-6m f32: ONNX Runtime's logits are bnrun's within 1e-3" {
	need_peer
	onnx_export "$S/austen.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --tol 1e-3 "$BATS_TEST_TMPDIR/m.onnx" "$S/austen.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	# and transformers' (the fixture's reference), 24 greedy tokens:
	# '.\n\n"I am sure," said he, "that I should not have been in love'
	run -0 peer --greedy --tol 1e-3 "$BATS_TEST_TMPDIR/m.onnx" \
	    "$FIX/austen-llama-6m/reference.safetensors"
	assert_line "greedy.0: 24/24 tokens agree: 15 200 200 3 42 449 752 464 476 282 13 414 722 303 557 323 361 412 295 913 344 325 15 200"
	assert_line "greedy.1: 24/24 tokens agree: 302 657 15 200 200 3 42 449 323 1620 277 472 325 464 476 282 13 414 722 303 449 752 325 461"
}

@test "austen-llama-6m f32 with a KV cache: prompt, then token by token" {
	need_peer
	onnx_export --kv "$S/austen.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --kv --tol 1e-3 "$BATS_TEST_TMPDIR/m.onnx" "$S/austen.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
}

@test "austen-llama-6m ternarized (bnquant): within 8e-2, all three packings" {
	need_peer
	# default: INT2, Cast to INT8, MatMulInteger
	onnx_export "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/mm.onnx"
	run -0 peer --greedy --tol 8e-2 "$BATS_TEST_TMPDIR/mm.onnx" "$S/austen-t.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	for p in nbits int2; do
		onnx_export --packing $p "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/$p.onnx"
		run -0 peer --greedy --tol 8e-2 "$BATS_TEST_TMPDIR/$p.onnx" "$S/austen-t.ref"
		assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	done
	onnx_export --kv "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/kv.onnx"
	run -0 peer --greedy --kv --tol 8e-2 "$BATS_TEST_TMPDIR/kv.onnx" "$S/austen-t.ref"
	# 2 bits per weight: far smaller than the f32 export
	for p in mm nbits int2; do
		[ "$(stat -c %s "$BATS_TEST_TMPDIR/$p.onnx")" -lt 6000000 ]
	done
}

@test "austen-llama-6m binarized with row scales: within 8e-2" {
	need_peer
	onnx_export "$S/austen-b.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --tol 8e-2 "$BATS_TEST_TMPDIR/m.onnx" "$S/austen-b.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
}

@test "block scales that vary along a row: dequantized to f32, as bnrun does" {
	need_peer
	bnquant -q ternary --scale block:128 -o "$BATS_TEST_TMPDIR/k.bnt" "$S/austen.bnt"
	"$BUILDDIR/tests/mkonnx" --logits "$BATS_TEST_TMPDIR/k.bnt" \
	    "$FIX/austen-llama-6m/reference.safetensors" "$BATS_TEST_TMPDIR/k.ref"
	onnx_export "$BATS_TEST_TMPDIR/k.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --tol 1e-3 "$BATS_TEST_TMPDIR/m.onnx" "$BATS_TEST_TMPDIR/k.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
}

@test "bitnet-tiny (packed BitNet b1.58): within 8e-2, with and without KV cache" {
	need_peer
	onnx_export "$S/tiny.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --tol 8e-2 "$BATS_TEST_TMPDIR/m.onnx" "$S/tiny.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	onnx_export --kv --packing int2 "$S/tiny.bnt" "$BATS_TEST_TMPDIR/kv.onnx"
	run -0 peer --greedy --kv --tol 8e-2 "$BATS_TEST_TMPDIR/kv.onnx" "$S/tiny.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
	# ONNX Runtime's default level (all) rewrites more; the same logits
	run -0 peer --opt all --greedy --tol 8e-2 "$BATS_TEST_TMPDIR/m.onnx" "$S/tiny.ref"
}

@test "bnexport -F onnx through a pipe writes the same bytes as with -o" {
	onnx_export "$S/tiny.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	pipefail "bnexport -F onnx < '$S/tiny.bnt' > '$BATS_TEST_TMPDIR/p.onnx'"
	cmp "$BATS_TEST_TMPDIR/m.onnx" "$BATS_TEST_TMPDIR/p.onnx"
	# and the test helper's own export (build/tests/mkonnx) agrees
	"$BUILDDIR/tests/mkonnx" "$S/tiny.bnt" "$BATS_TEST_TMPDIR/g.onnx"
	cmp "$BATS_TEST_TMPDIR/m.onnx" "$BATS_TEST_TMPDIR/g.onnx"
}

@test "every kernel path writes the same INT2 bytes; an unknown one exits 69" {
	# (t_kernels covers row counts that are not a multiple of 32)
	"$BUILDDIR/tests/mkrandmodel" --shape tiny -o "$BATS_TEST_TMPDIR/r.bnt"
	for m in "$S/tiny.bnt" "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/r.bnt"; do
		BN_KERNEL=ref bnexport -F onnx -o "$BATS_TEST_TMPDIR/ref.onnx" "$m"
		bnexport -F onnx -o "$BATS_TEST_TMPDIR/best.onnx" "$m"
		cmp "$BATS_TEST_TMPDIR/ref.onnx" "$BATS_TEST_TMPDIR/best.onnx"
		rm "$BATS_TEST_TMPDIR"/*.onnx
	done
	run -69 --separate-stderr env BN_KERNEL=$FOREIGN bnexport -F onnx -o "$BATS_TEST_TMPDIR/x.onnx" "$S/tiny.bnt"
	[ "$stderr" = "bnexport: BN_KERNEL=$FOREIGN: not available on this CPU" ]
	[ ! -e "$BATS_TEST_TMPDIR/x.onnx" ]
}

@test "the check fails when the logits differ: a wrong model is caught" {
	need_peer
	onnx_export "$S/austen-t.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -1 peer --tol 8e-2 "$BATS_TEST_TMPDIR/m.onnx" "$S/austen.ref"
}

@test "float weights of a bitlinear model are refused (ternarize first)" {
	run -65 --separate-stderr onnx_export "$S/tiny-f.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	[ "$stderr" = "bnexport: $S/tiny-f.bnt: tensor 'blk.0.attn_q.weight': float weights of a bitlinear model: ternarize them first (bnquant -q ternary)" ]
	[ ! -e "$BATS_TEST_TMPDIR/m.onnx" ]
}

@test "bnquant -q ternary first: the export computes what bnrun computes on the float model" {
	need_peer
	# bnquant and bnrun's loader ternarize with the same function
	"$BUILDDIR/tests/mkonnx" --logits "$S/tiny-f.bnt" \
	    "$FIX/bitnet-tiny-bf16/reference.safetensors" "$BATS_TEST_TMPDIR/f.ref"
	bnquant -q ternary -o "$BATS_TEST_TMPDIR/q.bnt" "$S/tiny-f.bnt"
	onnx_export "$BATS_TEST_TMPDIR/q.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --tol 8e-2 "$BATS_TEST_TMPDIR/m.onnx" "$BATS_TEST_TMPDIR/f.ref"
	assert_line --regexp '^max_abs [0-9.e-]+ argmax 18/18$'
}

@test "rope_style=interleaved (rows permuted as llama.cpp's converter does): the same logits" {
	need_peer
	"$BUILDDIR/tests/ropeperm" "$S/austen.bnt" "$BATS_TEST_TMPDIR/i.bnt"
	onnx_export --kv "$BATS_TEST_TMPDIR/i.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	run -0 peer --greedy --kv --tol 1e-3 "$BATS_TEST_TMPDIR/m.onnx" "$S/austen.ref"
	# control: permuted rows with the rotate-half convention disagree
	"$BUILDDIR/tests/ropeperm" "$S/austen.bnt" "$BATS_TEST_TMPDIR/w.bnt" keep
	onnx_export "$BATS_TEST_TMPDIR/w.bnt" "$BATS_TEST_TMPDIR/w.onnx"
	run -1 peer --tol 1e-3 "$BATS_TEST_TMPDIR/w.onnx" "$S/austen.ref"
}

@test "a missing tensor is a data error (65) that names it" {
	bnpack --exclude 'blk\.1\.ffn_up' -o "$BATS_TEST_TMPDIR/x.bnt" "$S/austen.bnt"
	run -65 --separate-stderr onnx_export "$BATS_TEST_TMPDIR/x.bnt" "$BATS_TEST_TMPDIR/m.onnx"
	[ "$stderr" = "bnexport: $BATS_TEST_TMPDIR/x.bnt: tensor 'blk.1.ffn_up.weight' is missing" ]
	[ ! -e "$BATS_TEST_TMPDIR/m.onnx" ]
}
