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
