#!/usr/bin/env bats
# bnserve (issue 21): the OpenAI-compatible server on the shipped model.
# Temperature 0 gives bnrun's text token for token, streamed or not, one
# request or several batched; every bad request has its status and an
# OpenAI-shaped error body; a client that goes away frees its slot; past
# the queue, 503; SIGTERM ends it with 0.  The client is Python's
# standard library (bnserve-client.py).

load helper

MODEL=$ROOT/models/austen-ternary.bnt
CLIENT=$BATS_TEST_DIRNAME/bnserve-client.py
# Debian's python3 (a python3 earlier on PATH may be a slow shim)
PY=$(command -v /usr/bin/python3 || command -v python3)

teardown() {
	serve_stop
}

client() {
	"$PY" "$CLIENT" "$@"
}

# body KIND TEXT MAX [EXTRA]: a request body at temperature 0 (KIND
# text: a prompt; chat: one user message)
body() {
	"$PY" -c 'import json, sys
kind, text, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = {"model": "austen-ternary", "max_tokens": n, "temperature": 0}
if kind == "chat":
	b["messages"] = [{"role": "user", "content": text}]
else:
	b["prompt"] = text
b.update(json.loads(sys.argv[4]) if len(sys.argv) > 4 else {})
print(json.dumps(b))' "$@"
}

# ref PROMPT N: what bnrun -p PROMPT -n N generated (its output without
# the prompt and the final newline), into $BATS_TEST_TMPDIR/ref
ref() {
	bnrun -m "$MODEL" -t 1 --temp 0 -n "$2" -p "$1" > "$BATS_TEST_TMPDIR/ref.out"
	"$PY" -c 'import sys
out = open(sys.argv[1], "rb").read()
p = sys.argv[2].encode()
assert out.startswith(p) and out.endswith(b"\n")
sys.stdout.buffer.write(out[len(p):-1])' "$BATS_TEST_TMPDIR/ref.out" "$1" \
	    > "$BATS_TEST_TMPDIR/ref"
}

# error_is STATUS CODE PARAM: $output is STATUS, then an OpenAI error
# body with that code and param ("null": none)
error_is() {
	[ "${lines[0]}" = "$1" ] || { echo "status ${lines[0]}, not $1"; return 1; }
	"$PY" -c 'import json, sys
e = json.loads(sys.argv[1].split("\n", 1)[1])
assert list(e) == ["error"], e
e = e["error"]
assert sorted(e) == ["code", "message", "param", "type"], e
assert isinstance(e["message"], str) and e["message"], e
assert e["type"] == ("server_error" if sys.argv[2] >= "500" else
    "invalid_request_error"), e
assert e["code"] == (None if sys.argv[3] == "null" else sys.argv[3]), e
assert e["param"] == (None if sys.argv[4] == "null" else sys.argv[4]), e' \
	    "$output" "$1" "$2" "$3"
}

@test "bnserve: GET /, /health and /v1/models" {
	serve --api-key k
	# the chat page, from the binary, needs no key (it asks for one)
	"$PY" -c 'import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("GET", "/")
r = c.getresponse()
assert r.status == 200, r.status
assert r.getheader("Content-Type") == "text/html; charset=utf-8"
sys.stdout.buffer.write(r.read())' $PORT | cmp - "$ROOT/tools/bnserve-page.html"
	kill $SPID
	wait $SPID
	serve
	run -0 client call $PORT GET /health
	[ "${lines[0]}" = 200 ]
	[ "${lines[1]}" = '{"status":"ok"}' ]
	run -0 client call $PORT GET /v1/models
	[ "${lines[0]}" = 200 ]
	"$PY" -c 'import json, sys
m = json.loads(sys.argv[1])
assert m["object"] == "list" and len(m["data"]) == 1, m
assert m["data"][0]["id"] == "austen-ternary", m
assert m["data"][0]["object"] == "model", m' "${lines[1]}"
}

