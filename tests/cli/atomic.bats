#!/usr/bin/env bats
# Atomic outputs (xio.c): a regular -o file is written under a
# temporary name and renamed, so SIGKILL at any moment leaves the old
# file or none, never a partial one; -o of a FIFO, a device or a
# symbolic link such as /dev/stdout is written in place, never
# replaced; a full device gives exit 74 and a message; a closed pipe
# ends the tool quietly.

load helper

setup_file() {
	D=$BATS_FILE_TMPDIR
	printf '%s' '{"version":"1.0","added_tokens":[],"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"\u0120":3},"merges":["a b"]}}' \
	    > "$D/tk.json"
	# about 64 MB of f32 weights: long enough to be killed mid-write
	bnquant --init llama --hidden 512 --layers 4 --heads 8 --kv-heads 8 \
	    --ffn 2048 --ctx 64 --tokenizer "$D/tk.json" -o "$D/big.bnt"
	bnquant -q ternary -o "$D/bigq.bnt" "$D/big.bnt"
	bnquant --init llama --hidden 8 --layers 1 --heads 1 --kv-heads 1 \
	    --ffn 8 --ctx 4 --tokenizer "$D/tk.json" -o "$D/small.bnt"
	bnquant -q ternary -o "$D/smallq.bnt" "$D/small.bnt"
}

setup() {
	D=$BATS_FILE_TMPDIR
	T=$BATS_TEST_TMPDIR
}

# killed OUT CMD...: run CMD (which writes OUT), SIGKILL it once its
# temporary file OUT.tmp.* holds data; up to 5 tries.  Then OUT must
# still be the old content ("old" in T/old, or absent if T/old is
# absent), or the whole new one if the kill came after the rename.
# Fails if no try caught a partial temporary file.
killed() {
	local out=$1 pid i try tmp caught=0
	shift
	rm -f "$out"
	"$@" 2>/dev/null
	mv "$out" "$T/new"
	for try in 1 2 3 4 5; do
		if [ -e "$T/old" ]; then cp "$T/old" "$out"; else rm -f "$out"; fi
		rm -f "$out".tmp.*
		"$@" 2>/dev/null &
		pid=$!
		# poll without sleeping: bnexport writes for a tenth of a second
		for ((i = 0; i < 2000000; i++)); do
			for tmp in "$out".tmp.*; do :; done
			if [ -s "$tmp" ]; then
				kill -9 "$pid"
				caught=1
				break
			fi
			((i % 64)) || kill -0 "$pid" 2>/dev/null || break
		done
		wait "$pid" || true
		if [ -e "$out" ] && cmp -s "$T/new" "$out"; then
			caught=0	# it had finished: try again
		elif [ -e "$T/old" ]; then
			cmp "$T/old" "$out" || { echo "try $try: changed" >&2; return 1; }
		else
			[ ! -e "$out" ] || { echo "try $try: $out left" >&2; return 1; }
		fi
		[ "$caught" -eq 0 ] || return 0
	done
	echo "never caught $* mid-write" >&2
	return 1
}

# streamed OUT CMD...: CMD reads the big stream from a FIFO of which
# only the first 40 MB come; once its temporary holds data, SIGKILL
streamed() {
	local out=$1 pid tmp i
	shift
	mkfifo "$T/in"
	"$@" < "$T/in" 2>/dev/null &
	pid=$!
	exec 8> "$T/in"
	head -c 40000000 "$D/big.bnt" >&8 &
	for i in $(seq 3000); do
		for tmp in "$out".tmp.*; do :; done
		[ -s "$tmp" ] && break
		sleep 0.01
	done
	[ -s "$tmp" ]
	kill -9 "$pid"
	wait "$pid" || true
	exec 8>&-
	wait
	rm -f "$T/in"
}

@test "SIGKILL during bnquant -o (a stream, cut mid-record): the old file stays" {
	cp "$D/small.bnt" "$T/old"
	cp "$T/old" "$T/out.bnt"
	streamed "$T/out.bnt" bnquant -q ternary -o "$T/out.bnt" -
	cmp "$T/old" "$T/out.bnt"
	rm -f "$T/out.bnt" "$T"/out.bnt.tmp.*
	streamed "$T/out.bnt" bnquant -q ternary -o "$T/out.bnt" -
	[ ! -e "$T/out.bnt" ]
}

@test "SIGKILL during bnpack -o: the old file or none, never a partial one" {
	cp "$D/small.bnt" "$T/old"
	killed "$T/out.bnt" bnpack --zstd=3 -o "$T/out.bnt" "$D/big.bnt"
	rm -f "$T/old"
	killed "$T/out.bnt" bnpack --zstd=3 -o "$T/out.bnt" "$D/big.bnt"
}

@test "SIGKILL during bnquant -o: the old file or none" {
	cp "$D/small.bnt" "$T/old"
	killed "$T/out.bnt" bnquant -q ternary -o "$T/out.bnt" "$D/big.bnt"
	rm -f "$T/old"
	killed "$T/out.bnt" bnquant -q ternary -o "$T/out.bnt" "$D/big.bnt"
}

