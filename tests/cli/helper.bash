# helper.bash: loaded at the top of every tests/cli/*.bats file.
bats_require_minimum_version 1.5.0

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BIN=${BN_BIN:-$ROOT/bin}
BUILDDIR=${BN_BUILD:-$ROOT/build}
PATH=$BIN:$PATH
export LC_ALL=C BN_KERNEL=${BN_KERNEL-}

# Reference data: ../shared when the checkout sits beside it (CI), else
# the copies kept in tests/fixtures (a fresh clone).
if [ -d "$ROOT/../shared/fixtures" ]; then
	FIX=$ROOT/../shared/fixtures
	VOCAB=$ROOT/../shared/vocab
else
	FIX=$ROOT/tests/fixtures
	VOCAB=$ROOT/tests/fixtures/vocab
fi
BAD=$ROOT/tests/fixtures/bad

# The SIMD kernel path this machine runs (avx2, neon or neon-dotprod;
# ref where there is none), and one it cannot run (for the exit-69 test).
SIMD=$(BN_KERNEL= "$BIN/bnrun" --version 2>/dev/null | sed -n 's/^kernels //p')
case $(uname -m) in
aarch64|arm64) FOREIGN=avx2 ;;
*) FOREIGN=neon ;;
esac

load_lib() {
	local d
	for d in /usr/lib/bats /usr/lib/bats-core /usr/local/lib; do
		if [ -f "$d/$1/load.bash" ]; then
			load "$d/$1/load.bash"
			return
		fi
	done
}
load_lib bats-support
load_lib bats-assert

# pipefail CMDLINE: a pipeline in which any failing stage fails it.
pipefail() {
	bash -o pipefail -c "$1"
}

# tensors FILE: "name dtype shape bytes" lines of a bnt stream (bnpack -l)
tensors() {
	bnpack -l "$1" | tail -n +2
}

# ref_continuation DIR K: the tokens a reference (DIR/reference.safetensors,
# written by tests/peers) continued prompt K with, greedy.K after
# input_ids.K, decoded by DIR/tokenizer.json's byte-level vocabulary;
# Python's standard library alone
ref_continuation() {
	python3 - "$1/reference.safetensors" "$1/tokenizer.json" "$2" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
head = json.loads(data[8:8 + n])
def ids(name):
    a, b = head[name]["data_offsets"]
    return struct.unpack("<%di" % ((b - a) // 4), data[8 + n + a:8 + n + b])
k = sys.argv[3]
g = ids("greedy." + k)[len(ids("input_ids." + k)):]
vocab = {v: s for s, v in json.load(open(sys.argv[2]))["model"]["vocab"].items()}
# GPT-2's byte-level alphabet: printable bytes stand for themselves,
# the others for 256, 257, ... in byte order
byte, m = {}, 0
for b in range(256):
    if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
        byte[chr(b)] = b
    else:
        byte[chr(256 + m)] = b
        m += 1
sys.stdout.buffer.write(bytes(byte[ch] for i in g for ch in vocab[i]))
PY
}

# cfgkey FILE KEY VALUE: the config record of FILE (stored as
# "key=value" lines; the record's binary header shares the first line,
# so only the end is anchored) holds KEY=VALUE.
cfgkey() {
	grep -a -q -e "$2=$3\$" "$1" || {
		echo "$1: no $2=$3"
		return 1
	}
}

# prompt K: the fixtures' prompt K (austen-llama-6m/reference.json; the
# layouts' references use the same prompts)
prompt() {
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[int(sys.argv[2])]["prompt"])' \
	    "$FIX/austen-llama-6m/reference.json" "$1"
}

# llamacpp_compare BNT GGUF: bnrun against llama.cpp (node-llama-cpp,
# tests/peers/llamacpp), greedy, 24 tokens after the fixture prompts
llamacpp_compare() {
	local peer=$ROOT/tests/peers/llamacpp
	if [ ! -d "$peer/node_modules/@node-llama-cpp/linux-x64" ]; then
		echo "node-llama-cpp is not installed (make deps installs it," \
		    "as root)" >&2
		return 1
	fi
	BN_BIN=$BIN "$peer/compare" "$@" 24
}

# serve ARGS...: bnserve -m "$MODEL" on a free port of 127.0.0.1, one
# thread; waits for its "listening" line; sets PORT and SPID, its stderr
# in $BATS_TEST_TMPDIR/err.  serve_stop (in teardown) kills it.
serve() {
	local i
	bnserve -m "$MODEL" --port 0 -t 1 "$@" \
	    2> "$BATS_TEST_TMPDIR/err" > /dev/null 3>&- &
	SPID=$!
	for i in $(seq 200); do
		PORT=$(sed -n 's|^bnserve: listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' \
		    "$BATS_TEST_TMPDIR/err")
		[ -n "$PORT" ] && return 0
		kill -0 $SPID 2> /dev/null || break
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/err"
	return 1
}

serve_stop() {
	if [ -n "${SPID:-}" ]; then
		kill -9 $SPID 2> /dev/null || true
		wait $SPID 2> /dev/null || true
	fi
}