@test "bnserve: a completion at temperature 0 is bnrun's text, with usage and finish_reason" {
	local p
	serve
	for p in "It is a truth universally acknowledged" "Elizabeth looked at Mr. Darcy and"; do
		ref "$p" 40
		client text $PORT /v1/completions "$(body text "$p" 40)" |
		    cmp - "$BATS_TEST_TMPDIR/ref"
	done
	run -0 client call $PORT POST /v1/completions "$(body text "$p" 40)"
	[ "${lines[0]}" = 200 ]
	n=$(printf %s "$p" | bnrun -m "$MODEL" --tokenize | wc -w)
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["object"] == "text_completion" and r["model"] == "austen-ternary", r
assert r["id"].startswith("cmpl-") and isinstance(r["created"], int), r
c = r["choices"]
assert len(c) == 1 and c[0]["index"] == 0 and c[0]["finish_reason"] == "length", c
u = r["usage"]
# the prompt tokens and the BOS the vocabulary asks for
assert u["prompt_tokens"] in (int(sys.argv[2]), int(sys.argv[2]) + 1), u
assert u["completion_tokens"] == 40, u
assert u["total_tokens"] == u["prompt_tokens"] + 40, u' "${lines[1]}" "$n"
	# a stop string ends the text before it, with finish_reason stop
	ref "$p" 40
	stop=$("$PY" -c 'import sys; t = open(sys.argv[1]).read(); print(t[10:14])' "$BATS_TEST_TMPDIR/ref")
	run -0 client call $PORT POST /v1/completions \
	    "$(body text "$p" 40 "{\"stop\": [\"zzz\", \"$stop\"]}")"
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
t = open(sys.argv[2]).read()
c = r["choices"][0]
assert c["finish_reason"] == "stop", c
assert c["text"] == t[:t.index(sys.argv[3])], (c, t)' "${lines[1]}" \
	    "$BATS_TEST_TMPDIR/ref" "$stop"
}

@test "bnserve: a chat completion is bnrun --chat's reply (chatml); no template is a 400 naming --chat-template" {
	serve --chat-template chatml
	echo 'Good morning, Mr. Knightley' | bnrun -m "$MODEL" -t 1 --chat \
	    --chat-template chatml --temp 0 -n 30 > "$BATS_TEST_TMPDIR/chat.ref"
	run -0 client call $PORT POST /v1/chat/completions \
	    "$(body chat 'Good morning, Mr. Knightley' 30)"
	[ "${lines[0]}" = 200 ]
	"$PY" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["object"] == "chat.completion" and r["id"].startswith("chatcmpl-"), r
m = r["choices"][0]["message"]
assert m["role"] == "assistant", m
assert m["content"] + "\n" == open(sys.argv[2]).read(), (m, open(sys.argv[2]).read())
assert r["usage"]["completion_tokens"] <= 30, r' "${lines[1]}" \
	    "$BATS_TEST_TMPDIR/chat.ref"
	kill $SPID
	wait $SPID
	serve
	run -0 client call $PORT POST /v1/chat/completions "$(body chat Hello 5)"
	error_is 400 no_chat_template messages
	[[ $output == *"--chat-template NAME"* ]]
}

@test "bnserve: a streamed completion and chat completion join to the text of the plain one" {
	local p="It is a truth universally acknowledged"
	serve --chat-template chatml
	ref "$p" 60
	client stream $PORT /v1/completions "$(body text "$p" 60 '{"stream": true}')" |
	    cmp - "$BATS_TEST_TMPDIR/ref"
	client text $PORT /v1/chat/completions "$(body chat "$p" 60)" \
	    > "$BATS_TEST_TMPDIR/chat"
	[ -s "$BATS_TEST_TMPDIR/chat" ]
	client stream $PORT /v1/chat/completions \
	    "$(body chat "$p" 60 '{"stream": true}')" |
	    cmp - "$BATS_TEST_TMPDIR/chat"
	# include_usage: a last chunk with the usage and no choices
	run -0 client call $PORT POST /v1/completions \
	    "$(body text "$p" 7 '{"stream": true, "stream_options": {"include_usage": true}}')"
	"$PY" -c 'import json, sys
ev = [l[6:] for l in sys.argv[1].split("\n")[1:] if l]
assert ev[-1] == "[DONE]", ev
u = json.loads(ev[-2])
assert u["choices"] == [] and u["usage"]["completion_tokens"] == 7, u
assert json.loads(ev[-3])["choices"][0]["finish_reason"] == "length", ev' \
	    "$output"
}

