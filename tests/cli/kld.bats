#!/usr/bin/env bats
# bnrun --perplexity --kl-base: the KL-divergence report of a quantized
# model against its float base, cross-checked with NumPy
# (tests/peers/kld.py) from the logits bnrun --logits writes (issue 22).

load helper

# the NumPy of Debian's python3 (tests/deps.sh: python3-numpy)
PY3=/usr/bin/python3

setup_file() {
	export S=$BATS_FILE_TMPDIR
	bnpack -o "$S/base.bnt" "$FIX/austen-llama-6m"
	cp "$ROOT/models/austen-ternary.bnt" "$S/q.bnt"
	head -c 6000 "$ROOT/tests/fixtures/austen-val.txt" > "$S/t.txt"
	# the austen tokenizer cut to its first 300 tokens, as the austen
	# model's (4096 rows: padding) and as a new model's (300 rows)
	python3 - "$FIX/austen-llama-6m/tokenizer.json" "$S/tok300.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["model"]["vocab"] = {k: i for k, i in t["model"]["vocab"].items()
                       if i < 300}
v = t["model"]["vocab"]
t["model"]["merges"] = [m for m in t["model"]["merges"]
                        if all(x in v for x in m) and "".join(m) in v]
json.dump(t, open(sys.argv[2], "w"))
PY
	cp -r "$FIX/austen-llama-6m" "$S/pad"
	cp "$S/tok300.json" "$S/pad/tokenizer.json"
	bnpack -o "$S/pad.bnt" "$S/pad"
	# 300 rows, the tokenizer record of pad.bnt; and one made from
	# tok300.json alone, whose record has no bos_id
	for t in pad.bnt tok300.json; do
		bnquant --init llama --tokenizer "$S/$t" --hidden 64 \
		    --layers 1 --heads 2 --kv-heads 2 --ffn 128 --ctx 64 \
		    -o "$S/v300-${t%.*}.bnt" 2>/dev/null
	done
}

# kld MODEL [ARGS]: the report of MODEL against the base on t.txt, ctx 64
kld() {
	local m=$1
	shift
	bnrun -m "$m" --kl-base "$S/base.bnt" --perplexity "$S/t.txt" \
	    --ctx 64 -t 2 "$@"
}

@test "kld: a model against itself: KLD exactly 0, same top 100 %, the same perplexity" {
	run -0 kld "$S/base.bnt" --json
	$PY3 - "$output" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["windows"] == 25 and r["ctx"] == 64 and r["tokens"] == 1600, r
assert all(v == 0.0 for v in r["kld"].values()), r["kld"]
assert r["same_top_pct"] == {"mean": 100.0, "stderr": 0.0}, r
assert r["delta_p_pct"] == {"mean": 0.0, "stderr": 0.0}, r
assert r["base"] == r["model"] and r["base"]["nll"] > 3, r
PY
	run -0 kld "$S/base.bnt"
	[ "${lines[3]}" = "kld mean 0.000000 +- 0.000000" ]
	[ "${lines[5]}" = "same-top 100.0000 +- 0.0000 %" ]
}

@test "kld: the ternary model against its float base agrees with NumPy to 1e-6" {
	bnrun -m "$S/base.bnt" --perplexity "$S/t.txt" --ctx 64 -t 2 \
	    --logits "$BATS_TEST_TMPDIR/b.f32" >/dev/null
	bnrun -m "$S/q.bnt" --perplexity "$S/t.txt" --ctx 64 -t 2 \
	    --logits "$BATS_TEST_TMPDIR/q.f32" >/dev/null
	# windows x ctx x vocab float32
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/q.f32")" -eq $((25 * 64 * 4096 * 4)) ]
	bnrun -m "$S/q.bnt" --tokenize < "$S/t.txt" > "$BATS_TEST_TMPDIR/ids"
	$PY3 "$ROOT/tests/peers/kld.py" "$BATS_TEST_TMPDIR/b.f32" \
	    "$BATS_TEST_TMPDIR/q.f32" "$BATS_TEST_TMPDIR/ids" 64 4096 \
	    > "$BATS_TEST_TMPDIR/ref.json"
	kld "$S/q.bnt" --json > "$BATS_TEST_TMPDIR/bn.json"
	$PY3 - "$BATS_TEST_TMPDIR/ref.json" "$BATS_TEST_TMPDIR/bn.json" <<'PY'
import json, sys
ref, got = (json.load(open(p)) for p in sys.argv[1:3])
def flat(d, p=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, p + k + ".")
        else:
            yield p + k, v
ref, got = dict(flat(ref)), dict(flat(got))
assert ref.keys() == got.keys(), (ref.keys(), got.keys())
for k in ref:
    assert abs(got[k] - ref[k]) <= 1e-6 * abs(ref[k]), (k, got[k], ref[k])
# a real difference, not two zeros
assert ref["kld.mean"] > 0.1 and ref["same_top_pct.mean"] < 90, ref
PY
}

