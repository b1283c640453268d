#!/usr/bin/env bats
# Outputs (tools/lib/xio.c, bnexport -F hf): an -o path whose symbolic
# links lead to a regular file, or to none yet, is written beside that
# file and renamed over it on success (the links stay links); an output
# that is the same file as an input is refused with exit 64 before it
# is opened; bnexport -F hf refuses two tensors with one safetensors
# key, removes its temporaries on SIGTERM, takes the directory forms a
# user types, and writes tar members as STEM/FILE.

load helper

setup_file() {
	D=$BATS_FILE_TMPDIR
	printf '%s' '{"version":"1.0","added_tokens":[],"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"\u0120":3},"merges":["a b"]}}' \
	    > "$D/tk.json"
	bnquant --init llama --hidden 8 --layers 1 --heads 1 --kv-heads 1 \
	    --ffn 8 --ctx 4 --tokenizer "$D/tk.json" -o "$D/small.bnt"
	bnquant -q ternary -o "$D/smallq.bnt" "$D/small.bnt"
	bnquant --init llama --hidden 8 --layers 1 --heads 1 --kv-heads 1 \
	    --ffn 8 --ctx 4 --seed 7 --tokenizer "$D/tk.json" \
	    -o "$D/other.bnt"
}

setup() {
	D=$BATS_FILE_TMPDIR
	T=$BATS_TEST_TMPDIR
	cp "$D/small.bnt" "$T/model.bnt"
	ln -s model.bnt "$T/current.bnt"
}

# intact: T/model.bnt is still the model and T/current.bnt a link to it
intact() {
	cmp "$D/small.bnt" "$T/model.bnt"
	[ -L "$T/current.bnt" ]
	[ "$(readlink "$T/current.bnt")" = model.bnt ]
	[ -z "$(find "$T" -name '*.tmp.*')" ]
}

@test "bnquant -o LINK-TO-INPUT: refused (64), the input intact" {
	run -64 --separate-stderr bnquant -q ternary -o "$T/current.bnt" \
	    "$T/model.bnt"
	[ "$stderr" = "bnquant: $T/current.bnt: output is the same file as input $T/model.bnt" ]
	intact
	# a hard link, and standard output appended to the input
	ln "$T/model.bnt" "$T/hard.bnt"
	run -64 bnquant -q ternary -o "$T/hard.bnt" "$T/model.bnt"
	run -64 --separate-stderr bash -c 'bnquant -q ternary "$1" >> "$1"' \
	    _ "$T/model.bnt"
	[ "$stderr" = "bnquant: <stdout>: output is the same file as input $T/model.bnt" ]
	run -64 bnquant -q ternary -o "$T/model.bnt" < "$T/model.bnt"
	intact
	# --train: neither -o nor --log may be its text or its model
	printf 'ab ba ab ab ba ba ab ab ba\n' > "$T/data.txt"
	cp "$T/data.txt" "$T/data0.txt"
	run -64 --separate-stderr bnquant --train "$T/data.txt" --steps 1 \
	    --batch 1 --ctx 4 --log "$T/data.txt" -o "$T/out.bnt" "$T/model.bnt"
	[ "$stderr" = "bnquant: $T/data.txt: output is the same file as input $T/data.txt" ]
	run -64 bnquant --train "$T/data.txt" --steps 1 --batch 1 --ctx 4 \
	    -o "$T/current.bnt" "$T/model.bnt"
	cmp "$T/data0.txt" "$T/data.txt"
	[ ! -e "$T/out.bnt" ]
	intact
}

@test "bnpack, bnverify -p, bnstat --svg: an input as output is refused (64)" {
	run -64 --separate-stderr bnpack -o "$T/current.bnt" "$T/model.bnt"
	[ "$stderr" = "bnpack: $T/current.bnt: output is the same file as input $T/model.bnt" ]
	intact
	run -64 bnpack -o "$T/current.bnt" < "$T/model.bnt"
	intact
	run -64 --separate-stderr bnverify -p -o "$T/current.bnt" "$T/model.bnt"
	[ "$stderr" = "bnverify: $T/current.bnt: output is the same file as input $T/model.bnt" ]
	intact
	# from the standard input
	run -64 bnverify -p -o "$T/current.bnt" < "$T/model.bnt"
	intact
	run -64 bnstat --svg "$T/current.bnt" "$T/model.bnt"
	intact
	# a model directory: the files of it that bnpack reads
	mkdir "$T/hf"
	cp "$FIX/bitnet-tiny/config.json" "$FIX/bitnet-tiny/model.safetensors" \
	    "$FIX/bitnet-tiny/tokenizer.json" "$T/hf"
	cp "$T/hf/config.json" "$T/config.json"
	run -64 --separate-stderr bnpack -o "$T/hf/config.json" "$T/hf"
	[ "$stderr" = "bnpack: $T/hf/config.json: output is the same file as input $T/hf/config.json" ]
	cmp "$T/config.json" "$T/hf/config.json"
	# a new file in it is fine
	bnpack -o "$T/hf/model.bnt" "$T/hf"
	bnverify -q "$T/hf/model.bnt"
}

