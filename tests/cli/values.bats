#!/usr/bin/env bats
# Values bnt(5) forbids (issue 18, item 4): a NaN or infinite weight, a
# NaN scale, a divisor scale of -0 or a subnormal one.  Every tool that
# loads a model (bnrun, bnquant --train and --teacher, bnstat --ber) or
# exports one (bnexport -F gguf, onnx, hf) refuses it with exit 65 and a
# line naming the tensor, unless --allow-nonfinite.

load helper

# bntpatch IN OUT TENSOR elem|scale INDEX VALUE: IN with one element or
# scale of TENSOR set to VALUE (in the tensor's or the scales' type),
# the record's checksums fixed
bntpatch() {
	PYTHONPATH=$ROOT/tests/peers python3 - "$@" <<'PY'
import struct, sys
from peerlib import bnt_record, bnt_records, bnt_tensor_name
src, dst, name, what, idx, val = sys.argv[1:7]
idx, v = int(idx), float(val)
head, recs = bnt_records(open(src, 'rb').read())
size = {0: 4, 1: 2, 2: 2}
def put(b, at, dtype, x):
    if dtype == 0:
        struct.pack_into('<f', b, at, x)
    elif dtype == 1:
        struct.pack_into('<e', b, at, x)
    elif dtype == 2:
        bits = struct.unpack('<I', struct.pack('<f', x))[0]
        struct.pack_into('<H', b, at, bits >> 16)
    else:
        sys.exit('type code %d' % dtype)
out, found = head, False
for kind, fl, m, data, _ in recs:
    if kind == 0x80000003 and bnt_tensor_name(m) == name:
        assert fl == 0, 'compressed record'
        found, b = True, bytearray(data)
        dt, nd, sk, sdt = m[0], m[1], m[2], m[3]
        sflags = struct.unpack_from('<I', m, 4)[0]
        dims = struct.unpack_from('<%dQ' % nd, m, 24)
        if what == 'elem':
            put(b, idx * size[dt], dt, v)
        else:
            assert sk != 0, 'no scales'
            # -0 and subnormals are invalid as divisors only
            assert v == v and abs(v) < 1.2e-38 and sflags & 1 or v != v
            rows = 1
            for d in dims[:-1]:
                rows *= d
            rb = {16: (dims[-1] + 127) // 128 * 32, 17: (dims[-1] + 4) // 5,
                  18: (dims[-1] + 31) // 32 * 4, 3: dims[-1]}[dt]
            so = rows * rb + (-(rows * rb) % 64)
            put(b, so + idx * size[sdt], sdt, v)
        data = bytes(b)
    out += bnt_record(kind, fl, m, data)
if not found:
    sys.exit('no tensor ' + name)
open(dst, 'wb').write(out)
PY
}

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/f.bnt" "$FIX/austen-llama-6m"
	bnquant -q ternary -o "$S/t.bnt" "$S/f.bnt"
	head -c 3000 "$ROOT/tests/fixtures/austen-val.txt" >"$S/train.txt"
	# the bad models: name, then what was changed
	bntpatch "$S/t.bnt" "$S/nan.bnt" blk.0.attn_norm.weight elem 3 nan
	bntpatch "$S/t.bnt" "$S/inf.bnt" blk.1.ffn_norm.weight elem 200 -inf
	bntpatch "$S/t.bnt" "$S/nanscale.bnt" blk.0.attn_q.weight scale 0 nan
	bntpatch "$S/t.bnt" "$S/negzero.bnt" blk.0.attn_k.weight scale 0 -0
	bntpatch "$S/t.bnt" "$S/subnormal.bnt" blk.2.ffn_up.weight scale 0 1e-40
	# a NaN in the embedding of a token the training text never uses:
	# a model that trains and runs on that text all the same
	u=$(bnrun -m "$S/f.bnt" --tokenize <"$S/train.txt" | python3 -c '
import sys
ids = set(map(int, sys.stdin.read().split()))
print(max(set(range(4096)) - ids))')
	bntpatch "$S/f.bnt" "$S/unused.bnt" token_embd.weight elem $((u * 256)) nan
	# the output head, rows 2 (NaN) and 3 (infinity)
	bntpatch "$S/t.bnt" "$S/h1.bnt" output.weight elem 520 nan
	bntpatch "$S/h1.bnt" "$S/headbad.bnt" output.weight elem 800 inf
}

setup() {
	T=$BATS_TEST_TMPDIR
}

# why FILE: the diagnostic each bad model gets (after "TOOL: FILE: ")
why() {
	case $1 in
	nan) echo "tensor 'blk.0.attn_norm.weight': element 3 is nan, not a finite number" ;;
	inf) echo "tensor 'blk.1.ffn_norm.weight': element 200 is -inf, not a finite number" ;;
	nanscale) echo "tensor 'blk.0.attn_q.weight': scale 0 is nan, not a finite number" ;;
	negzero) echo "tensor 'blk.0.attn_k.weight': scale 0 is -0, a divisor must be a normal number" ;;
	subnormal) echo "tensor 'blk.2.ffn_up.weight': scale 0 is 9.99995e-41, a divisor must be a normal number" ;;
	unused) echo "tensor 'token_embd.weight': element " ;;
	headbad) echo "tensor 'output.weight': element 520 is nan, not a finite number" ;;
	esac
}

