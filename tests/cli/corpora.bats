#!/usr/bin/env bats
# bnquant --train and --val on token corpora: raw .u16/.u32 streams,
# llm.c's .bin, .npy arrays, directories and @lists of text files; ids
# past the vocabulary and torn files refused; a large token file read
# window by window.

load helper

# the tests write their arrays with Debian's python3-numpy
py() {
	/usr/bin/python3 -c "import numpy as np; $1"
}

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/austen.bnt" "$FIX/austen-llama-6m"
	head -c 60000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/train.txt"
	tail -c 12000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/val.txt"
	bnrun -m "$S/austen.bnt" --tokenize <"$S/train.txt" >"$S/train.ids"
	bnrun -m "$S/austen.bnt" --tokenize <"$S/val.txt" >"$S/val.ids"
}

# a short, single-threaded run: 2 x 64 tokens a step
train() {	# corpus output [option ...]
	local c=$1 o=$2
	shift 2
	bnquant --train "$c" --batch 2 --ctx 64 --lr 5e-4 --seed 7 -t 1 \
	    --steps 3 -o "$o" "$@" "$S/austen.bnt"
}

ids() {		# ids-file: the ids as a numpy expression
	echo "np.array(open('$1').read().split(), dtype=np.int64)"
}

@test "a text and its tokens as .u16, .u32, llm.c .bin and .npy train the same model" {
	d=$BATS_TEST_TMPDIR
	py "x = $(ids "$S/train.ids"); assert len(x) > 10000
x.astype('<u2').tofile('$d/t.u16'); x.astype('<u4').tofile('$d/t.u32')
np.save('$d/t16.npy', x.astype(np.uint16)); np.save('$d/t32.npy', x.astype(np.uint32))
np.save('$d/ti4.npy', x.astype(np.int32)); np.save('$d/ti8.npy', x)
h = np.zeros(256, '<i4'); h[:3] = [20240520, 1, len(x)]
open('$d/t.bin', 'wb').write(h.tobytes() + x.astype('<u2').tobytes())"
	run -0 train "$S/train.txt" "$d/text.bnt"
	for f in t.u16 t.u32 t16.npy t32.npy ti4.npy ti8.npy t.bin; do
		run -0 train "$d/$f" "$d/$f.bnt"
		cmp "$d/text.bnt" "$d/$f.bnt"
	done
	# and the same validation losses, text or tokens
	py "$(ids "$S/val.ids")[:3000].astype('<u2').tofile('$d/v.u16')"
	run -0 train "$S/train.txt" "$d/a.bnt" --val "$d/v.u16" --log "$d/lt"
	run -0 train "$d/t.u16" "$d/b.bnt" --val "$d/v.u16" --log "$d/lu"
	[ "$(grep -o '"val":[0-9.]*' "$d/lt")" = "$(grep -o '"val":[0-9.]*' "$d/lu")" ]
	grep -q '"val":[0-9]' "$d/lt"
}

@test "text files of a directory or an @list are documents with EOS between them" {
	d=$BATS_TEST_TMPDIR
	mkdir "$d/docs" "$d/docs/sub.txt"
	head -c 30000 "$S/train.txt" >"$d/docs/b.txt"
	tail -c +30001 "$S/train.txt" >"$d/docs/c.txt"
	echo 'not a document' >"$d/docs/a.md"
	bnrun -m "$S/austen.bnt" --tokenize <"$d/docs/b.txt" >"$d/b.ids"
	bnrun -m "$S/austen.bnt" --tokenize <"$d/docs/c.txt" >"$d/c.ids"
	# b, EOS (id 1 in austen's vocabulary), c
	py "np.concatenate([$(ids "$d/b.ids"), [1], $(ids "$d/c.ids")]).astype('<u2').tofile('$d/bc.u16')"
	run -0 train "$d/bc.u16" "$d/ref.bnt"
	run -0 train "$d/docs" "$d/dir.bnt"
	cmp "$d/ref.bnt" "$d/dir.bnt"
	printf '%s\n\n%s\n' "$d/docs/b.txt" "$d/docs/c.txt" >"$d/list"
	run -0 train "@$d/list" "$d/list.bnt"
	cmp "$d/ref.bnt" "$d/list.bnt"
	# without the EOS the model differs: the boundary is there
	py "np.concatenate([$(ids "$d/b.ids"), $(ids "$d/c.ids"), [1]]).astype('<u2').tofile('$d/cb.u16')"
	run -0 train "$d/cb.u16" "$d/no.bnt"
	! cmp -s "$d/ref.bnt" "$d/no.bnt"
	mkdir "$d/empty"
	run -65 --separate-stderr train "$d/empty" "$d/o.bnt"
	[ "$stderr" = "bnquant: $d/empty: no text files" ]
	run -66 --separate-stderr train "@$d/nolist" "$d/o.bnt"
}