@test "bnserve: 6 requests at once on 4 slots each give bnrun's text (batched, joining between steps)" {
	local i p n bodies=() d=$BATS_TEST_TMPDIR
	local prompts=("It is a truth universally acknowledged"
	    "Elizabeth looked at Mr. Darcy and" "Emma Woodhouse, handsome,"
	    "The family of Dashwood" "Sir Walter Elliot" "Catherine Morland")
	serve --parallel 4 -v
	: > "$d/want"
	for i in 0 1 2 3 4 5; do
		p=${prompts[i]}
		n=$((120 + 37 * i))
		ref "$p" $n
		"$PY" -c 'import json, sys
print(200, json.dumps(open(sys.argv[1]).read()))' "$d/ref" >> "$d/want"
		bodies+=("$(body text "$p" $n)")
	done
	client many $PORT /v1/completions "${bodies[@]}" > "$d/got"
	diff "$d/want" "$d/got"
	kill $SPID
	wait $SPID
	# more than one request advanced in one step
	run -0 grep -E '^bnserve: 6 requests, [0-9]+ steps of [0-9]+ tokens, at most [234] requests in one$' "$d/err"
}

@test "bnserve --ternary t3: 4 requests at once give bnrun's text (t3k rows, batched)" {
	local i p bodies=() d=$BATS_TEST_TMPDIR
	local prompts=("It is a truth universally acknowledged"
	    "Elizabeth looked at Mr. Darcy and" "Emma Woodhouse, handsome,"
	    "Sir Walter Elliot")
	serve --parallel 4 --ternary t3
	: > "$d/want"
	for i in 0 1 2 3; do
		p=${prompts[i]}
		ref "$p" $((40 + 9 * i))
		"$PY" -c 'import json, sys
print(200, json.dumps(open(sys.argv[1]).read()))' "$d/ref" >> "$d/want"
		bodies+=("$(body text "$p" $((40 + 9 * i)))")
	done
	client many $PORT /v1/completions "${bodies[@]}" > "$d/got"
	diff "$d/want" "$d/got"
}

@test "bnserve: bad requests: 400 (JSON, types, model, unsupported fields, context), 413, 404, 405, with OpenAI error bodies" {
	local big
	serve --ctx 32 --max-body 2000 --chat-template chatml
	run -0 client call $PORT POST /v1/completions '{"prompt": "a",'
	error_is 400 invalid_json null
	run -0 client call $PORT POST /v1/completions '["prompt"]'
	error_is 400 invalid_type null
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "temperature": "hot"}'
	error_is 400 invalid_type temperature
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "max_tokens": 1.5}'
	error_is 400 invalid_type max_tokens
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "stream": "yes"}'
	error_is 400 invalid_type stream
	run -0 client call $PORT POST /v1/completions '{"prompt": 7}'
	error_is 400 invalid_type prompt
	run -0 client call $PORT POST /v1/completions '{"max_tokens": 2}'
	error_is 400 missing_required_parameter prompt
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "top_p": 3}'
	error_is 400 invalid_value top_p
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "stop": [1]}'
	error_is 400 invalid_type stop
	run -0 client call $PORT POST /v1/chat/completions '{"messages": "hi"}'
	error_is 400 invalid_type messages
	run -0 client call $PORT POST /v1/chat/completions '{"messages": [{"role": "tool", "content": "x"}]}'
	error_is 400 invalid_value messages
	run -0 client call $PORT POST /v1/completions '{"model": "gpt-4o", "prompt": "a"}'
	error_is 400 model_not_found model
	[[ $output == *"'gpt-4o'"* ]]
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "n": 2}'
	error_is 400 unsupported_parameter n
	run -0 client call $PORT POST /v1/chat/completions '{"messages": [{"role": "user", "content": "a"}], "logprobs": true}'
	error_is 400 unsupported_parameter logprobs
	run -0 client call $PORT POST /v1/chat/completions '{"messages": [{"role": "user", "content": "a"}], "tools": [{"type": "function"}]}'
	error_is 400 unsupported_parameter tools
	# the harmless ones at their no-op values go through
	run -0 client call $PORT POST /v1/completions '{"prompt": "a", "n": 1, "logprobs": null, "user": "u", "max_tokens": 2}'
	[ "${lines[0]}" = 200 ]
	# a prompt longer than the context (32), and one that leaves no
	# room for max_tokens
	run -0 client call $PORT POST /v1/completions "$(body text "$(printf 'word %.0s' $(seq 40))" 2)"
	error_is 400 context_length_exceeded prompt
	run -0 client call $PORT POST /v1/completions "$(body text "It is a truth" 30)"
	error_is 400 context_length_exceeded max_tokens
	# over --max-body: by Content-Length and in chunks
	big=$(body text "$(printf 'x%.0s' $(seq 3000))" 2)
	run -0 client call $PORT POST /v1/completions "$big"
	error_is 413 request_too_large null
	run -0 client call $PORT POST /v1/completions "$big" chunked
	error_is 413 request_too_large null
	run -0 client call $PORT POST /v1/completions "$(body text a 2)" chunked
	[ "${lines[0]}" = 200 ]
	run -0 client call $PORT GET /v1/nothing
	error_is 404 not_found null
	run -0 client call $PORT GET /v1/completions
	[ "${lines[1]}" = "Allow: POST" ]
	lines=("${lines[0]}" "${lines[@]:2}")
	output=$(printf '%s\n' "${lines[@]}")
	error_is 405 method_not_allowed null
	run -0 client call $PORT POST /health '{}'
	[ "${lines[0]}" = 405 ]
	[ "${lines[1]}" = "Allow: GET, HEAD" ]
	# the server is still there
	run -0 client call $PORT GET /health
	[ "${lines[0]}" = 200 ]
}