# refused NAME TOOL ARGS...: TOOL ARGS exits 65 with one line naming the
# tensor of bad model NAME, and writes nothing at $T/out*
refused() {
	local n=$1
	shift
	run --separate-stderr "$@"
	if [ "$status" -ne 65 ]; then
		echo "$*: exit $status, want 65: $stderr" >&2
		return 1
	fi
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "$stderr" >&2; return 1; }
	[[ $stderr == "$1: $n.bnt: offset "*": $(why "$n")"* ]] || {
		echo "$*: diagnostic: $stderr" >&2
		return 1
	}
	[ -z "$(ls "$T" | grep '^out')" ] || { echo "$*: output left" >&2; return 1; }
}

@test "the patched models differ from the good one in one value only" {
	run -0 bnverify "$S/t.bnt"
	for n in nan inf nanscale negzero; do
		run -1 bnverify "$S/$n.bnt"
	done
	[ "$(cmp -l "$S/t.bnt" "$S/nan.bnt" | wc -l)" -le 12 ]
	run -0 bnrun -m "$S/t.bnt" -p "It is" -n 2 --temp 0
}

@test "bnrun refuses non-finite weights and invalid scales; --allow-nonfinite runs them" {
	cd "$S"
	for n in nan inf nanscale negzero subnormal unused; do
		refused $n bnrun -m $n.bnt -p "It is" -n 2 --temp 0
		refused $n bnrun -m $n.bnt --perplexity train.txt --ctx 64
		refused $n bnrun -m $n.bnt --bench --pp 4 --tg 2
		run -0 bnrun --allow-nonfinite -m $n.bnt -p "It is" -n 2 --temp 0
	done
	# --tokenize reads the vocabulary only
	run -0 bnrun -m nan.bnt --tokenize <<<"It is"
}

@test "bnrun --allow-nonfinite: a compact head refuses NaN or infinity; --head keep runs it" {
	cd "$S"
	refused headbad bnrun -m headbad.bnt -p "It is" -n 2 --temp 0
	for h in q8 q4; do
		run -65 --separate-stderr bnrun --allow-nonfinite --head $h \
		    -m headbad.bnt -p "It is" -n 2 --temp 0
		[ "$stderr" = "bnrun: headbad.bnt: the output head: row 2: NaN or infinity cannot be quantized (--head keep runs it)" ]
		[ -z "$output" ]
	done
	run -0 bnrun --allow-nonfinite --head keep -m headbad.bnt -p "It is" \
	    -n 2 --temp 0
	# row 3 alone: infinity
	bntpatch t.bnt "$T/hinf.bnt" output.weight elem 800 inf
	run -65 --separate-stderr bnrun --allow-nonfinite --head q8 \
	    -m "$T/hinf.bnt" -p "It is" -n 2 --temp 0
	[[ $stderr == *"the output head: row 3: NaN or infinity"* ]]
}

