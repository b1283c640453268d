#!/usr/bin/env bats
# bnserve (issue 21) against its peers: the official OpenAI client for
# Node.js (tests/peers/serve, openai 7.60.0) asks for completions and
# chat completions, streamed and not, one and four at once, and gets
# bnrun's text at temperature 0; the chat page at / streams a reply in
# headless Chromium (playwright-core driving Debian's chromium).

load helper

MODEL=$ROOT/models/austen-ternary.bnt
PEER=$ROOT/tests/peers/serve
PY=$(command -v /usr/bin/python3 || command -v python3)

setup() {
	if [ ! -d "$PEER/node_modules/openai" ] ||
	    [ ! -d "$PEER/node_modules/playwright-core" ]; then
		echo "the npm peers of tests/peers/serve are not installed" \
		    "(make deps installs them, as root)" >&2
		return 1
	fi
}

teardown() {
	serve_stop
}

openai() {
	node "$PEER/client.mjs" "$1" "http://127.0.0.1:$PORT" austen-ternary \
	    "${@:2}"
}

# ref PROMPT N: bnrun -p PROMPT -n N's text after the prompt, as JSON
ref() {
	bnrun -m "$MODEL" -t 1 --temp 0 -n "$2" -p "$1" |
	    "$PY" -c 'import json, sys
out = sys.stdin.buffer.read().decode()
assert out.startswith(sys.argv[1]) and out.endswith("\n")
print(json.dumps(out[len(sys.argv[1]):-1]))' "$1"
}

# chatref TEXT N: bnrun --chat's reply to one user line, as JSON
chatref() {
	echo "$1" | bnrun -m "$MODEL" -t 1 --chat --chat-template chatml \
	    --temp 0 -n "$2" | "$PY" -c 'import json, sys
print(json.dumps(sys.stdin.read()[:-1]))'
}

@test "serve-peers: the OpenAI client's completion, streamed and not, is bnrun's text" {
	local p="It is a truth universally acknowledged" want
	serve
	want=$(ref "$p" 48)
	run -0 openai complete "$p" 48
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["text"] == json.loads(sys.argv[2]), r
assert r["finish"] == "length" and r["object"] == "text_completion", r
assert r["usage"]["completion_tokens"] == 48, r' "$output" "$want"
	run -0 openai complete-stream "$p" 48
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["text"] == json.loads(sys.argv[2]), r
assert r["finish"] == "length" and r["chunks"] > 2, r' "$output" "$want"
}

@test "serve-peers: the OpenAI client's chat completion, streamed and not, is bnrun --chat's reply" {
	local t="Good morning, Mr. Knightley" want
	serve --chat-template chatml
	want=$(chatref "$t" 40)
	run -0 openai chat "$t" 40
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["text"] == json.loads(sys.argv[2]), r
assert r["role"] == "assistant" and r["object"] == "chat.completion", r' \
	    "$output" "$want"
	run -0 openai chat-stream "$t" 40
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["text"] == json.loads(sys.argv[2]), r
assert r["finish"] in ("stop", "length"), r' "$output" "$want"
}

@test "serve-peers: four streamed completions at once through the OpenAI client, each bnrun's text" {
	local prompts=("It is a truth universally acknowledged"
	    "Elizabeth looked at Mr. Darcy and" "Emma Woodhouse, handsome,"
	    "The family of Dashwood") p
	serve --parallel 4
	: > "$BATS_TEST_TMPDIR/want"
	for p in "${prompts[@]}"; do
		ref "$p" 64 >> "$BATS_TEST_TMPDIR/want"
	done
	run -0 openai many 64 "${prompts[@]}"
	"$PY" -c 'import json, sys
got = json.loads(sys.argv[1])
want = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == 4, got
for g, w in zip(got, want):
	assert g["text"] == w and g["finish"] == "length", (g, w)' \
	    "$output" "$BATS_TEST_TMPDIR/want"
}

@test "serve-peers: the chat page at / streams bnrun --chat's reply in headless Chromium" {
	local t="Good morning, Mr. Knightley" want
	command -v chromium > /dev/null || {
		echo "no chromium (make deps installs it)"
		return 1
	}
	serve --chat-template chatml
	want=$(chatref "$t" 256)
	run -0 node "$PEER/page.mjs" "http://127.0.0.1:$PORT/" "$t" \
	    "$BATS_TEST_TMPDIR/page.png"
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1].splitlines()[-1])
assert r["state"] == "done", r
assert r["model"] == "austen-ternary", r
assert r["user"] == [sys.argv[3]], r
assert r["reply"] == [json.loads(sys.argv[2])], r
png = open(sys.argv[4], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, len(png)' \
	    "$output" "$want" "$t" "$BATS_TEST_TMPDIR/page.png"
	[ -z "${BN_SCREENSHOT:-}" ] || cp "$BATS_TEST_TMPDIR/page.png" "$BN_SCREENSHOT"
}
