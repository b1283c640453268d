#!/usr/bin/env bats
# bnrun(1) --bench --depth: the tests after N tokens in the KV cache;
# --parallel: generation for N sequences a step, as bnserve batches; and
# the physical limit: bytes read per generated token, the measured memory
# bandwidth and the share of it that generation reaches.  No timing is
# asserted: only the forms of the lines and the byte counts.

load helper

setup_file() {
	export S=$BATS_FILE_TMPDIR
	# tied: token_embd is the head
	bnpack -o "$S/tiny.bnt" "$FIX/bitnet-tiny"
	# untied: an output.weight of its own; 2 layers, 2 KV heads of 16
	bnquant --init llama --tokenizer "$FIX/tokenizer/tokenizer.json" \
	    --hidden 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 \
	    --ctx 512 -o "$S/init.bnt"
}

# weights MODEL q8|keep: the bytes a token reads from the weights, from
# bnpack -l: every tensor (a projection as it is bound), one row of
# token_embd unless it is the head,
# and an int8 head (a byte a weight and a float scale a row) for q8
weights() {
	bnpack -l "$1" | awk -v q8="$2" '
	NR > 1 {
		b[$1] = $4; s[$1] = $3
		# a float projection (BitLinear) is read ternarized at load:
		# t2 rows of whole 128-element blocks and a scale a row
		if ($1 ~ /^blk\.[0-9]+\.(attn_(q|k|v|output)|ffn_(gate|up|down))\.weight$/ &&
		    $2 ~ /^(f32|f16|bf16)$/) {
			split($3, d, "x")
			tot += d[1] * (int((d[2] + 127) / 128) * 32 + 4)
		} else
			tot += $4
	}
	END {
		split(s["token_embd.weight"], e, "x")
		tied = !("output.weight" in b)
		hd = tied ? "token_embd.weight" : "output.weight"
		split(s[hd], h, "x")
		if (q8 == "q8") {
			tot -= b[hd]
			if (!tied)
				tot -= b["token_embd.weight"]
			tot += b["token_embd.weight"] / e[1]
			tot += h[1] * (h[2] + 4)
		} else if (!tied)
			tot += b["token_embd.weight"] / e[1] - \
			    b["token_embd.weight"]
		printf "%d\n", tot
	}'
}