@test "bnserve --api-key: 401 without the key or with a wrong one; /health needs none" {
	serve --api-key s3cret
	run -0 client call $PORT POST /v1/completions "$(body text a 2)"
	error_is 401 invalid_api_key null
	BNSERVE_KEY=wrong run -0 client call $PORT POST /v1/completions "$(body text a 2)"
	error_is 401 invalid_api_key null
	run -0 client call $PORT GET /v1/models
	error_is 401 invalid_api_key null
	BNSERVE_KEY=s3cret run -0 client call $PORT POST /v1/completions "$(body text a 2)"
	[ "${lines[0]}" = 200 ]
	run -0 client call $PORT GET /health
	[ "${lines[0]}" = 200 ]
}

@test "bnserve: a client that goes away mid-stream, or before a plain answer, frees its slot (--parallel 1)" {
	local p="It is a truth universally acknowledged" i
	# a long context, so that the first request runs for seconds
	serve --parallel 1 --ctx 4096 -v
	run -0 timeout 20 "$PY" "$CLIENT" drop $PORT /v1/completions \
	    "$(body text "$p" 4000 '{"stream": true}')"
	# the slot is free again: the next request runs at once
	ref "$p" 5
	timeout 20 "$PY" "$CLIENT" text $PORT /v1/completions "$(body text "$p" 5)" |
	    cmp - "$BATS_TEST_TMPDIR/ref"
	# the engine dropped the first one long before its 4000 tokens
	for i in $(seq 100); do
		grep -q 'cancelled (client gone)' "$BATS_TEST_TMPDIR/err" && break
		sleep 0.05
	done
	run -0 grep 'cancelled (client gone)' "$BATS_TEST_TMPDIR/err"
	[[ $output =~ ^bnserve:\ cmpl-[0-9a-f]+:\ [0-9]+\ prompt\ tokens,\ ([0-9]+)\ generated ]]
	[ "${BASH_REMATCH[1]}" -lt 4000 ]
	# the same for a client that leaves before a plain (not streamed)
	# answer
	run -0 timeout 20 "$PY" "$CLIENT" leave $PORT /v1/completions \
	    "$(body text "$p" 4000)"
	timeout 20 "$PY" "$CLIENT" text $PORT /v1/completions "$(body text "$p" 5)" |
	    cmp - "$BATS_TEST_TMPDIR/ref"
	for i in $(seq 100); do
		[ "$(grep -c 'cancelled (client gone)' "$BATS_TEST_TMPDIR/err")" -eq 2 ] && break
		sleep 0.05
	done
	[ "$(grep -c 'cancelled (client gone)' "$BATS_TEST_TMPDIR/err")" -eq 2 ]
}