@test "kld: --json holds the numbers of the text report" {
	kld "$S/q.bnt" > "$BATS_TEST_TMPDIR/txt"
	kld "$S/q.bnt" --json > "$BATS_TEST_TMPDIR/json"
	$PY3 - "$BATS_TEST_TMPDIR/json" > "$BATS_TEST_TMPDIR/want" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k, s, d = r["kld"], r["same_top_pct"], r["delta_p_pct"]
print("windows %d ctx %d tokens %d" % (r["windows"], r["ctx"], r["tokens"]))
print("base  nll %.6f ppl %.4f" % (r["base"]["nll"], r["base"]["ppl"]))
print("model nll %.6f ppl %.4f" % (r["model"]["nll"], r["model"]["ppl"]))
print("kld mean %.6f +- %.6f" % (k["mean"], k["stderr"]))
print("kld median %.6f p90 %.6f p99 %.6f max %.6f" %
      (k["median"], k["p90"], k["p99"], k["max"]))
print("same-top %.4f +- %.4f %%" % (s["mean"], s["stderr"]))
print("delta-p %.4f +- %.4f %%" % (d["mean"], d["stderr"]))
PY
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/txt"
}

@test "kld: --max-kld is a gate: exit 1 above it, with one line, 0 below" {
	run -1 --separate-stderr kld "$S/q.bnt" --max-kld 0.1
	[[ $stderr =~ ^bnrun:\ mean\ KLD\ 0\.[0-9]{6}\ is\ above\ --max-kld\ 0\.1$ ]]
	[[ ${lines[3]} == "kld mean "* ]]
	run -0 --separate-stderr kld "$S/q.bnt" --max-kld 1
	[ -z "$stderr" ]
	run -0 kld "$S/base.bnt" --max-kld 0
	run -64 --separate-stderr bnrun -m "$S/q.bnt" --perplexity "$S/t.txt" --max-kld 1
	[ "${stderr_lines[0]}" = "bnrun: --max-kld needs --kl-base" ]
	run -64 --separate-stderr bnrun -m "$S/q.bnt" --kl-base "$S/base.bnt" -p a
	[ "${stderr_lines[0]}" = "bnrun: --kl-base and --logits need --perplexity" ]
	run -64 --separate-stderr kld "$S/q.bnt" --max-kld -1
}

@test "kld: models with different tokenizers or vocabularies are refused (65)" {
	# the same 4096 rows, a tokenizer of 300 tokens
	run -65 --separate-stderr kld "$S/pad.bnt"
	[ "$stderr" = "bnrun: $S/pad.bnt and $S/base.bnt have different tokenizers: 300 tokens against 4096" ]
	# the same tokenizer, 300 rows against 4096
	run -65 --separate-stderr bnrun -m "$S/v300-pad.bnt" --kl-base "$S/pad.bnt" \
	    --perplexity "$S/t.txt" --ctx 64
	[ "$stderr" = "bnrun: $S/v300-pad.bnt and $S/pad.bnt have different vocabulary sizes: 300 against 4096" ]
	# the tokenizer's metadata
	run -65 --separate-stderr bnrun -m "$S/pad.bnt" --kl-base "$S/v300-tok300.bnt" \
	    --perplexity "$S/t.txt" --ctx 64
	[ "$stderr" = "bnrun: $S/pad.bnt and $S/v300-tok300.bnt have different tokenizers: bos_id=0 against no bos_id" ]
	run -66 --separate-stderr kld "$S/q.bnt" --kl-base "$S/nope.bnt"
}

@test "kld: --perplexity --json without a base: one object of the text's numbers" {
	run -0 bnrun -m "$S/q.bnt" --perplexity "$S/t.txt" --ctx 64 -t 2
	[[ $output =~ ^windows\ 25\ ctx\ 64\ tokens\ 1600\ nll\ ([0-9.]+)\ ppl\ ([0-9.]+)$ ]]
	nll=${BASH_REMATCH[1]} ppl=${BASH_REMATCH[2]}
	run -0 bnrun -m "$S/q.bnt" --perplexity "$S/t.txt" --ctx 64 -t 2 --json
	$PY3 - "$output" "$nll" "$ppl" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert sorted(r) == ["ctx", "nll", "ppl", "tokens", "windows"], r
assert "%.6f" % r["nll"] == sys.argv[2] and "%.4f" % r["ppl"] == sys.argv[3], r
PY
}

@test "kld: --logits is never written over an input or to standard output" {
	cp "$S/q.bnt" "$BATS_TEST_TMPDIR/q.bnt"
	cp "$S/t.txt" "$BATS_TEST_TMPDIR/t.txt"
	for f in q.bnt t.txt; do
		run -64 --separate-stderr bnrun -m "$BATS_TEST_TMPDIR/q.bnt" \
		    --perplexity "$BATS_TEST_TMPDIR/t.txt" --ctx 64 \
		    --logits "$BATS_TEST_TMPDIR/$f"
		cmp "$BATS_TEST_TMPDIR/$f" "$S/$f"
	done
	run -64 --separate-stderr bnrun -m "$S/q.bnt" --kl-base "$S/base.bnt" \
	    --perplexity "$S/t.txt" --ctx 64 --logits "$S/base.bnt"
	run -64 --separate-stderr bnrun -m "$S/q.bnt" --perplexity "$S/t.txt" --logits -
	[ "${stderr_lines[0]}" = "bnrun: --logits: the report is on standard output; name a file" ]
}
