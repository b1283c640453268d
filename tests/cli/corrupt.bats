#!/usr/bin/env bats
# The corruption corpus: every damaged input is rejected with the
# documented code (bnpack 65, bnverify 1), never a signal, never an
# output file.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

# rejects FILE: bnpack exits 65 and writes nothing; bnverify exits 1
rejects() {
	run --separate-stderr bnpack -o "$T/out.bnt" "$1"
	if [ "$status" -ne 65 ]; then
		echo "bnpack $1: exit $status, want 65: $stderr" >&2
		return 1
	fi
	[[ $stderr == "bnpack: "* ]] || { echo "no diagnostic: $1" >&2; return 1; }
	[ ! -e "$T/out.bnt" ] || { echo "output left: $1" >&2; return 1; }
	[ -z "$(ls "$T" | grep '\.tmp\.')" ] || return 1
	case $1 in
	*.bnt)
		run --separate-stderr bnverify "$1"
		if [ "$status" -ne 1 ]; then
			echo "bnverify $1: exit $status, want 1" >&2
			return 1
		fi
		;;
	esac
}

@test "the corpus's good stream is valid (the corpus is meaningful)" {
	run -0 bnverify "$BAD/good.bnt"
	"$BUILDDIR/tests/mkbad" "$T"
	cmp "$T/good.bnt" "$BAD/good.bnt"
}

@test "damaged bnt streams: truncated, flipped, lying headers" {
	n=0
	for f in "$BAD"/bnt-*.bnt; do
		rejects "$f"
		n=$((n + 1))
	done
	[ "$n" -ge 30 ]
}

@test "well-formed streams that break an invariant fail bnverify" {
	for f in "$BAD"/inv-*.bnt; do
		run --separate-stderr bnverify "$f"
		[ "$status" -eq 1 ] || { echo "$f: $status" >&2; false; }
	done
	run -1 --separate-stderr bnverify "$BAD/inv-ternary-code.bnt"
	[[ $stderr == *"tensor 'w.t2': invalid ternary code at element "* ]]
	run -1 --separate-stderr bnverify "$BAD/inv-nan.bnt"
	[[ $stderr == *"tensor 'v.f32': 1 non-finite values, the first at element 0" ]]
	run -0 bnverify --allow-nonfinite "$BAD/inv-nan.bnt"
}

@test "damaged inputs of the other formats are rejected" {
	n=0
	for f in "$BAD"/*; do
		case $f in *.bnt) continue ;; esac
		rejects "$f"
		n=$((n + 1))
	done
	[ "$n" -ge 1 ]
}

@test "every record boundary of a real stream, truncated, is rejected" {
	bnpack -o "$T/s.bnt" "$FIX/bitnet-tiny"
	offs=$(bnverify -v "$T/s.bnt" 2>&1 | sed -n 's/.*(offset \([0-9]*\)).*/\1/p')
	[ -n "$offs" ]
	for o in 0 1 63 64 $offs $(( $(stat -c %s "$T/s.bnt") - 1 )); do
		head -c "$o" "$T/s.bnt" > "$T/cut.bnt"
		run bnverify -q "$T/cut.bnt"
		[ "$status" -eq 1 ] || { echo "offset $o: $status" >&2; false; }
		run bnpack -o "$T/o.bnt" "$T/cut.bnt"
		[ "$status" -eq 65 ] || { echo "offset $o: $status" >&2; false; }
	done
}

@test "random truncations and bit flips of a real stream are rejected" {
	bnpack -o "$T/s.bnt" "$FIX/bitnet-tiny"
	size=$(stat -c %s "$T/s.bnt")
	RANDOM=7
	for i in $(seq 40); do
		o=$(( (RANDOM * 32768 + RANDOM) % size ))
		head -c "$o" "$T/s.bnt" > "$T/cut.bnt"
		run bnverify -q "$T/cut.bnt"
		[ "$status" -eq 1 ] || { echo "cut $o: $status" >&2; false; }
		cp "$T/s.bnt" "$T/flip.bnt"
		b=$(od -An -tu1 -j"$o" -N1 "$T/s.bnt")
		printf "$(printf '\\%03o' $(( b ^ (1 << (i % 8)) )))" |
		    dd of="$T/flip.bnt" bs=1 seek="$o" conv=notrunc status=none
		run bnverify -q "$T/flip.bnt"
		[ "$status" -eq 1 ] || { echo "flip $o: $status" >&2; false; }
	done
}
