#!/usr/bin/env bats
# bnpack(1): options, exit status, diagnostics, every input format.

load helper

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "--help prints usage on stdout and exits 0" {
	run -0 --separate-stderr bnpack --help
	[[ ${lines[0]} == "usage: bnpack "* ]]
	[ -z "$stderr" ]
}

@test "--version names the tool and the libraries" {
	run -0 bnpack --version
	[[ ${lines[0]} == "bnpack (bntools) "* ]]
	[[ ${lines[1]} == *libzstd* ]]
}

@test "an unknown option is a usage error (64) with nothing on stdout" {
	run -64 --separate-stderr bnpack --no-such-option
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "bnpack: "* ]]
	[[ ${stderr_lines[1]} == "usage: bnpack "* ]]
}

@test "a missing operand is a usage error" {
	run -64 --separate-stderr bnpack
	[[ $stderr == "usage: bnpack "* ]]
}

@test "bad option arguments are usage errors" {
	run -64 --separate-stderr bnpack --dtype q4 x
	[ "${stderr_lines[0]}" = "bnpack: --dtype: invalid type 'q4'" ]
	run -64 --separate-stderr bnpack --zstd=99 x
	[ "${stderr_lines[0]}" = "bnpack: --zstd: invalid level '99'" ]
	run -64 --separate-stderr bnpack --include '(' x
	[[ ${stderr_lines[0]} == "bnpack: --include: invalid regex '('"* ]]
}

@test "a missing input exits 66 and names it" {
	run -66 --separate-stderr bnpack -o "$T/x.bnt" nope.safetensors
	[ "$stderr" = "bnpack: nope.safetensors: No such file or directory" ]
	[ ! -e "$T/x.bnt" ]
}

@test "an unknown format exits 65" {
	printf 'hello world, this is not a model' > "$T/junk"
	run -65 --separate-stderr bnpack -o "$T/x.bnt" "$T/junk"
	[ "$stderr" = "bnpack: $T/junk: unrecognised input format" ]
	[ ! -e "$T/x.bnt" ]
	[ -z "$(ls "$T" | grep tmp)" ]
}

@test "stdin is named <stdin>" {
	run -65 --separate-stderr pipefail "printf XXXXXXXXXXXX | bnpack -o $T/x.bnt -"
	[ "$stderr" = "bnpack: <stdin>: unrecognised input format" ]
}

@test "packed bitnet-tiny: ternary tensors with the bf16 weight_scale" {
	run -0 bnpack -l "$FIX/bitnet-tiny"
	[[ ${lines[0]} == "name "*"dtype"*"shape"*"bytes" ]]
	assert_line --regexp '^blk\.0\.attn_q\.weight +t2 +256x256 +16386$'
	assert_line --regexp '^blk\.1\.ffn_down\.weight +t2 +256x768 +49154$'
	assert_line --regexp '^token_embd\.weight +bf16 +4096x256 +2097152$'
	refute_line --partial 'weight_scale'
	refute_line --regexp '^output\.weight'
}

@test "bitnet-tiny packs and verifies, and re-packing bnt is the identity" {
	bnpack -o "$T/a.bnt" "$FIX/bitnet-tiny"
	run -0 bnverify "$T/a.bnt"
	[[ $output == "$T/a.bnt: ok: 27 records, 24 tensors, "* ]]
	bnpack -o "$T/b.bnt" "$T/a.bnt"
	cmp "$T/a.bnt" "$T/b.bnt"
}

@test "the packed codes equal absmean ternarization of the bf16 masters" {
	bnpack -o "$T/q.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$T/f.bnt" "$FIX/bitnet-tiny-bf16"
	run -0 bnverify --against "$T/f.bnt" "$T/q.bnt"
	n=$(grep -c 'codes 1.000000$' <<<"$output")
	[ "$n" -eq 14 ]
}

@test "the .pt and the safetensors of bitnet-tiny-bf16 are bit-identical" {
	bnpack -o "$T/st.bnt" "$FIX/bitnet-tiny-bf16/model.safetensors"
	bnpack -o "$T/pt.bnt" \
	    "$FIX/bitnet-tiny-bf16/pytorch_model.pt"
	cmp "$T/st.bnt" "$T/pt.bnt"
	run -0 bnverify --against "$T/st.bnt" --tol 0 "$T/pt.bnt"
}

@test "a tar.zst, tar.gz and tar of a directory give the directory's stream" {
	bnpack -o "$T/dir.bnt" "$FIX/bitnet-tiny"
	tar -C "$FIX" -cf - bitnet-tiny | zstd -q > "$T/b.tar.zst"
	tar -C "$FIX" -czf "$T/b.tar.gz" bitnet-tiny
	tar -C "$FIX/bitnet-tiny" -cf "$T/b.tar" .
	for a in b.tar.zst b.tar.gz b.tar; do
		bnpack -o "$T/$a.bnt" "$T/$a"
		cmp "$T/dir.bnt" "$T/$a.bnt"
	done
}

@test "the Llama directory packs with its config and tokenizer" {
	bnpack -o "$T/l.bnt" "$FIX/austen-llama-6m"
	run -0 bnverify "$T/l.bnt"
	[[ $output == *": ok: 60 records, 57 tensors, "* ]]
	run -0 bnpack -l "$T/l.bnt"
	assert_line --regexp '^output\.weight +bf16 +4096x256 '
	assert_line --regexp '^blk\.5\.ffn_gate\.weight +bf16 +768x256 '
}

