#!/usr/bin/env python3
# bnserve-client.py: the HTTP client of tests/cli/bnserve.bats, Python's
# standard library only (curl is not in the check set).  PORT on
# 127.0.0.1; the API key, if any, from $BNSERVE_KEY.
#   call PORT METHOD PATH [BODY [chunked]]  the status, a line, then the
#                                   body (chunked: sent in chunks, no
#                                   Content-Length)
#   text PORT PATH BODY             the text of a (chat) completion, raw
#   stream PORT PATH BODY [PID]     a streamed one's text, joined, raw;
#                                   fails unless every event is a chunk
#                                   of the request's kind, one has the
#                                   finish_reason and [DONE] ends it.
#                                   PID: SIGTERM it after the first event
#   many PORT PATH BODY...          the requests at once; a line each:
#                                   the status and the text as JSON
#   drop PORT PATH BODY             start a stream, read its first
#                                   event, close the connection
#   leave PORT PATH BODY            send a request, close the connection
#                                   a second later, before the answer
import http.client
import json
import os
import signal
import sys
import threading
import time


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)


def headers():
    h = {"Content-Type": "application/json"}
    if os.environ.get("BNSERVE_KEY"):
        h["Authorization"] = "Bearer " + os.environ["BNSERVE_KEY"]
    return h


def text_of(path, body):
    c = json.loads(body)["choices"][0]
    return c["message"]["content"] if "chat" in path else c["text"]


def post(port, path, body):
    c = conn(port)
    c.request("POST", path, body.encode(), headers())
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return r.status, data


def events(r):
    """The data: lines of a server-sent event stream."""
    while True:
        line = r.readline()
        if not line:
            return
        line = line.decode().rstrip("\r\n")
        if line == "":
            continue
        if not line.startswith("data: "):
            raise SystemExit("not an event: %r" % line)
        yield line[6:]


def main():
    mode, port = sys.argv[1], sys.argv[2]
    if mode == "call":
        method, path = sys.argv[3], sys.argv[4]
        body = sys.argv[5].encode() if len(sys.argv) > 5 else None
        c = conn(port)
        h = headers()
        if len(sys.argv) > 6:
            c.putrequest(method, path)
            for k, v in h.items():
                c.putheader(k, v)
            c.putheader("Transfer-Encoding", "chunked")
            c.endheaders()
            for i in range(0, len(body), 1000):
                part = body[i:i + 1000]
                c.send(b"%x\r\n%s\r\n" % (len(part), part))
            c.send(b"0\r\n\r\n")
        else:
            c.request(method, path, body, h)
        r = c.getresponse()
        print(r.status)
        if r.status == 405:
            print("Allow: " + str(r.getheader("Allow")))
        sys.stdout.write(r.read().decode())
    elif mode == "text":
        status, data = post(port, sys.argv[3], sys.argv[4])
        if status != 200:
            raise SystemExit("%d %s" % (status, data))
        sys.stdout.write(text_of(sys.argv[3], data))
    elif mode == "stream":
        path = sys.argv[3]
        chat = "chat" in path
        c = conn(port)
        c.request("POST", path, sys.argv[4].encode(), headers())
        r = c.getresponse()
        if r.status != 200 or \
                r.getheader("Content-Type") != "text/event-stream":
            raise SystemExit("%d %s" % (r.status, r.read().decode()))
        out, finish, done, n = [], [], False, 0
        for e in events(r):
            if done:
                raise SystemExit("an event after [DONE]")
            if e == "[DONE]":
                done = True
                continue
            j = json.loads(e)
            want = "chat.completion.chunk" if chat else "text_completion"
            if j["object"] != want:
                raise SystemExit("object %r" % j["object"])
            if n == 0 and len(sys.argv) > 5:
                os.kill(int(sys.argv[5]), signal.SIGTERM)
            n += 1
            ch = j["choices"][0]
            if chat:
                out.append(ch["delta"].get("content", ""))
            else:
                out.append(ch["text"])
            if ch["finish_reason"] is not None:
                finish.append(ch["finish_reason"])
        if not done or len(finish) != 1:
            raise SystemExit("done %s, finish %r" % (done, finish))
        sys.stdout.write("".join(out))
    elif mode == "many":
        path, bodies = sys.argv[3], sys.argv[4:]
        res = [None] * len(bodies)

        def one(i):
            res[i] = post(port, path, bodies[i])
        ts = [threading.Thread(target=one, args=(i,))
              for i in range(len(bodies))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for status, data in res:
            print(status, json.dumps(text_of(path, data) if status == 200
                                     else json.loads(data)))
    elif mode == "drop":
        c = conn(port)
        c.request("POST", sys.argv[3], sys.argv[4].encode(), headers())
        r = c.getresponse()
        if r.status != 200:
            raise SystemExit("%d" % r.status)
        next(events(r))
        c.sock.close()
        r.close()
    elif mode == "leave":
        c = conn(port)
        c.request("POST", sys.argv[3], sys.argv[4].encode(), headers())
        time.sleep(1)
        c.sock.close()
    else:
        raise SystemExit("usage: bnserve-client.py call|text|stream|many|"
                         "drop|leave PORT ...")


main()
