#!/usr/bin/env bats
# bnstat(1): tensor report, --stability, --ber; known answers, formats,
# gates, exit status and diagnostics.

load helper

setup_file() {
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/flips"
	"$BUILDDIR/tests/mkflips" "$d/flips"
	bnpack -o "$d/tiny.bnt" "$FIX/bitnet-tiny"
	bnpack -o "$d/tiny-bf16.bnt" "$FIX/bitnet-tiny-bf16"
	bnquant -q ternary -o "$d/tiny-ptq.bnt" "$d/tiny-bf16.bnt"
	head -c 4000 "$ROOT/tests/fixtures/austen-val.txt" > "$d/val.txt"
}

# csvget ROW COLUMN: the cell of a CSV read on stdin, the row found by
# its first field and the column by its header
csvget() {
	awk -F, -v r="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++)
	    if ($i == c) k = i; next } $1 == r { print $k }'
}

F=
setup() {
	F=$BATS_FILE_TMPDIR/flips
	T=$BATS_FILE_TMPDIR
}

@test "--help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr bnstat --help
	[[ ${lines[0]} == "usage: bnstat "* ]]
	[ -z "$stderr" ]
}

@test "usage errors exit 64 with the usage line" {
	run -64 --separate-stderr bnstat --no-such-option
	[ -z "$output" ]
	[[ ${stderr_lines[0]} == "bnstat: "* ]]
	run -64 --separate-stderr bnstat --stability "$F/pair-a.t2.bnt"
	[ "${stderr_lines[0]}" = "bnstat: --stability: two or more checkpoints are needed" ]
	run -64 --separate-stderr bnstat --ber "$T/tiny.bnt"
	[ "${stderr_lines[0]}" = "bnstat: --ber: one model and --data are needed" ]
	run -64 --separate-stderr bnstat --max-ber 0.1 "$T/tiny.bnt"
	run -64 --separate-stderr bnstat --min-stability 2 --stability a b
	[ "${stderr_lines[0]}" = "bnstat: --min-stability: invalid value '2'" ]
	run -64 --separate-stderr bnstat --ber --data x --tokens 0 m
	[ "${stderr_lines[0]}" = "bnstat: --tokens: invalid count '0'" ]
}

