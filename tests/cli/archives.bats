#!/usr/bin/env bats
# archives.bats: ambiguous archives (a member twice, model files in two
# directories) are refused, and members the import does not use are
# skipped unread (issue 18, items 5 and 12).

load helper

setup() {
	T=$BATS_TEST_TMPDIR
	M=$FIX/bitnet-tiny
}

# mkmodel DIR: the tiny model's files (config, tokenizer, weights) in DIR
mkmodel() {
	mkdir -p "$1"
	cp "$M/config.json" "$M/tokenizer.json" "$M/model.safetensors" "$1/"
}

# tarpy OUT NAME=FILE...: a tar holding FILE as member NAME, in order
# (Python's tarfile writes a name twice when asked, as tar -r appends)
tarpy() {
	python3 - "$@" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for a in sys.argv[2:]:
        name, path = a.split("=", 1)
        t.add(path, arcname=name)
PY
}

# zipdup IN OUT MEMBER: IN's members, then MEMBER once more (holding
# the bytes of IN's last member), as Python's zipfile lets one write
zipdup() {
	python3 - "$@" <<'PY'
import sys, warnings, zipfile
warnings.simplefilter("ignore")
src = zipfile.ZipFile(sys.argv[1])
names = src.namelist()
with zipfile.ZipFile(sys.argv[2], "w") as z:
    for n in names:
        z.writestr(n, src.read(n))
    z.writestr(sys.argv[3], src.read(names[-1]))
PY
}

# peak CMD...: "STATUS MAXRSS_KB" of CMD run as a child of Python
peak() {
	python3 -c 'import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

@test "a tar with a's config.json and b's model is refused, naming both directories" {
	mkmodel "$T/b"
	mkdir "$T/a"
	sed 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": 99/' \
	    "$M/config.json" > "$T/a/config.json"
	tar -C "$T" -cf "$T/x.tar" a b
	run -65 --separate-stderr bnpack -o "$T/x.bnt" "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: two model directories: 'a' (config.json) and 'b' (config.json)" ]
	[ ! -e "$T/x.bnt" ]
}

@test "two model directories under one top directory are named with it" {
	mkmodel "$T/top/m1"
	mkmodel "$T/top/m2"
	tar -C "$T" -czf "$T/x.tar.gz" top
	run -65 --separate-stderr bnpack "$T/x.tar.gz"
	[ "$stderr" = "bnpack: $T/x.tar.gz: two model directories: 'top/m1' (config.json) and 'top/m2' (config.json)" ]
}

@test "a tokenizer in another directory than the weights is refused" {
	mkmodel "$T/m"
	mkdir "$T/m/tok"
	mv "$T/m/tokenizer.json" "$T/m/tok/"
	tar -C "$T" -cf "$T/x.tar" m
	run -65 --separate-stderr bnpack "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: two model directories: 'm' (config.json) and 'm/tok' (tokenizer.json)" ]
}

@test "one model directory beside other files packs as the directory does" {
	mkmodel "$T/m/model"
	echo notes > "$T/m/README.md"
	mkdir "$T/m/other"
	cp "$M/reference.safetensors" "$T/m/other/"
	tar -C "$T" -cf "$T/x.tar" m
	bnpack -o "$T/dir.bnt" "$T/m/model"
	bnpack -o "$T/tar.bnt" "$T/x.tar"
	cmp "$T/dir.bnt" "$T/tar.bnt"
}

@test "a tar holding config.json twice is refused, naming the member" {
	mkdir "$T/c"
	sed 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": 99/' \
	    "$M/config.json" > "$T/c/config.json"
	tarpy "$T/x.tar" m/config.json="$M/config.json" \
	    m/tokenizer.json="$M/tokenizer.json" \
	    m/model.safetensors="$M/model.safetensors" \
	    m/config.json="$T/c/config.json"
	# what extraction would keep: the last
	mkdir "$T/out"
	tar -C "$T/out" -xf "$T/x.tar"
	cmp "$T/out/m/config.json" "$T/c/config.json"
	run -65 --separate-stderr bnpack -o "$T/x.bnt" "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: duplicate member 'm/config.json'" ]
	[ ! -e "$T/x.bnt" ]
}