@test "a lone tokenizer.json and both vocabulary GGUFs pack and verify" {
	for f in "$FIX/tokenizer/tokenizer.json" \
	    "$VOCAB/ggml-vocab-llama-bpe.gguf" \
	    "$VOCAB/ggml-vocab-llama-spm.gguf"; do
		bnpack -o "$T/v.bnt" "$f"
		run -0 bnverify "$T/v.bnt"
		[[ $output == *": ok: "*" 0 tensors, 0 bytes" ]]
	done
}

@test "GGUF: all six tensor types import exactly" {
	"$BUILDDIR/tests/mkgguf" -s 7 "$T/g.gguf" "$T/ref.safetensors"
	bnpack -o "$T/g.bnt" "$T/g.gguf"
	bnpack -o "$T/ref.bnt" "$T/ref.safetensors"
	run -0 bnpack -l "$T/g.bnt"
	for ty in f32 f16 bf16 i8 t2; do
		assert_line --regexp " $ty "
	done
	run -0 bnverify --against "$T/ref.bnt" --tol 0 "$T/g.bnt"
}

@test "--dtype converts float tensors only" {
	bnpack --dtype f32 -o "$T/f.bnt" "$FIX/bitnet-tiny"
	run -0 bnpack -l "$T/f.bnt"
	assert_line --regexp '^token_embd\.weight +f32 +4096x256 +4194304$'
	assert_line --regexp '^blk\.0\.attn_q\.weight +t2 '
	bnpack -o "$T/b.bnt" "$FIX/bitnet-tiny"
	run -0 bnverify --against "$T/b.bnt" --tol 0 "$T/f.bnt"
}

@test "--include and --exclude select by bnt name" {
	run -0 bnpack -l --include '^blk\.1\.' --exclude 'norm' \
	    "$FIX/bitnet-tiny"
	[ "${#lines[@]}" -eq 8 ]
	refute_line --partial 'norm'
}

@test "--zstd compresses payloads; the values stay identical" {
	bnpack -o "$T/p.bnt" "$FIX/austen-llama-6m"
	bnpack --zstd=9 -o "$T/z.bnt" "$FIX/austen-llama-6m"
	[ "$(stat -c %s "$T/z.bnt")" -lt "$(stat -c %s "$T/p.bnt")" ]
	run -0 bnverify "$T/z.bnt"
	bnpack -o "$T/u.bnt" "$T/z.bnt"
	cmp "$T/p.bnt" "$T/u.bnt"
}

@test "npy and npz inputs" {
	bnpack -o "$T/n.bnt" "$ROOT/tests/fixtures/small.npz"
	run -0 bnverify "$T/n.bnt"
	bnpack -o "$T/n1.bnt" "$ROOT/tests/fixtures/small.npy"
	run -0 bnverify "$T/n1.bnt"
}

@test "a pickle that calls os.system is refused, naming the global" {
	run -65 --separate-stderr bnpack -o "$T/x.bnt" "$BAD/evil-os-system.pt"
	[[ $stderr == *"'os.system'"* ]]
	[ ! -e "$T/x.bnt" ]
}

@test "-o replaces the old file only on success" {
	echo old > "$T/out.bnt"
	run -65 bnpack -o "$T/out.bnt" "$BAD/evil-os-system.pt"
	[ "$(cat "$T/out.bnt")" = old ]
	bnpack -o "$T/out.bnt" "$FIX/bitnet-tiny"
	bnverify -q "$T/out.bnt"
	[ -z "$(ls "$T" | grep '\.tmp\.')" ]
}

@test "binary output to a terminal is refused without --force" {
	run script -qec "bnpack $FIX/tokenizer/tokenizer.json" /dev/null
	[[ $output == *"refusing to write binary data to a terminal"* ]]
}

@test "output on /dev/full exits 74 with a message" {
	run -74 --separate-stderr bnpack -o /dev/full "$FIX/bitnet-tiny"
	[[ $stderr == "bnpack: /dev/full: "* ]]
}

@test "a reader that quits early ends bnpack quietly" {
	run --separate-stderr pipefail "bnpack $FIX/austen-llama-6m | head -c 100 >/dev/null"
	[ -z "$stderr" ]
}

@test "config keys as transformers 4 and 5 write them give one config" {
	d=$BATS_TEST_TMPDIR/tf4
	mkdir "$d"
	cp "$FIX/bitnet-tiny/"* "$d/"
	chmod u+w "$d/config.json"
	# transformers 4: rope_theta at the top level, no rope_parameters
	sed -e '/"rope_parameters"/,/}/d' \
	    -e 's/"vocab_size": 4096,/"vocab_size": 4096, "rope_theta": 500000.0,/' \
	    "$FIX/bitnet-tiny/config.json" > "$d/config.json"
	run -1 grep -q rope_parameters "$d/config.json"
	bnpack -o "$BATS_TEST_TMPDIR/a.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$BATS_TEST_TMPDIR/b.bnt" "$d"
	cmp "$BATS_TEST_TMPDIR/a.bnt" "$BATS_TEST_TMPDIR/b.bnt"
}