@test "a missing input exits 66 naming it; a bad stream 65 in one line" {
	run -66 --separate-stderr bnstat nope.bnt
	[ "$stderr" = "bnstat: nope.bnt: No such file or directory" ]
	run -65 --separate-stderr bnstat "$BAD/bnt-bad-magic.bnt"
	[ ${#stderr_lines[@]} -eq 1 ]
	[[ $stderr == "bnstat: $BAD/bnt-bad-magic.bnt: "* ]]
	run -65 --separate-stderr bnstat --stability "$F/pair-a.t2.bnt" \
	    "$BAD/bnt-bad-magic.bnt"
	[ ${#stderr_lines[@]} -eq 1 ]
	run -66 --separate-stderr bnstat --ber --data nope.txt "$T/tiny.bnt"
	[ "$stderr" = "bnstat: nope.txt: No such file or directory" ]
}

@test "the corruption corpus: every damaged stream exits 65 in one line" {
	n=0
	for f in "$BAD"/bnt-*.bnt; do
		run --separate-stderr bnstat "$f"
		[ "$status" -eq 65 ] || { echo "$f: exit $status" >&2; false; }
		[ ${#stderr_lines[@]} -eq 1 ]
		[[ $stderr == "bnstat: $f: "* ]]
		n=$((n + 1))
	done
	[ "$n" -ge 30 ]
	run -65 --separate-stderr bnstat "$BAD/inv-ternary-code.bnt"
	[ "$stderr" = "bnstat: $BAD/inv-ternary-code.bnt: tensor 'w.t2': invalid packed code" ]
	run -0 --separate-stderr bnstat "$BAD/inv-nan.bnt"
	[ "$stderr" = "bnstat: $BAD/inv-nan.bnt: warning: tensor 'v.f32' contains NaN" ]
	run -0 --separate-stderr bnstat "$BAD/inv-zero-scale.bnt"
}

@test "several operands: a bad one is reported, the others still are" {
	run -66 --separate-stderr bnstat "$F/pair-a.t2.bnt" nope.bnt \
	    "$F/pair-b.t2.bnt"
	[ "$stderr" = "bnstat: nope.bnt: No such file or directory" ]
	[ "$(grep -c attn_q.weight <<< "$output")" -eq 2 ]
	run -65 --separate-stderr bnstat "$BAD/inv-ternary-code.bnt" \
	    "$F/pair-b.t2.bnt"
	[ "$(grep -c attn_q.weight <<< "$output")" -eq 1 ]
}

@test "report: packed shares and scale; float projections coded as the loader does" {
	run -0 bnstat --csv "$T/tiny.bnt"
	[ "${lines[0]}" = "file,name,dtype,shape,count,mean,std,min,max,neg,zero,pos,scale,near" ]
	row=$(grep ',blk.0.attn_q.weight,' <<< "$output")
	IFS=, read -r _ _ dt shape n _ _ _ _ neg zero pos scale near <<< "$row"
	[ "$dt" = t2 ] && [ "$shape" = 256x256 ] && [ "$n" = 65536 ]
	awk -v a="$neg" -v b="$zero" -v c="$pos" \
	    'BEGIN { exit !(a + b + c > 0.9999999 && a + b + c < 1.0000001) }'
	[ -z "$near" ]
	# the same weights as float masters: the shares of the codes the
	# absmean quantizer gives are those of the packed checkpoint
	run -0 bnstat --csv "$T/tiny-bf16.bnt"
	row2=$(grep ',blk.0.attn_q.weight,' <<< "$output")
	IFS=, read -r _ _ dt2 _ _ _ _ _ _ neg2 zero2 pos2 _ near2 <<< "$row2"
	[ "$dt2" = bf16 ]
	[ "$neg2 $zero2 $pos2" = "$neg $zero $pos" ]
	awk -v x="$near2" 'BEGIN { exit !(x > 0.01 && x < 0.2) }'
	# norms have no codes
	grep -q ',blk.0.attn_norm.weight,bf16,256,256,1,0,1,1,,,,,$' <<< "$output"
}

@test "report: optimizer tensors are ignored; concatenated streams on stdin" {
	run -0 pipefail "cat '$F/pair-a.t2.bnt' '$F/pair-b.f32.bnt' | bnstat"
	[ "$(grep -c '^<stdin> ' <<< "$output")" -eq 6 ]
	! grep -q optim <<< "$output"
}

@test "report --hist: 120 bins of 0.05 on [-3, 3] per latent tensor" {
	run -0 bnstat --hist --csv "$T/tiny-bf16.bnt"
	[ "${lines[0]}" = "file,name,bin_lo,bin_hi,count" ]
	[ "$(grep -c ',blk.0.attn_q.weight,' <<< "$output")" -eq 120 ]
	sum=$(grep ',blk.0.attn_q.weight,' <<< "$output" |
	    awk -F, '{ s += $5 } END { print s }')
	[ "$sum" -gt 60000 ] && [ "$sum" -le 65536 ]
	grep -q ',blk.0.attn_q.weight,-0.5,-0.45,' <<< "$output"
	# several files: one table, one header
	run -0 bnstat --hist --csv "$T/tiny-bf16.bnt" "$F/pair-a.f32.bnt"
	[ "$(grep -c '^file,' <<< "$output")" -eq 1 ]
	[ "${#lines[@]}" -eq $((1 + 120 * 16)) ]
}

@test "stability: a checkpoint against itself is 1 with no flips" {
	run -0 bnstat --stability --csv "$F/pair-a.t2.bnt" "$F/pair-a.t2.bnt"
	[ "$(csvget '(all)' stability <<< "$output")" = 1 ]
	[ "$(csvget '(all)' flip_rate <<< "$output")" = 0 ]
	[ "$(csvget '(all)' scale_drift <<< "$output")" = 1 ]
	run -0 --separate-stderr bnstat --stability --csv "$T/tiny.bnt" \
	    "$T/tiny.bnt" "$T/tiny.bnt"
	[ "$(csvget '(all)' stability <<< "$output")" = 1 ]
	[ "$(csvget '(all)' never_flipped <<< "$output")" = 1 ]
	[ "$(csvget '(all)' osc_ema <<< "$output")" = 0 ]
}

@test "stability: a constructed pair with counted soft and hard flips" {
	for ext in t2 f32; do
		run -0 bnstat --stability --csv "$F/pair-a.$ext.bnt" \
		    "$F/pair-b.$ext.bnt"
		q=blk.0.attn_q.weight u=blk.0.ffn_up.weight
		# attn_q: 60 soft, 12 hard of 1024; ffn_up: 8 soft of 256
		[ "$(csvget $q flip_rate <<< "$output")" = 0.0703125 ]
		[ "$(csvget $q soft <<< "$output")" = 0.05859375 ]
		[ "$(csvget $q hard <<< "$output")" = 0.01171875 ]
		[ "$(csvget $q stability <<< "$output")" = 0.9296875 ]
		[ "$(csvget $q m_nz <<< "$output")" = 0.009765625 ]	# 10
		[ "$(csvget $q m_zp <<< "$output")" = 0.01953125 ]	# 20
		[ "$(csvget $q m_pz <<< "$output")" = 0.029296875 ]	# 30
		[ "$(csvget $q m_np <<< "$output")" = 0.0048828125 ]	# 5
		[ "$(csvget $q m_pn <<< "$output")" = 0.0068359375 ]	# 7
		[ "$(csvget $u flip_rate <<< "$output")" = 0.03125 ]
		[ "$(csvget $u m_zn <<< "$output")" = 0.03125 ]
		# weighted 80 / 1280; plain mean (72/1024 + 8/256) / 2
		[ "$(csvget '(all)' flip_rate <<< "$output")" = 0.0625 ]
		[ "$(csvget '(mean)' flip_rate <<< "$output")" = 0.05078125 ]
		# fewer than three checkpoints: no run statistics
		[ -z "$(csvget '(all)' flips_per_1k <<< "$output")" ]
	done
	# divisor 2 then 2.5: a code of 1 is worth 0.5, then 0.4
	run -0 bnstat --stability --csv "$F/pair-a.t2.bnt" "$F/pair-b.t2.bnt"
	[ "$(csvget $q scale_drift <<< "$output")" = 0.8 ]
}

@test "stability: binary codes, packed (b1) or float with train.quant=binary" {
	q=blk.0.attn_q.weight
	for ext in b1 f32; do
		run -0 bnstat --stability --csv "$F/bin-a.$ext.bnt" \
		    "$F/bin-b.$ext.bnt"
		[ "$(csvget $q flip_rate <<< "$output")" = 0.01953125 ]	# 20
		[ "$(csvget $q hard <<< "$output")" = 0.01953125 ]
		[ "$(csvget $q soft <<< "$output")" = 0 ]
		[ "$(csvget $q m_np <<< "$output")" = 0.0087890625 ]	# 9
		[ "$(csvget $q m_pn <<< "$output")" = 0.0107421875 ]	# 11
		[ "$(csvget $q m_zz <<< "$output")" = 0 ]
	done
	# -q overrides train.quant: ternary codes of the same floats
	run -0 bnstat --stability --csv -q ternary "$F/bin-a.f32.bnt" \
	    "$F/bin-b.f32.bnt"
	[ "$(csvget $q hard <<< "$output")" = 0.01953125 ]
	run -0 bnstat --csv "$F/bin-a.f32.bnt"
	[[ $(grep attn_q <<< "$output") == *,0.5,0,0.5,0.5,* ]]
}

@test "stability: a three-checkpoint oscillation" {
	run -0 --separate-stderr bnstat --stability --csv "$F/osc-0.t2.bnt" \
	    "$F/osc-1.t2.bnt" "$F/osc-2.t2.bnt"
	[ -z "$stderr" ]
	q=blk.0.attn_q.weight
	# 58 flips and 18 oscillations of 1024 weights over 200 steps
	[ "$(csvget $q flip_rate <<< "$output")" = 0.0283203125 ]
	[ "$(csvget $q hard <<< "$output")" = 0.005859375 ]
	[ "$(csvget $q flips_per_1k <<< "$output")" = 0.283203125 ]
	[ "$(csvget $q osc_per_1k <<< "$output")" = 0.087890625 ]
	[ "$(csvget $q osc_share <<< "$output")" = 0.017578125 ]
	# EMA with m = 0.01: 0.01 after one oscillation, 18 of 1024
	awk -v f="$(csvget $q osc_ema <<< "$output")" \
	    'BEGIN { exit !(f > 0.00017578 && f < 0.00017579) }'	# f32 EMA
	[ "$(csvget $q never_flipped <<< "$output")" = 0.969726562 ]	# 993/1024, 9 digits
	[ "$(csvget $q stability_first_last <<< "$output")" = 0.987304688 ]	# 1011/1024
	run -0 bnstat --stability --hist --csv "$F/osc-0.t2.bnt" \
	    "$F/osc-1.t2.bnt" "$F/osc-2.t2.bnt"
	grep -qx "$q,0,0,993" <<< "$output"
	grep -qx "$q,1,1,4" <<< "$output"
	grep -qx "$q,2,2,27" <<< "$output"
	grep -qx "blk.0.ffn_up.weight,0,0,256" <<< "$output"
	# --momentum 0.5: f = 0.5 for the 18
	run -0 bnstat --stability --csv --momentum 0.5 "$F/osc-0.t2.bnt" \
	    "$F/osc-1.t2.bnt" "$F/osc-2.t2.bnt"
	[ "$(csvget $q osc_ema <<< "$output")" = 0.0087890625 ]
}

@test "stability: without train.step, equally spaced checkpoints, said on stderr" {
	run -0 --separate-stderr bnstat --stability --csv "$F/osc-0.f32.bnt" \
	    "$F/osc-1.f32.bnt" "$F/osc-2.f32.bnt"
	[ "$stderr" = "bnstat: warning: no increasing train.step in the checkpoints; assuming equally spaced checkpoints, one step apart" ]
	# 58 flips / 1024 weights / 2 steps * 1000
	[ "$(csvget blk.0.attn_q.weight flips_per_1k <<< "$output")" = 28.3203125 ]
}

@test "stability: bitnet-tiny against its float masters, raw and after bnquant, is exactly 1" {
	run -0 bnstat --stability --csv "$T/tiny.bnt" "$T/tiny-ptq.bnt"
	[ "$(csvget '(all)' stability <<< "$output")" = 1 ]
	[ "$(csvget '(all)' n <<< "$output")" = 1507328 ]
	[ "$(grep -c '^blk' <<< "$output")" -eq 14 ]
	run -0 bnstat --stability --csv "$T/tiny.bnt" "$T/tiny-bf16.bnt"
	[ "$(csvget '(all)' stability <<< "$output")" = 1 ]
	[ "$(csvget '(mean)' stability <<< "$output")" = 1 ]
}

@test "stability: checkpoints that do not match are refused (65)" {
	run -65 --separate-stderr bnstat --stability "$F/pair-a.t2.bnt" \
	    "$F/bin-b.b1.bnt"
	[ "$stderr" = "bnstat: $F/bin-b.b1.bnt: tensor 'blk.0.ffn_up.weight' is missing" ]
	run -65 --separate-stderr bnstat --stability "$F/bin-a.b1.bnt" \
	    "$F/pair-b.t2.bnt"
	[ "$stderr" = "bnstat: $F/pair-b.t2.bnt: tensor 'blk.0.ffn_up.weight' is not in the first checkpoint" ]
	run -65 --separate-stderr bnstat --stability "$T/tiny.bnt" \
	    "$F/pair-a.t2.bnt"
}

@test "--min-stability: exit 1 naming each tensor below it" {
	run -1 --separate-stderr bnstat --stability --min-stability 0.95 \
	    "$F/pair-a.t2.bnt" "$F/pair-b.t2.bnt"
	[ "$stderr" = "bnstat: blk.0.attn_q.weight: stability 0.929688 below 0.95" ]
	[ -n "$output" ]
	run -0 bnstat --stability --min-stability 0.9 "$F/pair-a.t2.bnt" \
	    "$F/pair-b.t2.bnt"
	run -0 bnstat --stability --min-stability 1 "$T/tiny.bnt" \
	    "$T/tiny-bf16.bnt"
}

@test "ber: a model against itself with the quantizers off is 0 everywhere" {
	run -0 bnstat --ber --no-quant --csv --data "$T/val.txt" --tokens 64 \
	    "$T/tiny-bf16.bnt"
	[ "${lines[0]}" = "site,layer,dim,n,ber_sign,cer_int8,ber_bit,cosine,rel_mse,sqnr_db,absmax_mean" ]
	[ "${#lines[@]}" -eq 14 ]	# header, embed, 2 x 5, final, (all)
	for s in embed blk.0.o_in blk.1.down_in final '(all)'; do
		[ "$(csvget "$s" ber_sign <<< "$output")" = 0 ]
		[ "$(csvget "$s" cer_int8 <<< "$output")" = 0 ]
		[ "$(csvget "$s" ber_bit <<< "$output")" = 0 ]
		[ "$(csvget "$s" rel_mse <<< "$output")" = 0 ]
		[ "$(csvget "$s" sqnr_db <<< "$output")" = inf ]
	done
	[ "$(csvget '(all)' n <<< "$output")" = $((64 * (256 * 10 + 768 * 2))) ]
	# more tokens than a window (256): 256 + 256 + 88, every one counted
	run -0 bnstat --ber --no-quant --csv --data "$T/val.txt" --tokens 600 \
	    "$T/tiny-bf16.bnt"
	[ "$(csvget '(all)' n <<< "$output")" = $((600 * (256 * 10 + 768 * 2))) ]
	[ "$(csvget '(all)' ber_sign <<< "$output")" = 0 ]
}

@test "ber: quantizers on, against an independent Python computation" {
	ids=$(bnrun -m "$T/tiny-bf16.bnt" --tokenize < "$T/val.txt" |
	    tr ' ' '\n' | head -n 24)
	python3 "$ROOT/tests/peers/ber.py" "$FIX/bitnet-tiny-bf16" $ids \
	    > "$T/peer.txt"
	[ "$(wc -l < "$T/peer.txt")" -eq 12 ]
	bnstat --ber --csv --data "$T/val.txt" --tokens 24 "$T/tiny-bf16.bnt" \
	    > "$T/ber.csv"
	# sign, code and bit error rates within 0.003 (a few int8 near-ties
	# round differently in double precision), cosine and rel. MSE 0.003
	awk -F, 'NR == FNR { s[$1] = $5; c[$1] = $6; b[$1] = $7;
	    cs[$1] = $8; m[$1] = $9; next }
	    { split($0, p, " "); site = p[1]; n++
	      if (!(site in s)) { print "no site " site; bad = 1 }
	      d = s[site] - p[2]; if (d < 0) d = -d; if (d > 0.003) bad = 1
	      d = c[site] - p[3]; if (d < 0) d = -d; if (d > 0.003) bad = 1
	      d = b[site] - p[4]; if (d < 0) d = -d; if (d > 0.003) bad = 1
	      d = cs[site] - p[5]; if (d < 0) d = -d; if (d > 0.003) bad = 1
	      d = m[site] - p[6]; if (d < 0) d = -d; if (d > 0.003) bad = 1
	      if (bad) { print site ": " $0 " vs " s[site], c[site], b[site],
	          cs[site], m[site]; exit 1 } }
	    END { exit bad || n != 12 }' "$T/ber.csv" "$T/peer.txt"
	# and not trivially: the quantizers change the activations
	[ "$(csvget blk.0.qkv_in ber_sign < "$T/ber.csv")" = 0 ]
	awk -F, '$1 == "blk.0.o_in" { exit !($5 > 0.05) }' "$T/ber.csv"
}

@test "ber: --ref names the float reference; shapes must agree" {
	run -0 bnstat --ber --csv --data "$T/val.txt" --tokens 16 \
	    --ref "$T/tiny-bf16.bnt" "$T/tiny.bnt"
	awk -F, '$1 == "blk.1.out" { exit !($5 > 0 && $8 > 0 && $8 < 1) }' \
	    <<< "$output"
	run -65 --separate-stderr bnstat --ber --data "$T/val.txt" \
	    --ref "$T/tiny.bnt" "$F/pair-a.t2.bnt"
	[ ${#stderr_lines[@]} -eq 1 ]
}

@test "--max-ber: exit 1 naming each site above it" {
	run -1 --separate-stderr bnstat --ber --max-ber 0.15 \
	    --data "$T/val.txt" --tokens 16 "$T/tiny-bf16.bnt"
	[[ ${stderr_lines[0]} == "bnstat: blk.0."*": sign BER "*" above 0.15" ]]
	run -0 --separate-stderr bnstat --ber --max-ber 1 --data "$T/val.txt" \
	    --tokens 16 "$T/tiny-bf16.bnt"
	run -0 bnstat --ber --no-quant --max-ber 0 --data "$T/val.txt" \
	    --tokens 16 "$T/tiny-bf16.bnt"
}

@test "ber --hist: per-token absmax histogram, one count per token and site" {
	run -0 bnstat --ber --hist --csv --data "$T/val.txt" --tokens 20 \
	    "$T/tiny-bf16.bnt"
	[ "${lines[0]}" = "site,bin_lo,bin_hi,count" ]
	[ "$(grep '^blk.0.o_in,' <<< "$output" |
	    awk -F, '{ s += $4 } END { print s }')" -eq 20 ]
	[ "$(grep '^(all),' <<< "$output" |
	    awk -F, '{ s += $4 } END { print s }')" -eq 240 ]
}

@test "--json: JSON Lines with the same keys on every row; --csv parses" {
	for mode in "" "--stability $F/osc-0.t2.bnt $F/osc-1.t2.bnt" \
	    "--ber --data $T/val.txt --tokens 8"; do
		bnstat --json $mode "$F/osc-2.t2.bnt" > "$T/out.jsonl" 2>/dev/null ||
		    bnstat --json $mode "$T/tiny-bf16.bnt" > "$T/out.jsonl"
		python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows and all(list(r) == list(rows[0]) for r in rows), "keys"
' "$T/out.jsonl"
	done
	bnstat --stability --csv "$F/osc-0.t2.bnt" "$F/osc-1.t2.bnt" \
	    "$F/osc-2.t2.bnt" > "$T/out.csv"
	python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert len(rows) == 5 and all(len(r) == len(rows[0]) for r in rows)
assert float(rows[1][2]) == 58 / 2048
' "$T/out.csv"
}

@test "--svg: well-formed SVG with titles and axis labels, in every mode" {
	bnstat --svg "$T/r.svg" "$T/tiny-bf16.bnt" > /dev/null
	bnstat --stability --svg "$T/s.svg" "$F/osc-0.t2.bnt" \
	    "$F/osc-1.t2.bnt" "$F/osc-2.t2.bnt" > /dev/null
	bnstat --ber --svg "$T/b.svg" --data "$T/val.txt" --tokens 16 \
	    "$T/tiny-bf16.bnt" > /dev/null
	for f in r s b; do
		python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg"
texts = [t.text or "" for t in root.iter(ns + "text")]
assert root.find(ns + "title") is not None
assert len(list(root.iter(ns + "rect"))) > 5
assert any("share" in t or "rate" in t for t in texts), texts
' "$T/$f.svg"
	done
	grep -q 'Flip curve' "$T/s.svg"
	grep -q 'absmean scale units' "$T/r.svg"
	grep -q 'log2 of the per-token absmax' "$T/b.svg"
}

@test "--svg: headless Chromium draws it" {
	chrome=$(command -v chromium || command -v chromium-browser || true)
	[ -n "$chrome" ] || skip "no chromium"
	bnstat --stability --svg "$T/s.svg" "$F/osc-0.t2.bnt" \
	    "$F/osc-1.t2.bnt" "$F/osc-2.t2.bnt" > /dev/null
	timeout 120 "$chrome" --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$T/chrome" --screenshot="$T/s.png" \
	    --window-size=900,1000 "file://$T/s.svg" 2>/dev/null
	# a PNG, and more than one colour: the bars and text were drawn
	python3 -c '
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
w, h, depth, ctype = struct.unpack(">IIBB", b[16:26])
data, i = b"", 8
while i < len(b):
    n, = struct.unpack(">I", b[i:i + 4]); t = b[i + 4:i + 8]
    if t == b"IDAT": data += b[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(data)
assert len(set(raw[1:1 + 200000])) > 10, "blank image"
' "$T/s.png"
}