# json KEY: a number from the --json line in $output
json() {
	[[ $output =~ \"$1\":([0-9.]+) ]]
	echo "${BASH_REMATCH[1]}"
}

@test "--depth: parsed, only with --bench, a count" {
	run -64 --separate-stderr bnrun -m "$S/tiny.bnt" -p a --depth 8
	[ "${stderr_lines[0]}" = "bnrun: --depth needs --bench" ]
	run -64 --separate-stderr bnrun -m "$S/tiny.bnt" --bench --depth x
	[ "${stderr_lines[0]}" = "bnrun: --depth: invalid count 'x'" ]
	run -0 bnrun --help
	[[ $output == *"--depth N        --bench: tokens in the KV cache"* ]]
}

@test "--depth + --tg or --pp over the context: exit 64, naming both" {
	# the model's context: 512
	run -64 --separate-stderr bnrun -m "$S/init.bnt" --bench --pp 8 \
	    --tg 16 --depth 500 -t 1
	[ "$stderr" = "bnrun: --depth 500 + --tg 16 is over the context of 512" ]
	[ -z "$output" ]
	run -64 --separate-stderr bnrun -m "$S/init.bnt" --bench --pp 32 \
	    --tg 8 --depth 490 -t 1
	[ "$stderr" = "bnrun: --depth 490 + --pp 32 is over the context of 512" ]
	# --ctx sets the limit
	run -64 --separate-stderr bnrun -m "$S/init.bnt" --bench --pp 8 \
	    --tg 8 --depth 40 --ctx 47 -t 1
	[ "$stderr" = "bnrun: --depth 40 + --tg 8 is over the context of 47" ]
	# exactly full is fine
	run -0 bnrun -m "$S/init.bnt" --bench --pp 8 --tg 8 --depth 504 -t 1
}

@test "--depth: every line carries it; without it the table keeps its form" {
	run -0 bnrun -m "$S/init.bnt" --bench --pp 16 --tg 4 --depth 64 -t 1
	[ "${#lines[@]}" -eq 6 ]
	[[ ${lines[1]} =~ ^\|\ .{24}\ \|\ +[0-9.]+\ MiB\ \|\ +[a-z0-9]+\ \|\ +1\ \|\ pp16\ @\ d64\ \|\ +[0-9.]+\ \|$ ]]
	[[ ${lines[2]} =~ ^\|\ .{24}\ \|.*\|\ tg4\ @\ d64\ \|\ +[0-9.]+\ \|$ ]]
	[[ ${lines[3]} =~ ^bytes/token:\ [0-9]+\ weights\ \+\ [0-9]+\ KV\ cache\ =\ [0-9]+\ \(tg4\ @\ d64\)$ ]]
	[[ ${lines[4]} =~ ^memory\ read:\ [0-9.]+\ GB/s\ with\ 1\ thread\ \(256\ MiB,\ best\ of\ 5\)\;\ tg4\ @\ d64\ reads\ [0-9.]+\ GB/s,\ [0-9.]+%\ of\ it$ ]]
	cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
	[ "${lines[5]}" = "cpu: ${cpu:-unknown}" ]
	run -0 bnrun -m "$S/init.bnt" --bench --pp 16 --tg 4 --depth 0 -t 1
	[[ ${lines[2]} == *"| tg4 @ d0 |"* ]]
	# no --depth: the table lines as before
	run -0 bnrun -m "$S/init.bnt" --bench --pp 16 --tg 4 -t 1
	[ "${lines[0]}" = "| model                    |       size | kernels | threads |     test |        t/s |" ]
	[[ ${lines[1]} =~ ^\|\ .{24}\ \|\ +[0-9.]+\ MiB\ \|\ +[a-z0-9]+\ \|\ +1\ \|\ +pp16\ \ \|\ +[0-9.]+\ \|$ ]]
	[[ ${lines[2]} =~ \|\ +tg4\ \ \ \|\ +[0-9.]+\ \|$ ]]
	[[ ${lines[3]} == "bytes/token: "*" = "*" (tg4)" ]]
	run -0 bnrun -m "$S/init.bnt" --bench --pp 16 --tg 4 -t 1 --json
	[[ $output =~ ^\{\"model\":\"[^\"]*init.bnt\",\"size\":[0-9]+,\"threads\":1,\"kernels\":\"[a-z0-9]+\",\"pp\":16,\"pp_tps\":[0-9.]+,\"tg\":4,\"tg_tps\":[0-9.]+,\"weight_bytes\" ]]
	[[ $output != *'"depth"'* ]]
	run -0 bnrun -m "$S/init.bnt" --bench --pp 16 --tg 4 -t 1 --json --depth 32
	[[ $output == *',"tg_tps":'*',"depth":32,"weight_bytes":'* ]]
}

@test "bytes/token: the weights a token reads plus the KV cache at the depth" {
	# untied, as stored: 2 * 2 layers * 100 * 2 KV heads * 16 * 4 bytes
	run -0 bnrun -m "$S/init.bnt" --bench --pp 8 --tg 4 --depth 100 \
	    --head keep -t 1 --json
	w=$(weights "$S/init.bnt" keep)
	[ "$(json weight_bytes)" = "$w" ]
	[ "$(json kv_bytes)" = $((2 * 2 * 100 * 2 * 16 * 4)) ]
	[ "$(json bytes_per_token)" = $((w + 2 * 2 * 100 * 2 * 16 * 4)) ]
	# untied, an int8 head
	run -0 bnrun -m "$S/init.bnt" --bench --pp 8 --tg 4 --depth 100 \
	    --head q8 -t 1 --json
	[ "$(json weight_bytes)" = "$(weights "$S/init.bnt" q8)" ]
	# tied (the head reads all of token_embd), as stored and int8; the
	# KV cache from its config: layers, KV heads, head size
	L=$(grep -o '"num_hidden_layers": *[0-9]*' "$FIX/bitnet-tiny/config.json" | grep -o '[0-9]*$')
	H=$(grep -o '"num_key_value_heads": *[0-9]*' "$FIX/bitnet-tiny/config.json" | grep -o '[0-9]*$')
	N=$(grep -o '"num_attention_heads": *[0-9]*' "$FIX/bitnet-tiny/config.json" | grep -o '[0-9]*$')
	D=$(grep -o '"hidden_size": *[0-9]*' "$FIX/bitnet-tiny/config.json" | grep -o '[0-9]*$')
	run -0 bnrun -m "$S/tiny.bnt" --bench --pp 8 --tg 4 --depth 50 \
	    --head keep -t 1 --json
	w=$(weights "$S/tiny.bnt" keep)
	[ "$w" = "$(bnpack -l "$S/tiny.bnt" | awk 'NR > 1 { t += $4 } END { print t }')" ]
	[ "$(json weight_bytes)" = "$w" ]
	[ "$(json kv_bytes)" = $((2 * L * 50 * H * (D / N) * 4)) ]
	run -0 bnrun -m "$S/tiny.bnt" --bench --pp 8 --tg 4 --head q8 -t 1 \
	    --json
	[ "$(json weight_bytes)" = "$(weights "$S/tiny.bnt" q8)" ]
	[ "$(json kv_bytes)" = 0 ]
	# the share is bytes/token * tokens/s / bandwidth
	awk -v b="$(json bytes_per_token)" -v t="$(json tg_tps)" \
	    -v m="$(json membw_gbs)" -v s="$(json bw_share)" \
	    'BEGIN { r = b * t / (m * 1e9); d = r - s; if (d < 0) d = -d
	    exit !(m > 0 && d <= 0.0001 + r * 0.001) }'
}

@test "--parallel: parsed, only with --bench, a count from 1 to 256" {
	run -64 --separate-stderr bnrun -m "$S/tiny.bnt" -p a --parallel 2
	[ "${stderr_lines[0]}" = "bnrun: --parallel needs --bench" ]
	run -64 --separate-stderr bnrun -m "$S/tiny.bnt" -p a --parallel 1
	[ "${stderr_lines[0]}" = "bnrun: --parallel needs --bench" ]
	for n in 0 257 x -1; do
		run -64 --separate-stderr bnrun -m "$S/tiny.bnt" --bench \
		    --parallel "$n"
		[ "${stderr_lines[0]}" = "bnrun: --parallel: invalid count '$n'" ]
	done
	run -0 bnrun --help
	[[ $output == *"--parallel N     --bench: generate N sequences at once"* ]]
	# the depth and the generation must fit each sequence's context
	run -64 --separate-stderr bnrun -m "$S/init.bnt" --bench --pp 8 \
	    --tg 16 --depth 500 --parallel 3 -t 1
	[ "$stderr" = "bnrun: --depth 500 + --tg 16 is over the context of 512" ]
}

@test "--parallel N: the tg line says xN; a token reads 1/N of the weights and its own KV" {
	run -0 bnrun -m "$S/init.bnt" --bench --pp 8 --tg 4 --depth 100 \
	    --head keep -t 1 --json
	w=$(json weight_bytes)
	kv=$(json kv_bytes)
	[ "$kv" = $((2 * 2 * 100 * 2 * 16 * 4)) ]
	[[ $output != *'"parallel"'* ]]
	for t in 1 2; do
		run -0 bnrun -m "$S/init.bnt" --bench --pp 8 --tg 4 \
		    --depth 100 --head keep -t $t --json --parallel 3
		[[ $output == *',"depth":100,"parallel":3,"weight_bytes":'* ]]
		[ "$(json weight_bytes)" = "$w" ]
		[ "$(json kv_bytes)" = "$kv" ]
		[ "$(json bytes_per_token)" = $((w / 3 + kv)) ]
		awk -v t="$(json tg_tps)" 'BEGIN { exit !(t > 0) }'
	done
	run -0 bnrun -m "$S/init.bnt" --bench --pp 8 --tg 4 --depth 100 \
	    --head keep -t 2 --parallel 3
	[ "${#lines[@]}" -eq 6 ]
	[[ ${lines[1]} =~ \|\ pp8\ @\ d100\ \|\ +[0-9.]+\ \|$ ]]
	[[ ${lines[2]} =~ \|\ tg4\ x3\ @\ d100\ \|\ +[0-9.]+\ \|$ ]]
	[ "${lines[3]}" = "bytes/token: $w weights / 3 sequences + $kv KV cache = $((w / 3 + kv)) (tg4 x3 @ d100)" ]
	[[ ${lines[4]} == *"; tg4 x3 @ d100 reads "*" GB/s, "*"% of it" ]]
	# without --depth; and --parallel 1 is the one-sequence test
	run -0 bnrun -m "$S/tiny.bnt" --bench --pp 8 --tg 4 -t 1 --parallel 8
	[[ ${lines[2]} =~ \|\ +tg4\ x8\ \|\ +[0-9.]+\ \|$ ]]
	[[ ${lines[3]} == "bytes/token: "*" weights / 8 sequences + 0 KV cache = "*" (tg4 x8)" ]]
	run -0 bnrun -m "$S/tiny.bnt" --bench --pp 8 --tg 4 -t 1 --parallel 1
	[[ ${lines[2]} =~ \|\ +tg4\ \ \ \|\ +[0-9.]+\ \|$ ]]
}
