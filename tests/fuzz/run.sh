#!/bin/sh
# run.sh SECONDS BUILD TARGET...: make fuzz's driver.  Runs each
# libFuzzer target for SECONDS on its corpus (BUILD/corpus/NAME, kept
# between runs, seeded by mkseeds.py), as many at once as there are
# CPUs, prints one line per target with
# its executions and crashes, and closes with "N passed, N failed" (a
# target passes when it ran without a crash).  A crashing input is left
# as BUILD/crash/NAME-*; exits non-zero if any target crashed.
set -u
secs=$1
build=$2
shift 2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 1)
seeds=$build/seeds
rm -rf "$seeds"
python3 "$(dirname "$0")/mkseeds.py" "$seeds" || exit 1
mkdir -p "$build/crash"
# one TARGET: run it into $tmp/NAME.{log,rc}
one() {
	name=${1##*/fz_}
	corpus=$build/corpus/$name
	mkdir -p "$corpus" "$seeds/$name"
	# tokenizer.json: small inputs only (a full vocabulary costs some
	# ms per execution; the hand-built seeds reach the same code)
	case $name in
	tokenizer) maxlen=8192 ;;
	*) maxlen=1048576 ;;
	esac
	# -rss_limit_mb: an input that makes a parser allocate more than
	# that is a finding ("out-of-memory (malloc(N))"), as is a 20 s input
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$1" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
	    -max_len=$maxlen -print_final_stats=1 -close_fd_mask=1 \
	    -artifact_prefix="$build/crash/$name-" \
	    "$corpus" "$seeds/$name" >"$tmp/$name.log" 2>&1
	echo $? >"$tmp/$name.rc"
}
# as many targets at once as there are CPUs, each for SECONDS
n=0
for t in "$@"; do
	one "$t" &
	n=$((n + 1))
	[ "$n" -lt "$jobs" ] || { wait; n=0; }
done
wait
for t in "$@"; do
	name=${t##*/fz_}
	rc=$(cat "$tmp/$name.rc")
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "$tmp/$name.log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		crashes=0
		pass=$((pass + 1))
	else
		crashes=1
		fail=$((fail + 1))
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' \
		    "$tmp/$name.log" | head -n 20
	fi
	echo "fuzz $name: ${execs:-0} executions, $crashes crashes" \
	    "(${secs} s, corpus $(ls "$build/corpus/$name" | wc -l))"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