@test "SIGKILL during bnexport -o: the old file or none" {
	echo "an old gguf" > "$T/old"
	killed "$T/out.gguf" bnexport -F gguf -o "$T/out.gguf" "$D/bigq.bnt"
	rm -f "$T/old"
	killed "$T/out.onnx" bnexport -F onnx -o "$T/out.onnx" "$D/bigq.bnt"
}

@test "a finished -o replaces the old file and leaves no temporary" {
	echo old > "$T/out.bnt"
	run -0 bnpack -o "$T/out.bnt" "$D/small.bnt"
	cmp "$D/small.bnt" "$T/out.bnt"
	[ -z "$(ls "$T" | grep '\.tmp\.')" ]
}

@test "-o FIFO is written in place, and stays a FIFO" {
	mkfifo "$T/f"
	cat "$T/f" > "$T/got" &
	run -0 bnpack -o "$T/f" "$D/small.bnt"
	wait
	[ -p "$T/f" ]
	cmp "$D/small.bnt" "$T/got"
	cat "$T/f" > "$T/gotq" &
	run -0 bnquant -q ternary -o "$T/f" "$D/small.bnt"
	wait
	[ -p "$T/f" ]
	bnverify -q "$T/gotq"
	[ -z "$(ls "$T" | grep '\.tmp\.')" ]
}

@test "-o /dev/stdout (a symbolic link) is written in place, never replaced" {
	# a link of our own to /proc/self/fd/1 stands for /dev/stdout, which
	# a tool running as root could otherwise replace
	ln -s /proc/self/fd/1 "$T/stdout"
	bnpack -o "$T/stdout" "$D/small.bnt" > "$T/got"
	[ -L "$T/stdout" ]
	cmp "$D/small.bnt" "$T/got"
	bnquant -q ternary -o "$T/stdout" "$D/small.bnt" > "$T/gotq"
	[ -L "$T/stdout" ]
	bnverify -q "$T/gotq"
	bnpack -o /dev/stdout "$D/small.bnt" > "$T/got2"
	[ -L /dev/stdout ]
	cmp "$D/small.bnt" "$T/got2"
	[ -z "$(ls "$T" /dev | grep '\.tmp\.')" ]
}

@test "-o /dev/null: a device is written in place" {
	run -0 bnpack -o /dev/null "$D/small.bnt"
	[ -c /dev/null ]
	run -0 bnexport -F gguf -o /dev/null "$D/smallq.bnt"
	[ -c /dev/null ]
}

@test "output on /dev/full: exit 74 and a message, from every tool" {
	run -74 --separate-stderr bnpack -o /dev/full "$D/small.bnt"
	[[ $stderr == "bnpack: /dev/full: "*"No space left on device" ]]
	run -74 --separate-stderr bash -c 'bnpack "$1" > /dev/full' x "$D/small.bnt"
	[[ $stderr == "bnpack: <stdout>: "*"No space left on device" ]]
	run -74 --separate-stderr bash -c 'bnquant -q ternary "$1" > /dev/full' x "$D/small.bnt"
	[[ $stderr == "bnquant: <stdout>: "*"No space left on device" ]]
	run -74 --separate-stderr bnexport -F gguf -o /dev/full "$D/smallq.bnt"
	[[ $stderr == *"bnexport: /dev/full: write error"* ]]
	run -74 --separate-stderr bash -c 'bnexport -F gguf "$1" > /dev/full' x "$D/smallq.bnt"
	[[ $stderr == *"bnexport: <stdout>: write error"* ]]
	run -74 --separate-stderr bash -c 'bnstat "$1" > /dev/full' x "$D/small.bnt"
	[[ $stderr == "bnstat: <stdout>: No space left on device" ]]
	run -74 --separate-stderr bash -c 'bnverify -v "$1" > /dev/full' x "$D/small.bnt"
	[[ $stderr == *"bnverify: <stdout>: No space left on device" ]]
	run -74 --separate-stderr bash -c 'bnrun -m "$1" -p ab -n 2 > /dev/full' x "$D/small.bnt"
	[[ $stderr == "bnrun: <stdout>: No space left on device" ]]
}

@test "bnpack big | head -c 100 ends quietly (SIGPIPE, no message)" {
	run --separate-stderr bash -c \
	    'bnpack "$1" | head -c 100 | wc -c; echo "${PIPESTATUS[0]}"' x \
	    "$D/big.bnt"
	[ "${lines[0]}" -eq 100 ]
	[ "${lines[1]}" -eq 0 ] || [ "${lines[1]}" -eq 141 ]
	[ -z "$stderr" ]
	run --separate-stderr bash -c \
	    'bnquant -q ternary "$1" | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"' x \
	    "$D/big.bnt"
	[ "$output" -eq 0 ] || [ "$output" -eq 141 ]
	[ -z "$stderr" ]
	# with -o a pipe is written in place too: the same quiet end
	run --separate-stderr bash -c \
	    'bnpack -o /dev/stdout "$1" | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"' x \
	    "$D/big.bnt"
	[ "$output" -eq 0 ] || [ "$output" -eq 141 ]
	[ -z "$stderr" ]
}