@test "ids past the vocabulary, torn and foreign token files are refused" {
	d=$BATS_TEST_TMPDIR
	py "x = $(ids "$S/train.ids"); x[1000] = 4096; x.astype('<u2').tofile('$d/big.u16')
x[1000] = 7; x.astype('<u2').tofile('$d/ok.u16')
np.save('$d/neg.npy', np.array([5, 6, -3] + [7] * 200, dtype=np.int32))
np.save('$d/f.npy', np.zeros(300, np.float32))
np.save('$d/two.npy', np.zeros((2, 300), np.uint16))"
	run -65 --separate-stderr train "$d/big.u16" "$d/o.bnt"
	[ "$stderr" = "bnquant: $d/big.u16: token 1000 (byte 2000): id 4096, not below the vocabulary's 4096" ]
	run -65 --separate-stderr train "$S/train.txt" "$d/o.bnt" --val "$d/big.u16"
	[[ $stderr == *"big.u16: token 1000 (byte 2000)"* ]]
	run -65 --separate-stderr train "$d/neg.npy" "$d/o.bnt"
	[[ $stderr == *"neg.npy: token 2 (byte 136): id -3,"* ]]
	{ cat "$d/ok.u16"; printf x; } >"$d/odd.u16"
	run -65 --separate-stderr train "$d/odd.u16" "$d/o.bnt"
	[[ $stderr == *"odd.u16: "*" bytes, not a whole number of 2-byte tokens" ]]
	head -c 1001 "$d/ok.u16" >"$d/odd.u32"
	run -65 --separate-stderr train "$d/odd.u32" "$d/o.bnt"
	run -65 --separate-stderr train "$d/f.npy" "$d/o.bnt"
	[[ $stderr == *"dtype '<f4'"* ]]
	run -65 --separate-stderr train "$d/two.npy" "$d/o.bnt"
	[[ $stderr == *"2 dimensions"* ]]
	cp "$S/train.txt" "$d/text.bin"
	run -65 --separate-stderr train "$d/text.bin" "$d/o.bnt"
	[[ $stderr == *"not an llm.c token file"* ]]
	[ ! -e "$d/o.bnt" ]
	run -0 train "$d/ok.u16" "$d/o.bnt"
}

peak_kb() {	# corpus: the run's peak RSS in kB
	local kb
	kb=$(/usr/bin/time -f '%M' bnquant --train "$1" --batch 2 --ctx 64 \
	    --seed 7 -t 1 --steps 2 -o "$BATS_TEST_TMPDIR/o.bnt" \
	    "$S/austen.bnt" 2>&1 >/dev/null | tail -n 1)
	echo "$kb"
}

@test "a token file far larger than the model is read window by window" {
	d=$BATS_TEST_TMPDIR
	# 32 M ids, 64 MB on disk (128 MB as int32 in memory); the model
	# is 14 MB
	py "np.random.default_rng(1).integers(0, 4096, 32 << 20, dtype=np.uint16).tofile('$d/big.u16')
$(ids "$S/train.ids").astype('<u2').tofile('$d/small.u16')"
	small=$(peak_kb "$d/small.u16")
	big=$(peak_kb "$d/big.u16")
	echo "peak RSS: $small kB (60 kB corpus), $big kB (64 MB corpus)"
	[ "$small" -gt 0 ]
	[ "$big" -lt $((small + 16384)) ]
}
