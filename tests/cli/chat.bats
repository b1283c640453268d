#!/usr/bin/env bats
# bnrun --chat (issue 21): the chat template families, formatted in C
# byte for byte as jinja2 renders the models' own templates; detection;
# a conversation on a pipe with the KV cache kept between turns; --stop,
# /exit, end of input, SIGINT and a full context.

load helper

CT=$ROOT/tests/fixtures/chat
MODEL=$ROOT/models/austen-ternary.bnt
FAMILIES="llama3 chatml bitnet falcon3 phi3 gemma mistral"

# The conversation of the formatting test: a system prompt and three
# user turns, the replies with surrounding white space and a newline
# for the templates that trim.
conversation() {
	python3 -c 'import json, sys
m = [{"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you\nreally, caf\u00e9?"},
    {"role": "assistant", "content": "   I am an assistant   "},
    {"role": "user", "content": "Another question"}]
if sys.argv[1] == "gemma":	# its template refuses a system role
	m = m[1:]
print(json.dumps(m))' "$1"
}

# jinja2 renders a template as Hugging Face's apply_chat_template does
# (trim_blocks, lstrip_blocks, raise_exception), with bos_token empty:
# bnrun puts the BOS in as a token, not as text.
render() {
	python3 -c 'import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
def raise_exception(msg):
	raise Exception(msg)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.globals["raise_exception"] = raise_exception
eos = {"falcon3": "<|endoftext|>", "phi3": "<|endoftext|>",
    "mistral": "</s>", "gemma": "<eos>"}.get(sys.argv[2], "")
t = env.from_string(open(sys.argv[1], encoding="utf-8").read())
sys.stdout.write(t.render(messages=json.load(sys.stdin), bos_token="",
    eos_token=eos, add_generation_prompt=True))' "$CT/$1.jinja" "$1"
}

@test "chat: each family's formatting is byte-identical to jinja2's rendering of the model's template" {
	local f
	for f in $FAMILIES; do
		conversation $f | render $f > "$BATS_TEST_TMPDIR/$f.ref"
		conversation $f | bnrun -m "$MODEL" --chat --print-prompt \
		    --chat-template $f > "$BATS_TEST_TMPDIR/$f.out"
		cmp "$BATS_TEST_TMPDIR/$f.ref" "$BATS_TEST_TMPDIR/$f.out" ||
		    { echo "$f differs"; diff "$BATS_TEST_TMPDIR/$f.ref" \
		    "$BATS_TEST_TMPDIR/$f.out"; return 1; }
		# the same through the template text itself
		conversation $f | bnrun -m "$MODEL" --chat --print-prompt \
		    --chat-template-file "$CT/$f.jinja" |
		    cmp - "$BATS_TEST_TMPDIR/$f.ref"
	done
	# the reference is not empty, and it is what a model sees
	grep -q '<|im_start|>assistant' "$BATS_TEST_TMPDIR/chatml.ref"
	# Gemma has no system role: a system prompt leads the first user
	# turn, as llama.cpp's formatting has it
	run -0 bnrun -m "$MODEL" --chat --print-prompt --chat-template gemma \
	    <<< '[{"role":"system","content":"S"},{"role":"user","content":"U"}]'
	[ "$output" = $'<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model' ]
}

@test "chat: the template of the tokenizer record (Qwen2's, from GGUF) is found, with its own system prompt" {
	local d=$BATS_TEST_TMPDIR m='[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yes"},{"role":"user","content":"No"}]'
	bnpack -o "$d/qwen2.bnt" "$ROOT/tests/fixtures/vocab/ggml-vocab-qwen2.gguf"
	run -0 --separate-stderr bnrun -m "$d/qwen2.bnt" --chat --print-prompt \
	    -v <<< "$m"
	[ "$stderr" = "bnrun: chat template: chatml" ]
	# no system message: the template puts its own first
	render chatml <<< "$m" > "$d/ref"
	grep -q '^You are a helpful assistant<|im_end|>$' "$d/ref"
	bnrun -m "$d/qwen2.bnt" --chat --print-prompt <<< "$m" | cmp - "$d/ref"
	bnrun -m "$MODEL" --chat --print-prompt \
	    --chat-template-file "$CT/chatml.jinja" <<< "$m" | cmp - "$d/ref"
}