@test "bnexport -F gguf refuses them; --allow-nonfinite exports" {
	cd "$S"
	for n in nan inf nanscale negzero subnormal; do
		refused $n bnexport -F gguf -o "$T/out.gguf" $n.bnt
		refused $n bnexport -F gguf -o - $n.bnt
		run -0 bnexport --allow-nonfinite -F gguf -o "$T/ok.gguf" $n.bnt
		[ -s "$T/ok.gguf" ]
	done
}

@test "bnexport -F onnx refuses them; --allow-nonfinite exports" {
	cd "$S"
	for n in nan inf nanscale negzero subnormal; do
		refused $n bnexport -F onnx -o "$T/out.onnx" $n.bnt
		run -0 bnexport --allow-nonfinite -F onnx -o "$T/ok.onnx" $n.bnt
		[ -s "$T/ok.onnx" ]
	done
}

@test "bnexport -F hf refuses them, from a file or a pipe; --allow-nonfinite exports" {
	cd "$S"
	for n in nan inf nanscale negzero subnormal; do
		refused $n bnexport -F hf -o "$T/out" $n.bnt
		run --separate-stderr bash -c "bnexport -F hf -o '$T/out' < $n.bnt"
		[ "$status" -eq 65 ]
		[[ $stderr == *"$(why $n)" ]]
		[ ! -e "$T/out" ]
		rm -rf "$T/ok"
		run -0 bnexport --allow-nonfinite -F hf -o "$T/ok" $n.bnt
		[ -s "$T/ok/model.safetensors" ]
	done
}

@test "bnstat --ber refuses them, as model or reference; --allow-nonfinite measures" {
	cd "$S"
	for n in nan inf nanscale negzero subnormal; do
		refused $n bnstat --ber --data train.txt --tokens 32 $n.bnt
		refused $n bnstat --ber --data train.txt --tokens 32 \
		    --ref $n.bnt t.bnt
		run -0 bnstat --allow-nonfinite --ber --data train.txt \
		    --tokens 32 $n.bnt
	done
	run -64 --separate-stderr bnstat --allow-nonfinite t.bnt
}

@test "bnquant --train refuses them, as model or teacher; --allow-nonfinite loads them" {
	cd "$S"
	for n in nan inf nanscale negzero subnormal unused; do
		refused $n bnquant --train train.txt --steps 1 --batch 1 \
		    --ctx 32 -o "$T/out.bnt" $n.bnt
	done
	refused unused bnquant --train train.txt --steps 1 --batch 1 --ctx 32 \
	    --teacher unused.bnt -o "$T/out.bnt" f.bnt
	# the NaN lies where the text never reaches: training goes on
	run -0 bnquant --allow-nonfinite --train train.txt --steps 1 \
	    --batch 1 --ctx 32 -o "$T/ok.bnt" unused.bnt
	run -0 bnquant --allow-nonfinite --train train.txt --steps 1 \
	    --batch 1 --ctx 32 --teacher unused.bnt -o "$T/ok.bnt" f.bnt
	# elsewhere the flag gets past the loader, and training itself
	# then refuses NaN (not a loader's diagnostic)
	run -65 --separate-stderr bnquant --allow-nonfinite --train train.txt \
	    --steps 1 --batch 1 --ctx 32 -o "$T/out.bnt" negzero.bnt
	[[ $stderr != *"offset "* ]]
	[[ $stderr == *"cannot quantize"* ]]
	# the flag is for loading a model: not with -q or --init
	run -64 --separate-stderr bnquant --allow-nonfinite -q ternary t.bnt
}