@test "./config.json and config.json are one path, so a member twice" {
	tarpy "$T/x.tar" config.json="$M/config.json" \
	    tokenizer.json="$M/tokenizer.json" \
	    model.safetensors="$M/model.safetensors" \
	    ./config.json="$M/config.json"
	run -65 --separate-stderr bnpack "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: duplicate member 'config.json'" ]
}

@test "a member twice in an unused file of a tar is refused too" {
	tarpy "$T/x.tar" m/config.json="$M/config.json" \
	    m/tokenizer.json="$M/tokenizer.json" \
	    m/model.safetensors="$M/model.safetensors" \
	    m/notes.txt="$M/config.json" m/notes.txt="$M/config.json"
	run -65 --separate-stderr bnpack "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: duplicate member 'm/notes.txt'" ]
}

@test "a PyTorch zip holding data/0 twice is refused, naming the member" {
	pt=$FIX/bitnet-tiny-bf16/pytorch_model.pt
	zipdup "$pt" "$T/x.pt" pytorch_model/data/0
	# Python's zipfile reads the last of the two
	python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); n = z.namelist()
assert n.count("pytorch_model/data/0") == 2
assert z.read("pytorch_model/data/0") == z.read(n[-2])' "$T/x.pt"
	run -65 --separate-stderr bnpack -o "$T/x.bnt" "$T/x.pt"
	[ "$stderr" = "bnpack: $T/x.pt: duplicate member 'pytorch_model/data/0'" ]
	[ ! -e "$T/x.bnt" ]
}

@test "a PyTorch zip with a member twice is refused inside a tar too" {
	mkdir "$T/m"
	cp "$M/config.json" "$M/tokenizer.json" "$T/m/"
	zipdup "$FIX/bitnet-tiny-bf16/pytorch_model.pt" \
	    "$T/m/pytorch_model.bin" pytorch_model/data/0
	tar -C "$T" -cf "$T/x.tar" m
	run -65 --separate-stderr bnpack "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: pytorch_model.bin: duplicate member 'pytorch_model/data/0'" ]
}

@test "an .npz holding an array twice is refused, naming the member" {
	zipdup "$ROOT/tests/fixtures/small.npz" "$T/x.npz" \
	    "$(python3 -c 'import sys, zipfile
print(zipfile.ZipFile(sys.argv[1]).namelist()[0])' \
	    "$ROOT/tests/fixtures/small.npz")"
	run -65 --separate-stderr bnpack "$T/x.npz"
	[[ $stderr =~ ^"bnpack: $T/x.npz: duplicate member '"[^\']*".npy'"$ ]]
}

@test "a 3 GiB member the import does not use is skipped: little memory, little time" {
	mkmodel "$T/m"
	# a sparse file: one byte after 3 GiB of hole, stored by tar as a
	# sparse member (a few KiB); reading it gives 3 GiB of zeros
	truncate -s 3G "$T/m/zeros.bin"
	printf x >> "$T/m/zeros.bin"
	tar -C "$T" --sparse -cf "$T/x.tar" m
	[ "$(stat -c %s "$T/x.tar")" -lt 10000000 ]
	rm "$T/m/zeros.bin"
	bnpack -o "$T/dir.bnt" "$T/m"
	run -0 peak timeout 120 "$BIN/bnpack" -o "$T/tar.bnt" "$T/x.tar"
	set -- $output
	[ "$1" = 0 ]
	# the model is 2.5 MB; well under the member's 3 GiB
	[ "$2" -lt 262144 ]
	cmp "$T/dir.bnt" "$T/tar.bnt"
}

@test "an index naming a shard that is not *.safetensors says so in a tar" {
	mkdir "$T/m"
	cp "$M/config.json" "$M/tokenizer.json" "$T/m/"
	cp "$M/model.safetensors" "$T/m/weights.bin"
	python3 - "$M/model.safetensors" "$T/m/model.safetensors.index.json" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n])
h.pop("__metadata__", None)
json.dump({"weight_map": {k: "weights.bin" for k in h}},
    open(sys.argv[2], "w"))
PY
	tar -C "$T" -cf "$T/x.tar" m
	run -65 --separate-stderr bnpack "$T/x.tar"
	[ "$stderr" = "bnpack: $T/x.tar: model.safetensors.index.json: shard 'weights.bin': not a .safetensors name, left unread in the archive" ]
}
