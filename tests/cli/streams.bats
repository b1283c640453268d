#!/usr/bin/env bats
# Concatenated streams (issue 18, item 6).  bnt(5) lets streams follow
# one another, but a model is one stream: every tool that takes one
# model (bnrun, bnquant, bnexport, bnpack, bnstat --stability and --ber)
# refuses input holding a second stream, or any bytes after the END
# record, with exit 65 and nothing written; bnverify checks every stream
# and bnstat's tensor table lists them all.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/a.bnt" "$FIX/austen-llama-6m"
	bnquant -q ternary -o "$S/t.bnt" "$S/a.bnt"
	cat "$S/t.bnt" "$S/t.bnt" >"$S/two.bnt"
	cat "$S/t.bnt" >"$S/junk.bnt"
	printf 'x' >>"$S/junk.bnt"
	head -c 3000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/train.txt"
	export END=$(stat -c %s "$S/t.bnt")
}

setup() {
	T=$BATS_TEST_TMPDIR
}

# refused NAME WHAT TOOL ARGS...: TOOL ARGS exits 65 with the one-line
# diagnostic "TOOL: NAME: ..." for WHAT (two: a second stream; junk:
# stray bytes), and leaves nothing at $T/out*
refused() {
	local name=$1 what=$2 msg
	shift 2
	case $what in
	two) msg="a second stream at offset $END; this tool takes one model (bnverify -p passes all streams)" ;;
	junk) msg="data after the END record at offset $END" ;;
	esac
	run --separate-stderr "$@"
	if [ "$status" -ne 65 ]; then
		echo "$*: exit $status, want 65: $stderr" >&2
		return 1
	fi
	[ "${#stderr_lines[@]}" -eq 1 ] &&
	    [[ $stderr == bn*": $name: $msg" ]] || {
		echo "$*: diagnostic: $stderr" >&2
		return 1
	}
	[ -z "$(ls "$T" | grep '^out')" ] || { echo "$*: output left" >&2; return 1; }
}

@test "one stream is fine everywhere (the inputs are meaningful)" {
	cd "$S"
	run -0 bnrun -m t.bnt -p "It is" -n 2 --temp 0
	run -0 bnquant -q ternary -o "$T/q.bnt" t.bnt
	run -0 bnexport -F gguf -o "$T/g.gguf" t.bnt
	run -0 bnpack -o "$T/p.bnt" - <t.bnt
	cmp "$T/p.bnt" t.bnt
}

@test "bnrun: a second stream or trailing bytes are refused" {
	cd "$S"
	for w in two junk; do
		refused $w.bnt $w bnrun -m $w.bnt -p "It is" -n 2
		refused $w.bnt $w bnrun -m $w.bnt --bench --pp 4 --tg 2
	done
}

@test "bnquant: from a file or a pipe, a second stream is refused and nothing is written" {
	cd "$S"
	for w in two junk; do
		refused $w.bnt $w bnquant -q ternary -o "$T/out.bnt" $w.bnt
		refused "<stdin>" $w bash -c "cat $w.bnt | bnquant -q binary -o '$T/out.bnt'"
		refused $w.bnt $w bnquant --train train.txt --steps 1 --batch 1 \
		    --ctx 32 -o "$T/out.bnt" $w.bnt
	done
	# float tensors quantized on the way: the pipe is read on after the
	# first END all the same
	cat a.bnt a.bnt >"$T/aa.bnt"
	END=$(stat -c %s a.bnt) refused "<stdin>" two \
	    bash -c "bnquant -q ternary -o '$T/out.bnt' < '$T/aa.bnt'"
}

@test "bnexport: from a file or a pipe, a second stream is refused (gguf, onnx, hf)" {
	cd "$S"
	for w in two junk; do
		refused $w.bnt $w bnexport -F gguf -o "$T/out.gguf" $w.bnt
		# the copy of the pipe in TMPDIR is removed too
		mkdir -p "$T/tmp"
		refused "<stdin>" $w bash -c "cat $w.bnt |
		    TMPDIR='$T/tmp' bnexport -F gguf -o '$T/out.gguf'"
		[ -z "$(ls -A "$T/tmp")" ]
		refused $w.bnt $w bnexport -F onnx -o "$T/out.onnx" $w.bnt
		refused "<stdin>" $w bash -c "bnexport -F onnx -o '$T/out.onnx' < $w.bnt"
		refused $w.bnt $w bnexport -F hf -o "$T/out" $w.bnt
		refused "<stdin>" $w bash -c "cat $w.bnt | bnexport -F hf -o '$T/out'"
	done
}

@test "bnpack: a bnt input from a file or a pipe holds one stream" {
	cd "$S"
	for w in two junk; do
		refused $w.bnt $w bnpack -o "$T/out.bnt" $w.bnt
		refused "<stdin>" $w bash -c "cat $w.bnt | bnpack -o '$T/out.bnt' -"
		refused $w.bnt $w bnpack -l $w.bnt
	done
}

@test "bnstat: --stability and --ber take one model per file; the tensor table reads every stream" {
	cd "$S"
	for w in two junk; do
		refused $w.bnt $w bnstat --stability t.bnt $w.bnt
		refused "<stdin>" $w bash -c "cat $w.bnt | bnstat --stability t.bnt -"
		refused $w.bnt $w bnstat --ber --data train.txt --tokens 16 $w.bnt
		refused $w.bnt $w bnstat --ber --data train.txt --tokens 16 \
		    --ref $w.bnt t.bnt
	done
	run -0 pipefail "cat t.bnt t.bnt | bnstat --csv"
	[ "$(grep -c '^<stdin>,token_embd.weight,' <<<"$output")" -eq 2 ]
}

@test "bnverify still checks every stream, and -p passes them all" {
	cd "$S"
	bnpack -o "$T/tok.bnt" "$FIX/tokenizer/tokenizer.json"
	cat "$T/tok.bnt" t.bnt >"$T/cat.bnt"
	run -0 bnverify "$T/cat.bnt"
	run -0 pipefail "bnverify -p < '$T/cat.bnt' > '$T/p.bnt'"
	cmp "$T/p.bnt" "$T/cat.bnt"
	# names, config and tokenizer are per stream: two copies of one
	# model are two sound streams, each checked whole
	run -0 bnverify two.bnt
	[[ $output == *"ok: 120 records, 114 tensors"* ]]
	run -0 pipefail "bnverify -p < two.bnt > '$T/p2.bnt'"
	cmp "$T/p2.bnt" two.bnt
	# a stream that lacks a tensor its arch needs is caught at its own
	# END, though the stream before it had the tensor, and either way
	# round
	bnpack --exclude '^blk\.1\.attn_k' -o "$T/less.bnt" t.bnt
	cat t.bnt "$T/less.bnt" >"$T/tl.bnt"
	cat "$T/less.bnt" t.bnt >"$T/lt.bnt"
	for f in tl lt; do
		run -1 --separate-stderr bnverify "$T/$f.bnt"
		[ "$stderr" = "bnverify: $T/$f.bnt: tensor 'blk.1.attn_k.weight': missing (arch llama needs it)" ]
	done
}
