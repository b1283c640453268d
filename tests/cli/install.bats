#!/usr/bin/env bats
# make install / uninstall with PREFIX and DESTDIR; man finds the pages.

load helper

# the make of a test must not inherit make check's variables or job server
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEFILES

TOOLS="bnexport bnpack bnquant bnrun bnserve bnstat bnverify"

@test "make install puts every tool and page under DESTDIR/PREFIX" {
	d=$BATS_TEST_TMPDIR/stage
	run -0 make -C "$ROOT" -s install DESTDIR="$d" PREFIX=/opt/bn
	for t in $TOOLS; do
		[ -x "$d/opt/bn/bin/$t" ] || { echo "no bin/$t"; false; }
		run -0 "$d/opt/bn/bin/$t" --version
		[[ ${lines[0]} == "$t (bntools) "* ]]
	done
	for m in "$ROOT"/man/man*/*.[157]; do
		p=${m#"$ROOT"/man/}
		cmp "$m" "$d/opt/bn/share/man/$p" || { echo "no $p"; false; }
	done
	[ "$(ls "$d/opt/bn/bin" | wc -l)" -eq 7 ]
	run -0 make -C "$ROOT" -s uninstall DESTDIR="$d" PREFIX=/opt/bn
	for t in $TOOLS; do
		[ ! -e "$d/opt/bn/bin/$t" ]
	done
	[ -z "$(find "$d" -type f)" ]
}

@test "man finds the installed pages" {
	d=$BATS_TEST_TMPDIR/stage
	run -0 make -C "$ROOT" -s install DESTDIR="$d" PREFIX=/opt/bn
	for p in $TOOLS; do
		run -0 man -M "$d/opt/bn/share/man" -w "$p"
		[ "$output" = "$d/opt/bn/share/man/man1/$p.1" ]
	done
	run -0 man -M "$d/opt/bn/share/man" -w 5 bnt
	run -0 man -M "$d/opt/bn/share/man" -w 7 bntools
	MANPAGER=cat MANWIDTH=80 run -0 man -M "$d/opt/bn/share/man" bnquant
	[[ $output == *"quantize a model's projections"* ]]
}

@test "the default prefix is on man's default path" {
	d=$BATS_TEST_TMPDIR/stage
	run -0 make -C "$ROOT" -s install DESTDIR="$d"
	[ -f "$d/usr/local/share/man/man1/bnquant.1" ]
	[ -x "$d/usr/local/bin/bnquant" ]
	run -0 env -u MANPATH manpath
	[[ :$output: == *:/usr/local/share/man:* ]]
}

@test "the installed pages render" {
	for m in "$ROOT"/man/man*/*; do
		run -0 mandoc -Tascii "$m"
		[ "${#lines[@]}" -gt 20 ]
	done
}