@test "bnserve: more requests than --parallel and --queue: 503 with an error body" {
	local i bodies=()
	serve --parallel 1 --queue 1 --ctx 1024
	for i in 1 2 3 4 5 6 7 8; do
		bodies+=("$(body text "It is a truth" 1000)")
	done
	client many $PORT /v1/completions "${bodies[@]}" > "$BATS_TEST_TMPDIR/got"
	cat "$BATS_TEST_TMPDIR/got"
	# one ran, one waited; some of the others were turned away
	[ "$(grep -c '^200 ' "$BATS_TEST_TMPDIR/got")" -ge 2 ]
	[ "$(grep -c '^503 ' "$BATS_TEST_TMPDIR/got")" -ge 1 ]
	[ "$(grep -c -v '^[25]0[03] ' "$BATS_TEST_TMPDIR/got")" -eq 0 ]
	"$PY" -c 'import json, sys
for l in open(sys.argv[1]):
	if l.startswith("503 "):
		e = json.loads(l[4:])["error"]
		assert e["type"] == "server_error" and "busy" in e["message"], e' \
	    "$BATS_TEST_TMPDIR/got"
	# the server goes on
	run -0 client call $PORT POST /v1/completions "$(body text a 2)"
	[ "${lines[0]}" = 200 ]
}

@test "bnserve: SIGTERM finishes the running stream and exits 0; SIGINT exits 0; no new connection after" {
	local p="It is a truth universally acknowledged"
	serve
	ref "$p" 300
	# SIGTERM after the first event: the stream still ends complete
	client stream $PORT /v1/completions "$(body text "$p" 300 '{"stream": true}')" $SPID |
	    cmp - "$BATS_TEST_TMPDIR/ref"
	st=0
	wait $SPID || st=$?
	SPID=
	[ $st -eq 0 ]
	run ! client call $PORT GET /health
	serve
	kill -INT $SPID
	wait $SPID || st=$?
	SPID=
	[ $st -eq 0 ]
}

@test "bnserve: on SIGTERM the queue is answered 503; a second signal ends the running stream with an error event; exit 0" {
	serve --parallel 1 --ctx 4096
	"$PY" -c 'import http.client, json, os, signal, sys, threading, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def post(body):
	c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
	c.request("POST", "/v1/completions", json.dumps(body).encode())
	return c.getresponse()
r = post({"prompt": "It is a truth", "max_tokens": 4000, "temperature": 0,
    "stream": True})
assert r.readline().startswith(b"data: {")
queued = []
t = threading.Thread(target=lambda: queued.append(post({"prompt": "a",
    "max_tokens": 2})))
t.start()
time.sleep(1)
os.kill(pid, signal.SIGTERM)
t.join()
q = queued[0]
e = json.loads(q.read())["error"]
assert q.status == 503 and "stopping" in e["message"], (q.status, e)
os.kill(pid, signal.SIGTERM)
ev = [l for l in r.read().decode().split("\n") if l]
assert ev[-1] == "data: [DONE]", ev[-3:]
e = json.loads(ev[-2][6:])["error"]
assert "stopping" in e["message"] and e["type"] == "server_error", e' \
	    $PORT $SPID
	st=0
	wait $SPID || st=$?
	SPID=
	[ $st -eq 0 ]
}

@test "bnserve: usage errors exit 64; a missing model 66" {
	run -64 bnserve
	run -64 bnserve -m "$MODEL" --parallel 0
	run -64 bnserve -m "$MODEL" --chat-template nosuch
	run -64 bnserve -m "$MODEL" --port 70000
	run -66 bnserve -m "$BATS_TEST_TMPDIR/none.bnt"
	run -0 bnserve --help
	[[ $output == *"--parallel N"* ]]
}
