#!/usr/bin/env bats
# Hostile inputs: small files whose headers claim huge payloads, shapes,
# counts or strings (tests/fuzz/mkhostile.py writes them, plus the
# corruption corpus's lying headers).  Each tool must refuse them with
# the documented code, without allocating more than the input justifies
# and without looping: every run is under `timeout 20` and, in the
# build without sanitizers, `ulimit -v` of 256 MiB.  AddressSanitizer
# reserves terabytes of address space, so the sanitizer build gets
# ASAN_OPTIONS=max_allocation_size_mb=256 (a larger malloc fails and
# the tool would exit 71) instead.

load helper

setup_file() {
	mkdir -p "$BATS_FILE_TMPDIR/h"
	python3 "$ROOT/tests/fuzz/mkhostile.py" "$BATS_FILE_TMPDIR/h"
}

setup() {
	H=$BATS_FILE_TMPDIR/h
	T=$BATS_TEST_TMPDIR
}

# bounded WANT CMD...: CMD exits WANT with a "tool: " diagnostic (tool:
# $diag if set, else CMD's name), bounded in memory ($vmem KiB of
# address space, or $asanmb MiB per allocation under ASan) and time
bounded() {
	local want=$1
	shift
	if ldd "$(command -v bnpack)" 2>/dev/null | grep -q libasan; then
		run --separate-stderr env \
		    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=${asanmb:-256}:allocator_may_return_null=1 \
		    timeout 20 "$@"
	else
		run --separate-stderr bash -c \
		    'ulimit -v "$0" && exec timeout 20 "$@"' "${vmem:-262144}" "$@"
	fi
	if [ "$status" -ne "$want" ]; then
		echo "$*: exit $status, want $want: $stderr" >&2
		return 1
	fi
	[[ $stderr == "${diag:-$1}: "* ]] ||
	    { echo "$*: no diagnostic: $stderr" >&2; return 1; }
}

@test "the limits leave room for real work (a whole model packs under them)" {
	diag=bnpack bounded 0 bnpack -v -o "$T/m.bnt" "$FIX/bitnet-tiny"
	bnverify -q "$T/m.bnt"
}

@test "bnt streams that claim huge payloads, metadata, shapes or vocabularies" {
	n=0
	for f in "$H"/bnt-*.bnt "$BAD"/bnt-absurd-*.bnt "$BAD"/bnt-data-past-end.bnt; do
		bounded 65 bnpack -o "$T/o.bnt" "$f"
		[ ! -e "$T/o.bnt" ]
		bounded 1 bnverify "$f"
		bounded 65 bnstat "$f"
		bounded 65 bnquant -q ternary -o "$T/o.bnt" "$f"
		bounded 65 bnexport -F gguf -o "$T/o.gguf" "$f"
		bounded 65 bnrun -m "$f" -p a -n 1
		n=$((n + 1))
	done
	[ "$n" -ge 7 ]
}

@test "the same bnt streams on a pipe (the streaming reader cannot stat)" {
	for f in "$H"/bnt-*.bnt "$BAD"/bnt-absurd-*.bnt; do
		diag=bnpack bounded 65 bash -c \
		    'cat "$1" | bnpack -o /dev/null -' x "$f"
		diag=bnverify bounded 1 bash -c \
		    'cat "$1" | bnverify -' x "$f"
		diag=bnquant bounded 65 bash -c \
		    'cat "$1" | bnquant -q ternary -o /dev/null' x "$f"
	done
}

@test "a claimed 2^50-byte payload on a pipe costs about what arrives, not 64 MiB" {
	# the tools need about 50 MiB of address space (libarchive, ICU);
	# 60 MiB leaves no room for a 64 MiB buffer
	f=$H/bnt-claims-petabyte-payload.bnt
	export vmem=61440 asanmb=8
	diag=bnpack bounded 65 bash -c 'cat "$1" | bnpack -o /dev/null -' x "$f"
	[[ $stderr == *"truncated payload (0 of 1125899906842624 bytes)"* ]]
	diag=bnverify bounded 1 bash -c 'cat "$1" | bnverify -' x "$f"
	diag=bnquant bounded 65 bash -c \
	    'cat "$1" | bnquant -q ternary -o /dev/null' x "$f"
	diag=bnstat bounded 65 bash -c 'cat "$1" | bnstat' x "$f"
	# and a real stream still reads under the same limit
	bnpack -o "$T/s.bnt" "$FIX/bitnet-tiny"
	diag='<stdin>' bounded 0 bash -c 'cat "$1" | bnverify - >&2' x "$T/s.bnt"
}

@test "safetensors headers that claim a huge header, shape or rank" {
	for f in "$H"/st-*.safetensors "$BAD"/st-*.safetensors; do
		bounded 65 bnpack -o "$T/o.bnt" "$f"
	done
}

@test "GGUF files that claim 2^40 tensors or keys, a huge tensor, string or array" {
	for f in "$H"/gguf-*.gguf "$BAD"/gguf-huge-*.gguf \
	    "$BAD"/gguf-ne-overflow.gguf "$BAD"/gguf-nested-deep.gguf; do
		bounded 65 bnpack -o "$T/o.bnt" "$f"
	done
}

@test "npy files that claim a GiB or 2^62 elements" {
	for f in "$H"/npy-*.npy "$BAD"/npy-huge-shape.npy; do
		bounded 65 bnpack -o "$T/o.bnt" "$f"
	done
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$H/npy-claims-gib.npy"
	[[ $stderr == *"16 bytes of data, expected 1073741824"* ]]
}

@test "torch zips whose pickles claim huge strings, frames, memo slots or storages" {
	for f in "$H"/pt-*.pt; do
		bounded 65 bnpack -o "$T/o.bnt" "$f"
	done
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$H/pt-claims-huge-memo.pt"
	[[ $stderr == *"memo index 4294967280 at offset 3 is too large"* ]]
}

@test "the pickle reader refuses os.system, builtins.eval, subprocess and unknown globals, naming them" {
	for f in "$BAD"/evil-*.pt "$H"/evil-*.pt; do
		bounded 65 bnpack -o "$T/o.bnt" "$f"
		[[ $stderr == *"is not allowed"* ]] ||
		    { echo "$f: $stderr" >&2; false; }
	done
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$BAD/evil-os-system.pt"
	[[ $stderr == *"'os.system'"* ]]
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$BAD/evil-stack-global.pt"
	[[ $stderr == *"'builtins.eval'"* ]]
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$H/evil-subprocess.pt"
	[[ $stderr == *"'subprocess.check_output'"* ]]
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$H/evil-posix-system.pt"
	[[ $stderr == *"'posix.system'"* ]]
	run -65 --separate-stderr bnpack -o "$T/o.bnt" "$H/evil-torch-load.pt"
	[[ $stderr == *"'torch.load'"* ]]
	[ ! -e "$T/o.bnt" ]
}