@test "chat: detection picks each family from its template text; an unknown one exits 65 naming --chat-template" {
	local f
	for f in $FAMILIES; do
		run -0 --separate-stderr bnrun -m "$MODEL" --chat --print-prompt \
		    -v --chat-template-file "$CT/$f.jinja" <<< '[]'
		[ "$stderr" = "bnrun: chat template: $f" ]
	done
	# a template of no known family (Zephyr's), and a model without one
	printf '%s' "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|endoftext|>' }}{% endfor %}" > "$BATS_TEST_TMPDIR/zephyr.jinja"
	run -65 --separate-stderr bnrun -m "$MODEL" --chat --print-prompt \
	    --chat-template-file "$BATS_TEST_TMPDIR/zephyr.jinja" <<< '[]'
	[[ $stderr == *"chat template of no known family; name its family with --chat-template NAME"* ]]
	run -65 --separate-stderr bnrun -m "$MODEL" --chat <<< 'Hello'
	[[ $stderr == *"no chat template in the tokenizer record; name its family with --chat-template NAME"* ]]
	# a family that does not exist is a usage error
	run -64 --separate-stderr bnrun -m "$MODEL" --chat --chat-template zephyr
	[[ ${stderr_lines[0]} == "bnrun: --chat-template: unknown family 'zephyr' (one of llama3, "* ]]
	run -64 --separate-stderr bnrun -m "$MODEL" --system hi -p x
}

# all of standard output, trailing newlines included
exactly() {
	"$@"
	echo .
}

