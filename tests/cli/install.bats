#!/usr/bin/env bats
# make install / uninstall with PREFIX and DESTDIR; man finds the pages.

load helper

@test "make install puts binaries and man pages under DESTDIR/PREFIX" {
	d=$BATS_TEST_TMPDIR/stage
	run -0 make -C "$ROOT" -s install DESTDIR="$d" PREFIX=/opt/bn
	[ -x "$d/opt/bn/bin/bnpack" ]
	[ -x "$d/opt/bn/bin/bnverify" ]
	for p in man1/bnpack.1 man1/bnverify.1 man5/bnt.5 man7/bntools.7; do
		[ -f "$d/opt/bn/share/man/$p" ]
	done
	run -0 "$d/opt/bn/bin/bnpack" --version
	[[ ${lines[0]} == "bnpack (bntools) "* ]]
	run -0 make -C "$ROOT" -s uninstall DESTDIR="$d" PREFIX=/opt/bn
	[ ! -e "$d/opt/bn/bin/bnpack" ]
	[ ! -e "$d/opt/bn/share/man/man5/bnt.5" ]
}

@test "the installed pages render" {
	for m in "$ROOT"/man/man*/*; do
		run -0 mandoc -Tascii "$m"
		[ "${#lines[@]}" -gt 20 ]
	done
}
