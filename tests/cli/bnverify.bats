#!/usr/bin/env bats
# bnverify(1): checks, reports, pass-through, comparison, exit status.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/tiny.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$S/bf16.bnt" "$FIX/bitnet-tiny-bf16"
}

setup() {
	T=$BATS_TEST_TMPDIR
}

# flip BYTE-OFFSET FILE OUT: copy FILE with one byte inverted
flip() {
	cp "$2" "$3"
	printf "$(printf '\\%03o' $(( ($(od -An -tu1 -j"$1" -N1 "$2") ^ 255) )))" |
	    dd of="$3" bs=1 seek="$1" conv=notrunc status=none
}

@test "--help, --version, unknown option" {
	run -0 bnverify --help
	[[ ${lines[0]} == "usage: bnverify "* ]]
	run -0 bnverify -V
	[[ ${lines[0]} == "bnverify (bntools) "* ]]
	run -64 --separate-stderr bnverify --bogus
	[ -z "$output" ]
}

@test "a valid stream: exit 0 and one summary line" {
	run -0 --separate-stderr bnverify "$S/tiny.bnt"
	[ "$output" = "$S/tiny.bnt: ok: 27 records, 24 tensors, $(bnpack -l "$S/tiny.bnt" | awk 'NR > 1 { s += $4 } END { print s }') bytes" ]
	[ -z "$stderr" ]
}

@test "stdin is read when no file is named" {
	run -0 pipefail "bnverify < $S/tiny.bnt"
	[[ $output == "<stdin>: ok: "* ]]
}

@test "a flipped payload byte is found: exit 1, record and offset named" {
	flip 20000 "$S/tiny.bnt" "$T/bad.bnt"
	run -1 --separate-stderr bnverify "$T/bad.bnt"
	[ "$output" = "$T/bad.bnt: FAILED: 1 problem" ]
	[[ $stderr =~ ^"bnverify: $T/bad.bnt: record "[0-9]+" (offset "[0-9]+"): record checksum mismatch"$ ]]
}

@test "-q prints nothing; --json prints one object with stable keys" {
	flip 20000 "$S/tiny.bnt" "$T/bad.bnt"
	run -1 --separate-stderr bnverify -q "$T/bad.bnt"
	[ -z "$output" ] && [ -z "$stderr" ]
	run -0 bnverify --json "$S/tiny.bnt"
	[[ $output == "{\"file\":\"$S/tiny.bnt\",\"ok\":true,\"records\":27,\"tensors\":24,\"bytes\":"*",\"problems\":[]}" ]]
	run -1 bnverify --json "$T/bad.bnt"
	[[ $output == *'"ok":false'*'"message":"record '*'checksum mismatch"'* ]]
}

@test "several files: carry on and exit with the worst code" {
	flip 20000 "$S/tiny.bnt" "$T/bad.bnt"
	run -66 --separate-stderr bnverify "$S/tiny.bnt" "$T/bad.bnt" nope.bnt
	[ "${lines[0]}" = "$S/tiny.bnt: ok: 27 records, 24 tensors, ${lines[0]##*, }" ]
	[ "${lines[1]}" = "$T/bad.bnt: FAILED: 1 problem" ]
	[[ $stderr == *"bnverify: nope.bnt: No such file or directory"* ]]
	run -1 bnverify "$S/tiny.bnt" "$T/bad.bnt"
}

@test "-p copies a valid stream byte for byte" {
	pipefail "bnverify -p < $S/tiny.bnt > $T/out.bnt"
	cmp "$S/tiny.bnt" "$T/out.bnt"
	bnverify -p -o "$T/out2.bnt" "$S/tiny.bnt"
	cmp "$S/tiny.bnt" "$T/out2.bnt"
}

@test "-p stops forwarding at the first bad record and fails the pipeline" {
	flip 20000 "$S/tiny.bnt" "$T/bad.bnt"
	run -1 pipefail "bnverify -p < $T/bad.bnt | cat > $T/out.bnt"
	[ "$(stat -c %s "$T/out.bnt")" -lt 20000 ]
	[ "$(stat -c %s "$T/out.bnt")" -gt 0 ]
	cmp -n "$(stat -c %s "$T/out.bnt")" "$T/bad.bnt" "$T/out.bnt"
	run -1 bnverify -p -o "$T/never.bnt" "$T/bad.bnt"
	[ ! -e "$T/never.bnt" ]
}

