#!/usr/bin/env bats
# Every prefix of a valid bnt stream (each byte length 0 .. size-1 of a
# small ternary model, about 5 KB) is rejected by every tool that reads one,
# with the documented code and a one-line diagnostic: bnverify exits 1,
# the others 65; never a signal, never 0, never a hang.  The prefixes
# run in parallel batches (one per CPU).  Each tool takes every length
# below 512 (the header and the first records) and every 6th above,
# starting at its own offset, so that the six tools together take every
# length once (about 5,000 processes, not 30,000); the sanitizer build
# (about ten times slower; CI runs it beside the plain one) every length
# below 64 and every 42nd above, at offsets 7 apart, so that together
# they take every 7th; the libFuzzer targets (make check-fuzz) cut the
# same parsers' input anywhere under the same sanitizers.

load helper

setup_file() {
	D=$BATS_FILE_TMPDIR
	# a byte-level BPE vocabulary of 8 tokens: a 1-layer, 8-wide model,
	# ternary so that bnexport takes it too
	printf '%s' '{"version":"1.0","added_tokens":[{"id":1,"content":"<s>","special":true},{"id":2,"content":"</s>","special":true}],"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"<unk>":0,"<s>":1,"</s>":2,"a":3,"b":4,"ab":5,"\u0120":6,"c":7},"merges":["a b"]}}' \
	    > "$D/tk.json"
	bnquant --init llama --hidden 8 --layers 1 --heads 1 --kv-heads 1 \
	    --ffn 8 --ctx 4 --tokenizer "$D/tk.json" -o "$D/f.bnt"
	bnquant -q ternary -o "$D/m.bnt" "$D/f.bnt"
	size=$(stat -c %s "$D/m.bnt")
	mkdir -p "$D/p"
	for n in $(seq 0 $((size - 1))); do
		head -c "$n" "$D/m.bnt" > "$D/p/$n.bnt"
	done
	# check WANT DIR K CMD(K words) N...: CMD on each prefix N (the
	# word PREFIX in CMD) must exit WANT with a "tool: " diagnostic;
	# prints the failures.  One shell per batch of prefixes.
	cat > "$D/check" <<'SH'
want=$1 dir=$2 k=$3
shift 3
cmd=("${@:1:k}")
shift "$k"
for n; do
	c=("${cmd[@]/#PREFIX/$dir/p/$n.bnt}")
	err=$(timeout 60 "${c[@]}" 2>&1 >/dev/null)
	rc=$?
	case $err in
	"${c[0]}: "*) [ "$rc" -eq "$want" ] ||
	    echo "prefix $n: ${c[*]}: exit $rc, want $want: $err" ;;
	*) echo "prefix $n: ${c[*]}: exit $rc, no diagnostic: $err" ;;
	esac
done
SH
}

# lengths SIZE K: the prefix lengths this build checks for tool K of
# 0..5 (the tools together: every length in the plain build)
lengths() {
	local lo=512 step=6 k=$2
	case $BUILDDIR in
	*-san) lo=64 step=42 k=$(($2 * 7)) ;;
	esac
	seq 0 $((lo - 1))
	seq $((lo + (k - lo % step + step) % step)) $step $(($1 - 1))
}

# prefixes K WANT CMD...: run CMD (PREFIX: the truncated file) on the
# prefixes of tool K, in parallel batches; fail listing the lengths that
# did not exit WANT
prefixes() {
	local D=$BATS_FILE_TMPDIR k=$1 want=$2 size out
	shift 2
	size=$(stat -c %s "$D/m.bnt")
	[ "$size" -gt 1000 ]
	out=$(lengths "$size" "$k" | xargs -n 128 -P "$(nproc)" \
	    bash "$D/check" "$want" "$D" $# "$@")
	if [ -n "$out" ]; then
		echo "$out" | head -n 20 >&2
		echo "$(echo "$out" | wc -l) of $size prefixes" >&2
		return 1
	fi
}

@test "the whole stream is valid for every tool (the prefixes are meaningful)" {
	D=$BATS_FILE_TMPDIR
	run -0 bnverify -q "$D/m.bnt"
	run -0 bnpack -o "$BATS_TEST_TMPDIR/o.bnt" "$D/m.bnt"
	run -0 bnquant -q ternary -o "$BATS_TEST_TMPDIR/q.bnt" "$D/m.bnt"
	run -0 bnrun -m "$D/m.bnt" -p ab -n 1
	run -0 bnstat "$D/m.bnt"
	run -0 bnexport -F gguf -o "$BATS_TEST_TMPDIR/o.gguf" "$D/m.bnt"
}

@test "prefixes: bnverify exits 1" {
	prefixes 0 1 bnverify PREFIX
}

@test "prefixes: bnpack exits 65" {
	prefixes 1 65 bnpack -o /dev/null PREFIX
}

@test "prefixes: bnquant -q ternary exits 65" {
	prefixes 2 65 bnquant -q ternary -o /dev/null PREFIX
}

@test "prefixes: bnrun -m exits 65" {
	prefixes 3 65 bnrun -m PREFIX -p ab -n 1
}

@test "prefixes: bnstat exits 65" {
	prefixes 4 65 bnstat PREFIX
}

@test "prefixes: bnexport exits 65" {
	prefixes 5 65 bnexport -F gguf -o /dev/null PREFIX
}

@test "every prefix on standard input: bnverify 1, bnpack and bnquant 65" {
	D=$BATS_FILE_TMPDIR
	size=$(stat -c %s "$D/m.bnt")
	for n in $(seq 0 61 $((size - 1))) $((size - 1)); do
		run bnverify -q - < "$D/p/$n.bnt"
		[ "$status" -eq 1 ] || { echo "stdin $n: $status" >&2; false; }
		run bnpack -o /dev/null - < "$D/p/$n.bnt"
		[ "$status" -eq 65 ] || { echo "stdin $n: $status" >&2; false; }
		run bnquant -q ternary -o /dev/null - < "$D/p/$n.bnt"
		[ "$status" -eq 65 ] || { echo "stdin $n: $status" >&2; false; }
	done
}