@test "bnexport -o LINK-TO-INPUT: refused (64) in every format, no SIGBUS" {
	cp "$D/smallq.bnt" "$T/q.bnt"
	ln -s q.bnt "$T/q-link"
	run -64 --separate-stderr bnexport -F gguf -o "$T/q-link" "$T/q.bnt"
	[ "$stderr" = "bnexport: $T/q-link: output is the same file as input $T/q.bnt" ]
	cmp "$D/smallq.bnt" "$T/q.bnt"
	run -64 bnexport -F onnx -o "$T/q-link" "$T/q.bnt"
	cmp "$D/smallq.bnt" "$T/q.bnt"
	run -64 bnexport -F hf -o "$T/current.bnt" "$T/model.bnt"
	ln -s model.bnt "$T/x.tar.zst"
	run -64 bnexport -F hf -o "$T/x.tar.zst" "$T/model.bnt"
	rm "$T/x.tar.zst"
	# the input from a pipe is not a file that -o can name
	bnexport -F gguf -o "$T/q-link" < "$D/smallq.bnt"
	[ -L "$T/q-link" ]
	intact
}

@test "-o LINK: the file it leads to is replaced whole, the link stays" {
	# relative links are relative to their own directory
	mkdir "$T/a" "$T/b"
	cp "$D/other.bnt" "$T/b/old.bnt"
	ln -s ../b/old.bnt "$T/a/latest.bnt"
	ino=$(stat -c %i "$T/b/old.bnt")
	bnquant -q ternary -o "$T/a/latest.bnt" "$T/model.bnt"
	# a new file renamed over the old one, not the old one rewritten
	[ "$(stat -c %i "$T/b/old.bnt")" != "$ino" ]
	[ -L "$T/a/latest.bnt" ]
	[ "$(readlink "$T/a/latest.bnt")" = ../b/old.bnt ]
	cmp "$D/smallq.bnt" "$T/b/old.bnt"
	# a link to a link; a link to a file not there yet
	ln -s a/latest.bnt "$T/l2"
	bnpack -o "$T/l2" "$D/other.bnt"
	[ -L "$T/l2" ] && [ -L "$T/a/latest.bnt" ]
	cmp "$D/other.bnt" "$T/b/old.bnt"
	ln -s b/new.bnt "$T/dangling"
	bnverify -p -o "$T/dangling" "$T/model.bnt"
	[ -L "$T/dangling" ]
	cmp "$D/small.bnt" "$T/b/new.bnt"
	# /dev/stdout is still written in place
	bnquant -q ternary -o /dev/stdout "$T/model.bnt" > "$T/out.bnt"
	cmp "$D/smallq.bnt" "$T/out.bnt"
	intact
	[ -z "$(find "$T" -name '*.tmp.*')" ]
}

@test "a failed bnpack -o LINK leaves the file the link leads to intact" {
	head -c 600 "$D/other.bnt" > "$T/broken.bnt"
	ln -s model.bnt "$T/latest.bnt"
	run -65 bnpack -o "$T/latest.bnt" "$T/broken.bnt"
	[ -L "$T/latest.bnt" ]
	intact
}

# dupname IN OLD NEW OUT: IN with a copy of tensor OLD named NEW before END
# (bnt(5): records of 32-byte headers, each padded to 64 bytes)
dupname() {
	PYTHONPATH=$ROOT/tests/peers python3 - "$@" <<'PY'
import struct, sys
from peerlib import bnt_record, bnt_records
src, old, new, dst = sys.argv[1:]
old, new = old.encode(), new.encode()
head, recs = bnt_records(open(src, 'rb').read())
out = head
for kind, flags, meta, data, _ in recs:
    if kind == 0x80000000:
        break
    out += bnt_record(kind, flags, meta, data)
    if kind == 0x80000003 and meta.endswith(old):
        m = bytearray(meta[:-len(old)] + new)
        struct.pack_into('<I', m, 12, len(new))    # name length
        out += bnt_record(kind, flags, bytes(m), data)
open(dst, 'wb').write(out + bnt_record(0x80000000, 0, b'', b''))
PY
}