@test "-p in the middle of a pipeline" {
	pipefail "bnpack $FIX/bitnet-tiny | bnverify -p | bnverify -q"
	run -1 pipefail "cat $BAD/evil-os-system.pt | bnpack - | bnverify -p | bnverify -q"
}

@test "--against: identical streams pass --tol 0" {
	run -0 bnverify --against "$S/tiny.bnt" --tol 0 "$S/tiny.bnt"
	assert_line --regexp "^$S/tiny.bnt: blk\.0\.attn_q\.weight: max_abs 0 rms 0 cosine 1 codes 1.000000$"
}

@test "--against: a float reference gives errors and code agreement" {
	run -0 bnverify --against "$S/bf16.bnt" "$S/tiny.bnt"
	assert_line --regexp "blk\.0\.attn_q\.weight: max_abs [0-9.e-]+ rms [0-9.e-]+ cosine 0\.[0-9]+ codes 1\.000000$"
	run -1 --separate-stderr bnverify --against "$S/bf16.bnt" --tol 0.001 "$S/tiny.bnt"
	[[ $stderr == *"tensor 'blk.0.attn_q.weight': differs from the reference by "* ]]
}

@test "--against: missing and extra tensors are problems" {
	bnpack --exclude 'blk\.1\.ffn_up' -o "$T/less.bnt" "$S/tiny.bnt"
	run -1 --separate-stderr bnverify --against "$S/tiny.bnt" "$T/less.bnt"
	[[ $stderr == *"tensor 'blk.1.ffn_up.weight': in the reference but not in the stream"* ]]
}

@test "a tensor the architecture needs is missing" {
	bnpack --exclude '^blk\.1\.attn_k' -o "$T/less.bnt" "$S/tiny.bnt"
	run -1 --separate-stderr bnverify "$T/less.bnt"
	[ "$stderr" = "bnverify: $T/less.bnt: tensor 'blk.1.attn_k.weight': missing (arch bitnet needs it)" ]
}

@test "--tol rejects junk" {
	run -64 --separate-stderr bnverify --tol -1 "$S/tiny.bnt"
	[ "${stderr_lines[0]}" = "bnverify: --tol: invalid tolerance '-1'" ]
	run -64 bnverify --tol abc "$S/tiny.bnt"
}

@test "concatenated streams verify as one input, each stream on its own" {
	# tensor names are per stream (bnt(5)): two copies are two sound
	# streams, while a name twice in one stream is caught
	cat "$S/tiny.bnt" "$S/tiny.bnt" > "$T/two.bnt"
	run -0 bnverify "$T/two.bnt"
	[[ $output == *": ok: 54 records, 48 tensors, "* ]]
	PYTHONPATH=$ROOT/tests/peers python3 - "$S/tiny.bnt" "$T/dup.bnt" <<-'EOF'
	import sys
	from peerlib import bnt_record, bnt_records
	head, recs = bnt_records(open(sys.argv[1], 'rb').read())
	t = [r for r in recs if r[0] == 0x80000003][0]
	out = head + b''.join(bnt_record(*r[:4]) for r in recs[:-1])
	out += bnt_record(*t[:4]) + bnt_record(*recs[-1][:4])
	open(sys.argv[2], 'wb').write(out)
	EOF
	run -1 --separate-stderr bnverify "$T/dup.bnt"
	[[ $stderr == *"': duplicate tensor name" ]]
	bnpack -l "$FIX/tokenizer/tokenizer.json" >/dev/null
	bnpack -o "$T/tok.bnt" "$FIX/tokenizer/tokenizer.json"
	cat "$T/tok.bnt" "$S/tiny.bnt" > "$T/cat.bnt"
	run -0 bnverify "$T/cat.bnt"
	[[ $output == *": ok: 29 records, 24 tensors, "* ]]
}