@test "chat: on a pipe, turn 2 equals bnrun -p of the whole conversation, and a turn processes only its new tokens" {
	local sys="You are Emma." d=$BATS_TEST_TMPDIR r1 out full g n1 n2 g1 total bos
	r1=$(exactly bnrun -m "$MODEL" --chat --chat-template chatml \
	    --system "$sys" -n 16 --temp 0 <<< 'Hello there')
	r1=${r1%$'\n.'}
	[ -n "$r1" ]
	out=$(exactly bnrun -m "$MODEL" --chat --chat-template chatml \
	    --system "$sys" -n 16 --temp 0 -v <<< $'Hello there\nHow are you' \
	    2> "$d/err")
	out=${out%.}
	[[ $out == "$r1"$'\n'* ]]
	mapfile -t err < "$d/err"
	[ ${#err[@]} -eq 2 ]
	[[ ${err[0]} =~ ^bnrun:\ turn\ 1:\ ([0-9]+)\ prompt\ tokens\ processed,\ ([0-9]+)\ generated ]]
	n1=${BASH_REMATCH[1]} g1=${BASH_REMATCH[2]}
	[[ ${err[1]} =~ ^bnrun:\ turn\ 2:\ ([0-9]+)\ prompt\ tokens\ processed,\ 16\ generated,\ ([0-9]+)\ in ]]
	n2=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
	# the whole conversation, formatted, run in one go
	full=$(python3 -c 'import json, sys
print(json.dumps([{"role": "system", "content": sys.argv[1]},
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": sys.argv[2]},
    {"role": "user", "content": "How are you"}]))' "$sys" "$r1" |
	    exactly bnrun -m "$MODEL" --chat --print-prompt --chat-template chatml)
	full=${full%.}
	g=$(exactly bnrun -m "$MODEL" -p "$full" -n 16 --temp 0)
	g=${g%.}
	[[ $g == "$full"* ]]
	g=${g#"$full"}
	[ "$out" = "$r1"$'\n'"$g" ]
	# turn 1 ran its prompt (and a BOS if the vocabulary adds one)
	run -0 bnrun -m "$MODEL" --tokenize < <(python3 -c 'import json, sys
print(json.dumps([{"role": "system", "content": sys.argv[1]},
    {"role": "user", "content": "Hello there"}]))' "$sys" |
	    bnrun -m "$MODEL" --chat --print-prompt --chat-template chatml)
	set -- $output
	bos=$((n1 - $#))
	[ "$bos" -eq 0 ] || [ "$bos" -eq 1 ]
	# turn 2 ran the tokens after turn 1's prompt and reply, no more:
	# all of the conversation's less turn 1's
	run -0 bnrun -m "$MODEL" --tokenize < <(printf '%s' "$full")
	set -- $output
	[ $# -gt 0 ]
	[ "$n2" -eq $(($# + bos - n1 - g1)) ]
	[ "$n2" -lt "$n1" ]
	[ "$total" -eq $(($# + bos + 16)) ]
}

@test "chat: --stop ends a reply, /exit and end of input end the conversation" {
	run -0 --separate-stderr bnrun -m "$MODEL" --chat --chat-template chatml \
	    --system "You are Emma." -n 16 --temp 0 -v <<< 'Hello there'
	local r1=$output
	[[ $r1 == *world*world* ]]
	run -0 --separate-stderr bnrun -m "$MODEL" --chat --chat-template chatml \
	    --system "You are Emma." -n 16 --temp 0 -v --stop world \
	    <<< $'Hello there\nAgain'
	[ "${lines[0]}" = "${r1%%world*}world" ]
	[ ${#lines[@]} -eq 2 ]
	[[ ${stderr_lines[1]} == "bnrun: turn 2: "* ]]
	run -0 --separate-stderr bnrun -m "$MODEL" --chat --chat-template chatml \
	    -n 4 -v <<< $'Hello\n/exit\nNever'
	[ ${#stderr_lines[@]} -eq 1 ]
	[[ ${stderr_lines[0]} == "bnrun: turn 1: "* ]]
	# end of input in the middle of a line: that line is a turn
	run -0 --separate-stderr bnrun -m "$MODEL" --chat --chat-template chatml \
	    -n 4 -v < <(printf 'Hello\nLast')
	[ ${#stderr_lines[@]} -eq 2 ]
	[[ ${stderr_lines[1]} == "bnrun: turn 2: "* ]]
	run -0 --separate-stderr bnrun -m "$MODEL" --chat --chat-template chatml \
	    -n 4 -v < /dev/null
	[ -z "$output$stderr" ]
}

# wait (up to 20 s) until file $1 holds more than $2 bytes
grown() {
	local i
	for i in $(seq 200); do
		[ "$(wc -c < "$1")" -gt "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "chat: SIGINT ends the reply and not the program" {
	local d=$BATS_TEST_TMPDIR pid n
	mkfifo "$d/in"
	# a reply of up to 8000 tokens takes tens of seconds on one thread
	bnrun -m "$MODEL" --chat --chat-template chatml --ctx 8192 -t 1 \
	    -n 8000 --temp 0 -v < "$d/in" > "$d/out" 2> "$d/err" &
	pid=$!
	exec 7> "$d/in"
	echo Hello >&7
	grown "$d/out" 20
	kill -INT $pid
	grown "$d/err" 0
	grep -q '^bnrun: turn 1: .* (interrupted)$' "$d/err"
	n=$(wc -c < "$d/out")
	echo 'And then' >&7
	grown "$d/out" $((n + 20))
	kill -INT $pid
	for i in $(seq 200); do
		grep -q '^bnrun: turn 2: ' "$d/err" && break
		sleep 0.1
	done
	grep -q '^bnrun: turn 2: .* (interrupted)$' "$d/err"
	echo /exit >&7
	exec 7>&-
	wait $pid
	[ "$(wc -l < "$d/err")" -eq 2 ]
}

@test "chat: a full context ends the reply, and a turn that cannot fit exits 65 with a message" {
	run -65 --separate-stderr bnrun -m "$MODEL" --chat --chat-template chatml \
	    --ctx 48 -n 100 --temp 0 -v <<< $'Hello there\nAnd again'
	[ "${stderr_lines[0]}" = "bnrun: context full (48 positions): the reply ends here" ]
	[[ ${stderr_lines[1]} == "bnrun: turn 1: "*", 48 in the context" ]]
	[[ ${stderr_lines[2]} == "bnrun: context full: turn 2 needs "*" positions and a reply, 0 of the 48 are left (--ctx)" ]]
}

# The cache holds a reply as the tokens generated, the single run its
# text re-tokenized: the two agree where those tokens are the ones the
# text tokenizes to (as in llama.cpp), true of these replies (austen's
# replies open with spaces that Falcon3's and Gemma's formats split
# otherwise).  ChatML and Mistral keep the cache; Llama-3 trims this
# reply (it ends in newlines), so the conversation starts over, and must
# still agree; BitNet trims too, but this reply has nothing to trim.
@test "chat: turn 2 equals bnrun -p of the whole conversation, the cache kept or started over" {
	local f sys="You are Emma." r1 c out full g
	for f in chatml mistral llama3 bitnet; do
		r1=$(exactly bnrun -m "$MODEL" --chat --chat-template $f \
		    --system "$sys" -n 12 --temp 0 <<< 'Hello there')
		r1=${r1%$'\n.'}
		out=$(exactly bnrun -m "$MODEL" --chat --chat-template $f \
		    --system "$sys" -n 12 --temp 0 -v \
		    <<< $'Hello there\nHow are you' 2> "$BATS_TEST_TMPDIR/err")
		out=${out%.}
		case $f in
		llama3) grep -q '^bnrun: turn 2: the conversation no longer starts with the cached text: the cache starts over$' "$BATS_TEST_TMPDIR/err" ;;
		chatml|mistral) ! grep -q 'starts over' "$BATS_TEST_TMPDIR/err" ;;
		esac
		[[ $out == "$r1"$'\n'* ]]
		# the reply as the conversation stores it (Mistral's template
		# puts the space before a reply)
		c=$r1
		[ $f != mistral ] || c=${r1# }
		full=$(python3 -c 'import json, sys
print(json.dumps([{"role": "system", "content": sys.argv[1]},
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": sys.argv[2]},
    {"role": "user", "content": "How are you"}]))' "$sys" "$c" |
		    exactly bnrun -m "$MODEL" --chat --print-prompt \
		    --chat-template $f)
		full=${full%.}
		g=$(exactly bnrun -m "$MODEL" -p "$full" -n 12 --temp 0)
		g=${g%.}
		g=${g#"$full"}
		[ "$out" = "$r1"$'\n'"$g" ] ||
		    { echo "$f: turn 2 differs"; return 1; }
	done
}