@test "bnexport -F hf: two tensors with one safetensors key are refused (65)" {
	dupname "$D/small.bnt" output_norm.weight model.norm.weight "$T/d.bnt"
	run -0 tensors "$T/d.bnt"
	assert_line --regexp '^model\.norm\.weight +f32 '
	run -65 --separate-stderr bnexport -F hf -o "$T/d" "$T/d.bnt"
	[ "$stderr" = "bnexport: $T/d.bnt: tensor 'output_norm.weight' and tensor 'model.norm.weight' would both be 'model.norm.weight' in safetensors" ]
	[ ! -e "$T/d" ]
	[ -z "$(find "$T" -name '*.tmp.*')" ]
	# a ternary tensor's scale key
	dupname "$D/smallq.bnt" output_norm.weight \
	    model.layers.0.self_attn.q_proj.weight_scale "$T/s.bnt"
	run -65 --separate-stderr bnexport -F hf -o "$T/s.tar.zst" "$T/s.bnt"
	[[ $stderr == *"the scale of tensor 'blk.0.attn_q.weight' and tensor 'model.layers.0.self_attn.q_proj.weight_scale' would both be"* ]]
	[ ! -e "$T/s.tar.zst" ]
}

# full_fifo PATH: a FIFO held open on fd 9 whose buffer is full, so that
# the next write to it blocks
full_fifo() {
	mkfifo "$1"
	exec 9<> "$1"
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
try:
    while True:
        os.write(fd, b"x" * 4096)
except BlockingIOError:
    pass' "$1"
}

# term_when GLOB PID: SIGTERM PID once a file matches GLOB, wait for it
term_when() {
	local i f
	for i in $(seq 500); do
		for f in $1; do :; done
		[ -e "$f" ] && break
		sleep 0.02
	done
	[ -e "$f" ] || { echo "no $1" >&2; kill -9 "$2"; return 1; }
	kill -TERM "$2"
	wait "$2" || [ $? -eq 143 ]
}

@test "bnexport -F hf: SIGTERM while writing the directory leaves nothing" {
	# -v blocks on a full stderr once the first file is open
	full_fifo "$T/err"
	bnexport -v -F hf -o "$T/out" "$D/small.bnt" 2> "$T/err" &
	term_when "$T/out.tmp.*/config.json" $!
	[ -z "$(ls -A "$T" | grep -v '^\(err\|model\.bnt\|current\.bnt\)$')" ]
	# filling an existing empty directory: it stays, empty
	mkdir "$T/e"
	bnexport -v -F hf -o "$T/e" "$D/small.bnt" 2> "$T/err" &
	term_when "$T/e/.tmp.*/config.json" $!
	[ -z "$(ls -A "$T/e")" ]
	exec 9<&-
}

@test "bnexport: SIGTERM while spooling a pipe leaves nothing in TMPDIR" {
	mkdir "$T/tmp"
	mkfifo "$T/in"
	TMPDIR=$T/tmp bnexport -F hf -o "$T/out" < "$T/in" &
	pid=$!
	exec 8> "$T/in"
	cat "$D/small.bnt" >&8
	term_when "$T/tmp/bnexport.*" $pid
	exec 8>&-
	[ -z "$(ls -A "$T/tmp")" ]
	[ ! -e "$T/out" ]
	[ -z "$(find "$T" -name '*.tmp.*')" ]
}

@test "bnexport -F hf -o: new DIR/, empty DIR/, DIR link; tar members STEM/FILE" {
	cd "$T"
	bnexport -F hf -o new/ "$D/small.bnt"
	[ -s new/model.safetensors ] && [ -s new/config.json ]
	mkdir empty
	chmod 700 empty
	bnexport -F hf -o empty/ "$D/small.bnt"
	[ -s empty/model.safetensors ]
	[ "$(stat -c %a empty)" = 700 ]
	run -73 --separate-stderr bnexport -F hf -o empty/ "$D/small.bnt"
	[ "$stderr" = "bnexport: empty/: directory is not empty" ]
	# the current directory, when empty
	mkdir here
	(cd here && bnexport -F hf -o . "$D/small.bnt")
	[ -s here/model.safetensors ]
	# through a link: the link stays
	ln -s there link
	bnexport -F hf -o link/ "$D/small.bnt"
	[ -L link ] && [ -s there/model.safetensors ]
	[ -z "$(find . -name '*.tmp.*')" ]
	# tar.zst: STEM/FILE, relative and clean
	bnexport -F hf -o "$T/m.tar.zst" "$D/small.bnt"
	run -0 tar --zstd -tf m.tar.zst
	assert_line m/config.json
	assert_line m/model.safetensors
	refute_line --regexp '(^/|(^|/)\.\.(/|$))'
	run -64 --separate-stderr bnexport -F hf -o ...tar.zst "$D/small.bnt"
	[ "$stderr" = "bnexport: ...tar.zst: archive name without a stem" ]
	run -64 bnexport -F hf -o ./..tar.zst "$D/small.bnt"
	[ ! -e ...tar.zst ] && [ ! -e ..tar.zst ]
	# Python's tarfile extracts it where it is asked to
	mkdir x
	zstd -q -d -o m.tar m.tar.zst
	python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        assert not m.name.startswith("/") and ".." not in m.name.split("/"), m.name
    t.extractall(sys.argv[2])' m.tar x
	[ "$(ls x)" = m ]
	cmp x/m/model.safetensors new/model.safetensors
}
