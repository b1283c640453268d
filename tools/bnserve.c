/* bnserve: serve a bnt(5) model over HTTP with an OpenAI-compatible
 * API, the active requests advancing together, one forward pass a step
 * (continuous batching). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bnt.h"
#include "chat.h"
#include "err.h"
#include "kpick.h"
#include "json.h"
#include "kernels.h"
#include "mem.h"
#include "model.h"
#include "parse.h"
#include "sample.h"
#include "tokenizer.h"
#include "version.h"

/* --head auto as bnrun has it: an int8 head from this vocabulary up */
#define HEAD_AUTO_VOCAB 32000
/* prompt tokens a step, shared by the requests being prefilled (bnrun
 * runs a prompt 64 tokens at a time) */
#define PREFILL 64
#define MAX_STOP 16
/* how often a waiting connection looks whether its client has gone */
#define POLL_MS 100

/* the chat page at / (tools/bnserve-page.html, made a C array by the
 * Makefile) */
static const unsigned char page[] = {
#include "bnserve-page.h"
};

enum { OPT_API_KEY = 256, OPT_CHAT_TEMPLATE, OPT_CTX, OPT_HOST,
    OPT_KV_TYPE, OPT_MAX_BODY, OPT_PARALLEL, OPT_PORT, OPT_QUEUE,
    OPT_TERNARY };

struct opts {
	const char *model;
	const char *host;
	const char *api_key;
	const char *tmpl_name;
	int port, parallel, queue, ctx, threads, verbose;
	int kvtype;		/* --kv-type: BN_KV_F32, _F16, _Q8 */
	unsigned layout;	/* --ternary: BN_MODEL_T2, _T3 or 0 */
	size_t max_body;
};

enum { KIND_CHAT, KIND_TEXT };
enum { FIN_NONE, FIN_STOP, FIN_LENGTH };
/* a stream's progress */
enum { ST_START, ST_BODY, ST_END };

/*
 * A request.  The engine owns its sampler and slot; the rest is shared
 * under the server's mutex.  refs: the connection, the stream response
 * and the engine (queue or slot) each hold one.
 */
struct req {
	int kind, stream;
	int usage;		/* stream_options.include_usage */
	char id[48];
	long long created;
	int32_t *ids;		/* the prompt, BOS included */
	size_t nids, fed;
	int max_tokens;
	char *stop[MAX_STOP];
	int nstop;
	struct bn_sampler smp;
	int slot;		/* -1: not in one */
	int32_t last;		/* the token to run next */
	struct bn_buf text;	/* generated text */
	size_t keep;		/* its length once done (cut at a stop) */
	size_t sent;		/* bytes of it streamed */
	int ngen;
	int done, finish;
	int cancelled;		/* the client went away */
	int failed;		/* ended by the server: fail_status */
	int fail_status;
	const char *fail_msg;
	int refs;
	int fd;			/* the connection's socket */
	double t0, looked;	/* arrival; the last look at the socket */
	pthread_cond_t cv;
	struct req *next;	/* in the queue */
	/* the stream: formatted events not yet sent */
	struct bn_buf out;
	size_t out_off;
	int stage;
};

/* a connection's request while its body comes in */
struct conn {
	int route;
	struct bn_buf body;
	int too_big;
	struct req *r;
};

enum { R_NONE, R_PAGE, R_HEALTH, R_MODELS, R_CHAT, R_TEXT };

static struct server {
	struct opts o;
	struct bn_model m;
	struct bn_tokenizer *tk;
	char *model_id;
	long long started;
	int family;		/* BN_CHAT_UNKNOWN: no chat */
	char *sys;		/* the template's own system prompt */
	int32_t stop_ids[20];	/* end of a chat turn */
	int nstop_ids;
	int32_t eos[2];		/* end of a completion */
	int bos;		/* add a BOS to a prompt */
	pthread_mutex_t mu;
	pthread_cond_t wake;	/* the engine: work or stop */
	struct req *qhead, *qtail;
	int nqueue, nactive;
	struct req **slot;
	struct bn_state **slot_state;
	struct bn_state *s;	/* the batch's scratch */
	int stopping;		/* no new requests; queued ones fail */
	int aborting;		/* running ones end too */
	int engine_done;
	int nconn;		/* requests whose answer is still being sent */
	unsigned long long nreq;
	/* -v: steps run, tokens in them, the most requests in one */
	unsigned long long steps, ntok;
	int most;
} srv;

static const char shortopts[] = "hm:t:vV";
static const struct option longopts[] = {
	{ "api-key",	required_argument,	NULL,	OPT_API_KEY },
	{ "chat-template", required_argument, NULL, OPT_CHAT_TEMPLATE },
	{ "ctx",	required_argument,	NULL,	OPT_CTX },
	{ "help",	no_argument,		NULL,	'h' },
	{ "host",	required_argument,	NULL,	OPT_HOST },
	{ "kv-type",	required_argument,	NULL,	OPT_KV_TYPE },
	{ "max-body",	required_argument,	NULL,	OPT_MAX_BODY },
	{ "model",	required_argument,	NULL,	'm' },
	{ "parallel",	required_argument,	NULL,	OPT_PARALLEL },
	{ "port",	required_argument,	NULL,	OPT_PORT },
	{ "queue",	required_argument,	NULL,	OPT_QUEUE },
	{ "ternary",	required_argument,	NULL,	OPT_TERNARY },
	{ "threads",	required_argument,	NULL,	't' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

static _Noreturn void
usage(FILE *fp, int status)
{
	fprintf(fp, "usage: %s -m model [--host addr] [--port n] "
	    "[--parallel n] [--queue n] [--ctx n] [-t threads] "
	    "[--api-key key] [--max-body bytes] [--chat-template name] "
	    "[--kv-type f32|f16|q8] [--ternary t2|t3|auto] [-v]\n",
	    bn_progname);
	if (fp == stdout)
		fputs("Serve a bnt(5) model over HTTP with an "
		    "OpenAI-compatible API; see bnserve(1).\n"
		    "  -m, --model FILE     the model (a bnt file)\n"
		    "  -t, --threads N      worker threads (default: all "
		    "CPUs)\n"
		    "  -v, --verbose        a line per request on standard "
		    "error\n"
		    "      --api-key KEY    require Authorization: Bearer KEY\n"
		    "      --chat-template NAME  the template family: llama3, "
		    "chatml, bitnet,\n"
		    "                       falcon3, phi3, gemma, mistral "
		    "(default: the model's)\n"
		    "      --ctx N          context length of each request "
		    "(default: the model's, at most 4096)\n"
		    "      --host ADDR      address to listen on (default "
		    "127.0.0.1)\n"
		    "      --kv-type f32|f16|q8  the KV cache's type (default "
		    "f32)\n"
		    "      --max-body BYTES largest request body (default "
		    "1048576)\n"
		    "      --parallel N     requests run at once (default 4)\n"
		    "      --port N         port (default 8080; 0: any free "
		    "one)\n"
		    "      --queue N        requests that wait for a slot "
		    "(default 16)\n"
		    "      --ternary t2|t3|auto  ternary weights in memory: 2 "
		    "bits (t2), 1.6 (t3);\n"
		    "                       auto: as stored (default)\n"
		    "  -h, --help           show this help\n"
		    "  -V, --version        show the version\n", fp);
	exit(status);
}

static int
uarg(const char *opt, const char *s, unsigned min, unsigned max)
{
	unsigned v;

	if (bn_parse_uint(s, min, max, &v) != 0) {
		bn_warnx("%s: invalid count '%s'", opt, s);
		usage(stderr, EX_USAGE);
	}
	return (int)v;
}

static void
parse_args(int argc, char *argv[], struct opts *o)
{
	int ch;

	argv[0] = (char *)bn_progname;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		switch (ch) {
		case OPT_API_KEY:
			if (*optarg == '\0') {
				bn_warnx("--api-key: empty key");
				usage(stderr, EX_USAGE);
			}
			o->api_key = optarg;
			break;
		case OPT_CHAT_TEMPLATE:
			if (bn_chat_family(optarg) == BN_CHAT_UNKNOWN) {
				bn_warnx("--chat-template: unknown family '%s' "
				    "(one of %s)", optarg, bn_chat_names());
				usage(stderr, EX_USAGE);
			}
			o->tmpl_name = optarg;
			break;
		case OPT_CTX: o->ctx = uarg("--ctx", optarg, 2, 1u << 20);
			break;
		case OPT_HOST: o->host = optarg; break;
		case OPT_KV_TYPE:
			if ((o->kvtype = bn_kv_type(optarg)) < 0) {
				bn_warnx("--kv-type: invalid type '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_TERNARY:
			if (bn_model_ternary_flag(optarg, &o->layout) != 0) {
				bn_warnx("--ternary: invalid layout '%s'",
				    optarg);
				usage(stderr, EX_USAGE);
			}
			break;
		case OPT_MAX_BODY:
			o->max_body = (size_t)uarg("--max-body", optarg, 1,
			    1u << 30);
			break;
		case OPT_PARALLEL:
			o->parallel = uarg("--parallel", optarg, 1, 256);
			break;
		case OPT_PORT: o->port = uarg("--port", optarg, 0, 65535);
			break;
		case OPT_QUEUE: o->queue = uarg("--queue", optarg, 0, 65536);
			break;
		case 'h': usage(stdout, EXIT_SUCCESS);
		case 'm': o->model = optarg; break;
		case 't': o->threads = uarg("-t", optarg, 1, 1024); break;
		case 'v': o->verbose++; break;
		case 'V':
			bn_kernels_init(NULL);
			bn_print_version(stdout);
			printf("kernels %s\n", bn_k->name);
			exit(EXIT_SUCCESS);
		default: usage(stderr, EX_USAGE);
		}
	if (optind != argc || o->model == NULL)
		usage(stderr, EX_USAGE);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Bytes of a valid UTF-8 sequence at s[0..n), 0 if none starts there;
 * -1 if s[0..n) is a valid sequence cut short. */
static int
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (i = 1; i < need; i++) {
		if ((size_t)i >= n)
			return -1;
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return need;
}

/* s[0..n) as a JSON string, a byte of no valid UTF-8 sequence as
 * U+FFFD (a model may well generate such bytes) */
static void
put_text(struct bn_buf *b, const char *s, size_t n)
{
	struct bn_buf t = { 0 };
	size_t i = 0;
	int k;

	while (i < n) {
		k = utf8_seq((const unsigned char *)s + i, n - i);
		if (k > 0) {
			bn_buf_put(&t, s + i, (size_t)k);
			i += (size_t)k;
		} else {
			bn_buf_puts(&t, "\xef\xbf\xbd");
			i++;
		}
	}
	bn_json_put_str(b, t.p != NULL ? t.p : "", t.n);
	if (t.oom)
		b->oom = 1;
	bn_buf_free(&t);
}

/* Bytes at the end of s[0..n) that begin a UTF-8 sequence not complete
 * yet: a stream waits for the rest. */
static size_t
utf8_tail(const char *s, size_t n)
{
	size_t i, k;

	for (k = 1; k <= 3 && k <= n; k++) {
		i = n - k;
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return utf8_seq((const unsigned char *)s + i, k) < 0 ?
			    k : 0;
	}
	return 0;
}

/* How much of r's text may go out now: not what may yet become the
 * start of a stop string, nor half a character. */
static size_t
safe_len(const struct req *r)
{
	size_t n = r->text.n, safe = n, k, sl;
	int j;

	if (r->done)
		return r->keep;
	for (j = 0; j < r->nstop; j++) {
		sl = strlen(r->stop[j]);
		for (k = sl - 1 < n ? sl - 1 : n; k > 0; k--)
			if (memcmp(r->text.p + n - k, r->stop[j], k) == 0)
				break;
		if (n - k < safe)
			safe = n - k;
	}
	return safe - utf8_tail(r->text.p, safe);
}

/* The first stop string of r's text that ends at or after byte from:
 * its offset, or -1. */
static long
find_stop(const struct req *r, size_t from)
{
	size_t sl, at, best = SIZE_MAX;
	int j;

	for (j = 0; j < r->nstop; j++) {
		sl = strlen(r->stop[j]);
		at = from >= sl - 1 ? from - (sl - 1) : 0;
		for (; at + sl <= r->text.n && at < best; at++)
			if (memcmp(r->text.p + at, r->stop[j], sl) == 0) {
				best = at;
				break;
			}
	}
	return best == SIZE_MAX ? -1 : (long)best;
}

static void
req_unref(struct req *r)
{
	int j;

	if (--r->refs > 0)
		return;
	free(r->ids);
	for (j = 0; j < r->nstop; j++)
		free(r->stop[j]);
	bn_sampler_free(&r->smp);
	bn_buf_free(&r->text);
	bn_buf_free(&r->out);
	pthread_cond_destroy(&r->cv);
	free(r);
}

/* The client has gone: a queued request leaves the queue, a running
 * one its slot at the engine's next step.  Under the mutex. */
static void
req_cancel(struct req *r)
{
	struct req **pp, *prev = NULL;

	if (r->done || r->cancelled)
		return;
	r->cancelled = 1;
	for (pp = &srv.qhead; *pp != NULL; prev = *pp, pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			if (srv.qtail == r)
				srv.qtail = prev;
			srv.nqueue--;
			r->done = 1;
			req_unref(r);	/* the queue's */
			break;
		}
	pthread_cond_signal(&srv.wake);
}

/* Has the peer of socket fd closed it? */
static int
gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (fd < 0 || poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
		return 1;
	return (p.revents & POLLIN) && recv(fd, &c, 1, MSG_PEEK) == 0;
}

/* Wait on r's condition for at most POLL_MS; under the mutex.  1 when
 * it is time to look at the socket again (POLL_MS since the last look,
 * however often the wait was woken). */
static int
req_wait(struct req *r)
{
	struct timespec ts;
	double t;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += POLL_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->cv, &srv.mu, &ts);
	if ((t = now()) - r->looked < POLL_MS * 1e-3)
		return 0;
	r->looked = t;
	return 1;
}

/* End r, its text cut at keep: it leaves its slot (and r may be gone
 * after).  Under the mutex. */
static void
finish_at(struct req *r, int why, size_t keep)
{
	if (!r->done) {
		r->done = 1;
		r->finish = why;
		r->keep = keep;
	}
	pthread_cond_broadcast(&r->cv);
	if (r->slot >= 0) {
		srv.slot[r->slot] = NULL;
		srv.nactive--;
		r->slot = -1;
		if (srv.o.verbose)
			bn_warnx("%s: %zu prompt tokens, %d generated, %s, "
			    "%.0f ms", r->id, r->nids, r->ngen, r->cancelled ?
			    "cancelled (client gone)" : r->failed ? "ended "
			    "(server stopping)" : why == FIN_STOP ? "stop" :
			    "length", (now() - r->t0) * 1e3);
		req_unref(r);
	}
}

static void
finish(struct req *r, int why)
{
	finish_at(r, why, r->text.n);
}

static void
fail(struct req *r, int status, const char *msg)
{
	r->failed = 1;
	r->fail_status = status;
	r->fail_msg = msg;
	finish(r, FIN_STOP);
}

/* The token id sampled for r: its text goes out, or r ends.  Under the
 * mutex. */
static void
advance(struct req *r, int32_t id)
{
	const int32_t *stop = r->kind == KIND_CHAT ? srv.stop_ids : srv.eos;
	int nstop = r->kind == KIND_CHAT ? srv.nstop_ids : 2;
	size_t from = r->text.n, len;
	long at;
	int k;

	for (k = 0; k < nstop; k++)
		if (id == stop[k]) {
			finish(r, FIN_STOP);
			return;
		}
	/* as bnrun prints it: nothing for a control token, nor for an id
	 * past the tokenizer's (padding rows of the model) */
	len = 0;
	if (id < bn_tokenizer_n_vocab(srv.tk))
		bn_tokenizer_piece(srv.tk, id, 0, NULL, 0, &len);
	if (len > 0 && bn_buf_reserve(&r->text, len) == 0 &&
	    bn_tokenizer_piece(srv.tk, id, 0, r->text.p + r->text.n, len + 1,
	    &len) == BN_OK) {
		r->text.n += len;
		r->text.p[r->text.n] = '\0';
	}
	r->ngen++;
	if (r->nstop > 0 && (at = find_stop(r, from)) >= 0)
		finish_at(r, FIN_STOP, (size_t)at);
	else if (r->ngen >= r->max_tokens ||
	    bn_state_pos(srv.slot_state[r->slot]) >= srv.o.ctx)
		finish(r, FIN_LENGTH);
	else {
		r->last = id;
		if (r->stream)	/* the others wait for the end */
			pthread_cond_broadcast(&r->cv);
	}
}

static void *
engine(void *arg)
{
	int P = srv.o.parallel, B = PREFILL + P, vocab = srv.m.c.vocab;
	struct bn_state **seq = calloc((size_t)B, sizeof *seq);
	int32_t *tok = calloc((size_t)B, sizeof *tok), *next;
	unsigned char *want = calloc((size_t)B, 1);
	int *who = calloc((size_t)B, sizeof *who);
	float *logits = malloc((size_t)P * (size_t)vocab * sizeof *logits);
	struct req *r;
	size_t k, j;
	int i, n, rows, budget, st;

	(void)arg;
	next = calloc((size_t)P, sizeof *next);
	if (seq == NULL || tok == NULL || want == NULL || who == NULL ||
	    logits == NULL || next == NULL)
		bn_errx(EX_OSERR, "out of memory");
	pthread_mutex_lock(&srv.mu);
	for (;;) {
		/* drop what was cancelled, admit what waits */
		for (i = 0; i < P; i++) {
			if ((r = srv.slot[i]) == NULL)
				continue;
			if (r->cancelled)
				finish(r, FIN_STOP);
			else if (srv.aborting)
				fail(r, 503, "the server is stopping");
		}
		while (srv.qhead != NULL && (srv.stopping ||
		    srv.nactive < P)) {
			r = srv.qhead;
			srv.qhead = r->next;
			if (srv.qhead == NULL)
				srv.qtail = NULL;
			srv.nqueue--;
			if (srv.stopping) {
				fail(r, 503, "the server is stopping");
				req_unref(r);	/* the queue's */
				continue;
			}
			for (i = 0; srv.slot[i] != NULL; i++)
				;
			srv.slot[i] = r;
			r->slot = i;
			srv.nactive++;
			bn_state_reset(srv.slot_state[i]);
		}
		if (srv.nactive == 0) {
			if (srv.stopping)
				break;
			pthread_cond_wait(&srv.wake, &srv.mu);
			continue;
		}
		/* one batch: a prompt chunk of each request being
		 * prefilled, as the budget allows, and the last token of
		 * each one generating */
		n = 0;
		budget = PREFILL;
		for (i = 0; i < P; i++) {
			if ((r = srv.slot[i]) == NULL)
				continue;
			if (r->fed < r->nids) {
				k = r->nids - r->fed;
				if (k > (size_t)budget)
					k = (size_t)budget;
				budget -= (int)k;
				for (j = 0; j < k; j++, n++) {
					seq[n] = srv.slot_state[i];
					tok[n] = r->ids[r->fed + j];
					want[n] = r->fed + j + 1 == r->nids;
					who[n] = i;
				}
				r->fed += k;
			} else {
				seq[n] = srv.slot_state[i];
				tok[n] = r->last;
				want[n] = 1;
				who[n] = i;
				n++;
			}
		}
		srv.steps++;
		srv.ntok += (unsigned long long)n;
		if (srv.nactive > srv.most)
			srv.most = srv.nactive;
		pthread_mutex_unlock(&srv.mu);
		st = n > 0 ? bn_forward_batch(&srv.m, srv.s, seq, tok, n, want,
		    logits) : BN_OK;
		/* sampling is the engine's alone */
		for (j = 0, rows = 0; st == BN_OK && j < (size_t)n; j++)
			if (want[j]) {
				r = srv.slot[who[j]];
				next[who[j]] = bn_sample(&r->smp, logits +
				    (size_t)rows * (size_t)vocab);
				rows++;
			}
		pthread_mutex_lock(&srv.mu);
		for (j = 0; j < (size_t)n; j++) {
			if ((r = srv.slot[who[j]]) == NULL)
				continue;
			if (st != BN_OK)
				fail(r, 500, "the forward pass failed");
			else if (want[j] && !r->cancelled)
				advance(r, next[who[j]]);
		}
	}
	srv.engine_done = 1;
	pthread_mutex_unlock(&srv.mu);
	free(seq);
	free(tok);
	free(want);
	free(who);
	free(logits);
	free(next);
	return NULL;
}

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned status, struct bn_buf *b,
    const char *allow)
{
	struct MHD_Response *res;
	enum MHD_Result ret;

	if (b->oom) {
		bn_buf_free(b);
		return MHD_NO;
	}
	res = MHD_create_response_from_buffer(b->n, b->p,
	    MHD_RESPMEM_MUST_FREE);
	if (res == NULL) {
		bn_buf_free(b);
		return MHD_NO;
	}
	MHD_add_response_header(res, "Content-Type", "application/json");
	if (allow != NULL)
		MHD_add_response_header(res, "Allow", allow);
	ret = MHD_queue_response(c, status, res);
	MHD_destroy_response(res);
	return ret;
}

/* an OpenAI error body: {"error": {"message", "type", "param", "code"}} */
static void
error_body(struct bn_buf *b, unsigned status, const char *param,
    const char *code, const char *msg)
{
	bn_buf_puts(b, "{\"error\":{\"message\":");
	bn_json_put_str(b, msg, strlen(msg));
	bn_buf_printf(b, ",\"type\":\"%s\",\"param\":", status >= 500 ?
	    "server_error" : "invalid_request_error");
	if (param != NULL)
		bn_json_put_str(b, param, strlen(param));
	else
		bn_buf_puts(b, "null");
	bn_buf_puts(b, ",\"code\":");
	if (code != NULL)
		bn_json_put_str(b, code, strlen(code));
	else
		bn_buf_puts(b, "null");
	bn_buf_puts(b, "}}");
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *param,
    const char *code, const char *allow, const char *fmt, ...)
{
	struct bn_buf b = { 0 };
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	error_body(&b, status, param, code, msg);
	return respond(c, status, &b, allow);
}

static const char *
finish_name(const struct req *r)
{
	return r->finish == FIN_LENGTH ? "length" : "stop";
}

static void
put_usage(struct bn_buf *b, const struct req *r)
{
	bn_buf_printf(b, "\"usage\":{\"prompt_tokens\":%zu,"
	    "\"completion_tokens\":%d,\"total_tokens\":%zu}", r->nids, r->ngen,
	    r->nids + (size_t)r->ngen);
}

/* the head of a response or chunk: id, object, created, model */
static void
put_head(struct bn_buf *b, const struct req *r, const char *object)
{
	bn_buf_printf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,"
	    "\"model\":", r->id, object, r->created);
	bn_json_put_str(b, srv.model_id, strlen(srv.model_id));
}

/* one server-sent event: a chunk with text s[0..n), or the final one
 * (fin) or the delta of the assistant's role (role) */
static void
put_chunk(struct bn_buf *b, const struct req *r, const char *s, size_t n,
    int fin, int role)
{
	bn_buf_puts(b, "data: ");
	if (r->kind == KIND_CHAT) {
		put_head(b, r, "chat.completion.chunk");
		bn_buf_puts(b, ",\"choices\":[{\"index\":0,\"delta\":{");
		if (role)
			bn_buf_puts(b, "\"role\":\"assistant\","
			    "\"content\":\"\"");
		else if (!fin) {
			bn_buf_puts(b, "\"content\":");
			put_text(b, s, n);
		}
		bn_buf_puts(b, "},\"logprobs\":null,\"finish_reason\":");
	} else {
		put_head(b, r, "text_completion");
		bn_buf_puts(b, ",\"choices\":[{\"text\":");
		put_text(b, s, n);
		bn_buf_puts(b, ",\"index\":0,\"logprobs\":null,"
		    "\"finish_reason\":");
	}
	if (fin)
		bn_buf_printf(b, "\"%s\"", finish_name(r));
	else
		bn_buf_puts(b, "null");
	bn_buf_puts(b, "}]}\n\n");
}

/* Format what r has for its stream into r->out; under the mutex.
 * 0 when there is nothing yet. */
static int
stream_fill(struct req *r)
{
	size_t safe;

	if (r->stage == ST_END)
		return 0;
	if (r->failed) {
		bn_buf_puts(&r->out, "data: ");
		error_body(&r->out, (unsigned)r->fail_status, NULL, NULL,
		    r->fail_msg);
		bn_buf_puts(&r->out, "\n\ndata: [DONE]\n\n");
		r->stage = ST_END;
		return 1;
	}
	if (r->stage == ST_START) {
		r->stage = ST_BODY;
		if (r->kind == KIND_CHAT) {
			put_chunk(&r->out, r, NULL, 0, 0, 1);
			return 1;
		}
	}
	safe = safe_len(r);
	if (safe > r->sent) {
		put_chunk(&r->out, r, r->text.p + r->sent, safe - r->sent, 0,
		    0);
		r->sent = safe;
		return 1;
	}
	if (!r->done)
		return 0;
	put_chunk(&r->out, r, "", 0, 1, 0);
	if (r->usage) {
		bn_buf_puts(&r->out, "data: ");
		put_head(&r->out, r, r->kind == KIND_CHAT ?
		    "chat.completion.chunk" : "text_completion");
		bn_buf_puts(&r->out, ",\"choices\":[],");
		put_usage(&r->out, r);
		bn_buf_puts(&r->out, "}\n\n");
	}
	bn_buf_puts(&r->out, "data: [DONE]\n\n");
	r->stage = ST_END;
	return 1;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&srv.mu);
	for (;;) {
		if (r->out.oom) {
			req_cancel(r);
			break;
		}
		if (r->out_off < r->out.n) {
			n = r->out.n - r->out_off;
			if (n > max)
				n = max;
			memcpy(buf, r->out.p + r->out_off, n);
			r->out_off += n;
			if (r->out_off == r->out.n)
				r->out.n = r->out_off = 0;
			pthread_mutex_unlock(&srv.mu);
			return (ssize_t)n;
		}
		if (r->stage == ST_END) {
			pthread_mutex_unlock(&srv.mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (r->cancelled)
			break;
		if (stream_fill(r))
			continue;
		if (req_wait(r) && gone(r->fd)) {
			req_cancel(r);
			break;
		}
	}
	pthread_mutex_unlock(&srv.mu);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
stream_free(void *cls)
{
	struct req *r = cls;

	pthread_mutex_lock(&srv.mu);
	req_cancel(r);
	req_unref(r);
	pthread_mutex_unlock(&srv.mu);
}

struct apierr {
	unsigned status;
	const char *param, *code;
	char msg[512];
};

static int
bad(struct apierr *a, unsigned status, const char *param, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	a->status = status;
	a->param = param;
	a->code = code;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof a->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int
is_null(const struct bn_json *v)
{
	return v == NULL || v->type == BN_JSON_NULL;
}

/* Fields that change the output and that bnserve does not do: refused
 * unless absent or at their no-op value. */
static int
unsupported(const struct bn_json *root, struct apierr *a)
{
	static const char *const never[] = { "tools", "tool_choice",
	    "functions", "function_call", "top_logprobs", "logit_bias",
	    "prediction", "audio", "suffix", "grammar", "json_schema",
	    NULL };
	static const char *const one[] = { "n", "best_of", NULL };
	static const char *const zero[] = { "presence_penalty",
	    "frequency_penalty", NULL };
	const struct bn_json *v;
	int i;

	for (i = 0; never[i] != NULL; i++)
		if (!is_null(v = bn_json_get(root, never[i])) &&
		    !(v->type == BN_JSON_OBJECT && v->n == 0) &&
		    !(v->type == BN_JSON_ARRAY && v->n == 0) &&
		    !(v->type == BN_JSON_STRING && v->len == 0))
			return bad(a, 400, never[i], "unsupported_parameter",
			    "'%s' is not supported", never[i]);
	for (i = 0; one[i] != NULL; i++)
		if (!is_null(v = bn_json_get(root, one[i])) &&
		    !(v->type == BN_JSON_NUMBER && v->num == 1))
			return bad(a, 400, one[i], "unsupported_parameter",
			    "'%s': only 1 is supported", one[i]);
	for (i = 0; zero[i] != NULL; i++)
		if (!is_null(v = bn_json_get(root, zero[i])) &&
		    !(v->type == BN_JSON_NUMBER && v->num == 0))
			return bad(a, 400, zero[i], "unsupported_parameter",
			    "'%s': only 0 is supported", zero[i]);
	if (!is_null(v = bn_json_get(root, "logprobs")) &&
	    v->type != BN_JSON_FALSE)
		return bad(a, 400, "logprobs", "unsupported_parameter",
		    "'logprobs' is not supported");
	if (!is_null(v = bn_json_get(root, "echo")) &&
	    v->type != BN_JSON_FALSE)
		return bad(a, 400, "echo", "unsupported_parameter",
		    "'echo' is not supported");
	if (!is_null(v = bn_json_get(root, "response_format")) &&
	    !bn_json_streq(bn_json_get(v, "type"), "text"))
		return bad(a, 400, "response_format", "unsupported_parameter",
		    "'response_format': only {\"type\": \"text\"} is "
		    "supported");
	return 0;
}

/* A number field in [lo, hi]: 1 and *out when present, 0 when absent or
 * null, -1 on error. */
static int
num_field(const struct bn_json *root, const char *key, double lo, double hi,
    double *out, struct apierr *a)
{
	const struct bn_json *v = bn_json_get(root, key);

	if (is_null(v))
		return 0;
	if (v->type != BN_JSON_NUMBER)
		return bad(a, 400, key, "invalid_type", "'%s' must be a "
		    "number, not %s", key, bn_json_type_name(v->type));
	if (!(v->num >= lo && v->num <= hi))
		return bad(a, 400, key, "invalid_value", "'%s' must be from "
		    "%g to %g", key, lo, hi);
	*out = v->num;
	return 1;
}

static int
int_field(const struct bn_json *root, const char *key, int64_t lo,
    int64_t hi, int64_t *out, struct apierr *a)
{
	const struct bn_json *v = bn_json_get(root, key);

	if (is_null(v))
		return 0;
	if (v->type != BN_JSON_NUMBER || bn_json_i64(v, out) != 0)
		return bad(a, 400, key, "invalid_type", "'%s' must be an "
		    "integer", key);
	if (*out < lo || *out > hi)
		return bad(a, 400, key, "invalid_value", "'%s' must be from "
		    "%" PRId64 " to %" PRId64, key, lo, hi);
	return 1;
}

/* The text of a message's content: a string, or an array of text
 * parts, joined; NULL (and a) if neither. */
static char *
content_text(const struct bn_json *c, size_t i, size_t *len,
    struct apierr *a)
{
	const struct bn_json *p, *t;
	struct bn_buf b = { 0 };
	size_t k;

	if (c != NULL && c->type == BN_JSON_STRING) {
		bn_buf_put(&b, c->str, c->len);
	} else if (c != NULL && c->type == BN_JSON_ARRAY) {
		for (k = 0; k < c->n; k++) {
			p = bn_json_at(c, k);
			t = bn_json_get(p, "text");
			if (!bn_json_streq(bn_json_get(p, "type"), "text") ||
			    t == NULL || t->type != BN_JSON_STRING) {
				bn_buf_free(&b);
				bad(a, 400, "messages", "invalid_value",
				    "messages[%zu].content[%zu]: only text "
				    "parts are supported", i, k);
				return NULL;
			}
			bn_buf_put(&b, t->str, t->len);
		}
	} else {
		bad(a, 400, "messages", "invalid_type", "messages[%zu].content "
		    "must be a string or an array of text parts", i);
		return NULL;
	}
	if (memchr(b.p != NULL ? b.p : "", '\0', b.n) != NULL) {
		bn_buf_free(&b);
		bad(a, 400, "messages", "invalid_value", "messages[%zu]."
		    "content holds a NUL", i);
		return NULL;
	}
	*len = b.n;
	if (b.p == NULL)
		return strdup("");
	return b.p;
}

/* The prompt text of a chat request (malloc'd), formatted with the
 * model's template as bnrun --chat does. */
static char *
chat_prompt(const struct bn_json *root, size_t *len, struct apierr *a)
{
	const struct bn_json *ms = bn_json_get(root, "messages"), *m, *role;
	struct bn_chat_msg *msg;
	struct bn_err e = { "" };
	char *out = NULL;
	size_t i, k = 0;
	int st;

	if (ms == NULL)
		return bad(a, 400, "messages", "missing_required_parameter",
		    "'messages' is required"), NULL;
	if (ms->type != BN_JSON_ARRAY || ms->n == 0)
		return bad(a, 400, "messages", "invalid_type", "'messages' "
		    "must be a non-empty array"), NULL;
	if (srv.family == BN_CHAT_UNKNOWN)
		return bad(a, 400, "messages", "no_chat_template", "the model "
		    "has no chat template of a known family: start bnserve "
		    "with --chat-template NAME (%s), or use /v1/completions",
		    bn_chat_names()), NULL;
	if ((msg = calloc(ms->n + 1, sizeof *msg)) == NULL)
		return bad(a, 500, NULL, NULL, "out of memory"), NULL;
	role = bn_json_get(bn_json_at(ms, 0), "role");
	if (srv.sys != NULL && !bn_json_streq(role, "system")) {
		msg[k].role = "system";
		msg[k].content = srv.sys;
		msg[k++].len = strlen(srv.sys);
	}
	for (i = 0; i < ms->n; i++, k++) {
		m = bn_json_at(ms, i);
		role = bn_json_get(m, "role");
		if (m->type != BN_JSON_OBJECT || role == NULL ||
		    role->type != BN_JSON_STRING) {
			bad(a, 400, "messages", "invalid_type", "messages[%zu] "
			    "must be an object with a string 'role'", i);
			goto out;
		}
		if (bn_json_streq(role, "system") ||
		    bn_json_streq(role, "developer"))
			msg[k].role = "system";
		else if (bn_json_streq(role, "user"))
			msg[k].role = "user";
		else if (bn_json_streq(role, "assistant"))
			msg[k].role = "assistant";
		else {
			bad(a, 400, "messages", "invalid_value",
			    "messages[%zu].role: '%s' is not supported "
			    "(system, user, assistant)", i, role->str);
			goto out;
		}
		if ((msg[k].content = content_text(bn_json_get(m, "content"),
		    i, &msg[k].len, a)) == NULL)
			goto out;
	}
	if ((st = bn_chat_format(srv.family, msg, k, 1, &out, len, &e)) !=
	    BN_OK) {
		out = NULL;
		bad(a, st == BN_ENOMEM ? 500 : 400, "messages",
		    st == BN_ENOMEM ? NULL : "invalid_value", "%s", e.msg);
	}
out:
	for (i = 0; i < k; i++)
		if (msg[i].content != srv.sys)
			free((char *)msg[i].content);
	free(msg);
	return out;
}

static char *
text_prompt(const struct bn_json *root, size_t *len, struct apierr *a)
{
	const struct bn_json *p = bn_json_get(root, "prompt");
	char *s;

	if (p == NULL)
		return bad(a, 400, "prompt", "missing_required_parameter",
		    "'prompt' is required"), NULL;
	if (p->type == BN_JSON_ARRAY && p->n == 1 &&
	    bn_json_at(p, 0)->type == BN_JSON_STRING)
		p = bn_json_at(p, 0);
	if (p->type != BN_JSON_STRING)
		return bad(a, 400, "prompt", "invalid_type", "'prompt' must be "
		    "a string (or an array of one)"), NULL;
	if (memchr(p->str, '\0', p->len) != NULL)
		return bad(a, 400, "prompt", "invalid_value", "'prompt' holds "
		    "a NUL"), NULL;
	if ((s = malloc(p->len + 1)) == NULL)
		return bad(a, 500, NULL, NULL, "out of memory"), NULL;
	memcpy(s, p->str, p->len + 1);
	*len = p->len;
	return s;
}

/* A request from its JSON body, or NULL and the error in a. */
static struct req *
parse_req(int kind, const char *body, size_t blen, struct apierr *a)
{
	struct bn_json_doc d = { 0 };
	struct bn_err e = { "" };
	const struct bn_json *root, *v, *so;
	struct req *r = NULL;
	double temp = 1, top_p = 1;
	int64_t top_k = 0, mt = -1, seed;
	uint64_t useed;
	char *text = NULL;
	int32_t *ids = NULL;
	size_t len, n, i;
	int st, stream = 0, usage = 0;

	if ((st = bn_json_parse(&d, body, blen, &e)) != BN_OK) {
		bad(a, st == BN_ENOMEM ? 500 : 400, NULL, st == BN_ENOMEM ?
		    NULL : "invalid_json", "%s%s", st == BN_ENOMEM ? "" :
		    "malformed JSON: ", e.msg);
		goto out;
	}
	root = d.root;
	if (root->type != BN_JSON_OBJECT) {
		bad(a, 400, NULL, "invalid_type", "the request body must be a "
		    "JSON object");
		goto out;
	}
	if (unsupported(root, a) != 0)
		goto out;
	v = bn_json_get(root, "model");
	if (!is_null(v) && v->type != BN_JSON_STRING) {
		bad(a, 400, "model", "invalid_type", "'model' must be a "
		    "string");
		goto out;
	}
	if (!is_null(v) && !bn_json_streq(v, srv.model_id)) {
		bad(a, 400, "model", "model_not_found", "the model '%s' does "
		    "not exist: this server has '%s'", v->str, srv.model_id);
		goto out;
	}
	if (num_field(root, "temperature", 0, 2, &temp, a) < 0 ||
	    num_field(root, "top_p", 0, 1, &top_p, a) < 0 ||
	    int_field(root, "top_k", 0, INT32_MAX, &top_k, a) < 0 ||
	    int_field(root, "max_tokens", 1, INT32_MAX, &mt, a) < 0 ||
	    (kind == KIND_CHAT && mt < 0 && int_field(root,
	    "max_completion_tokens", 1, INT32_MAX, &mt, a) < 0))
		goto out;
	if ((st = int_field(root, "seed", INT64_MIN, INT64_MAX, &seed, a)) < 0)
		goto out;
	if (st > 0)
		useed = (uint64_t)seed;
	else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		useed = (uint64_t)ts.tv_sec << 30 ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)(uintptr_t)&ts;
	}
	v = bn_json_get(root, "stream");
	if (!is_null(v) && v->type != BN_JSON_TRUE &&
	    v->type != BN_JSON_FALSE) {
		bad(a, 400, "stream", "invalid_type", "'stream' must be a "
		    "boolean");
		goto out;
	}
	stream = v != NULL && v->type == BN_JSON_TRUE;
	so = bn_json_get(root, "stream_options");
	if (!is_null(so)) {
		v = bn_json_get(so, "include_usage");
		if (so->type != BN_JSON_OBJECT || (!is_null(v) &&
		    v->type != BN_JSON_TRUE && v->type != BN_JSON_FALSE)) {
			bad(a, 400, "stream_options", "invalid_type",
			    "'stream_options' must be an object, its "
			    "'include_usage' a boolean");
			goto out;
		}
		usage = v != NULL && v->type == BN_JSON_TRUE;
	}
	if ((r = calloc(1, sizeof *r)) == NULL) {
		bad(a, 500, NULL, NULL, "out of memory");
		goto out;
	}
	r->slot = -1;
	r->fd = -1;
	r->refs = 1;
	pthread_cond_init(&r->cv, NULL);
	v = bn_json_get(root, "stop");
	if (!is_null(v)) {
		const struct bn_json *s = v;

		if (v->type == BN_JSON_ARRAY && v->n > MAX_STOP) {
			bad(a, 400, "stop", "invalid_value", "'stop': at most "
			    "%d strings", MAX_STOP);
			goto fail;
		}
		for (i = 0; i < (v->type == BN_JSON_ARRAY ? v->n : 1); i++) {
			if (v->type == BN_JSON_ARRAY)
				s = bn_json_at(v, i);
			if (s->type != BN_JSON_STRING || s->len == 0 ||
			    memchr(s->str, '\0', s->len) != NULL) {
				bad(a, 400, "stop", "invalid_type", "'stop' "
				    "must be a non-empty string or an array "
				    "of them");
				goto fail;
			}
			if ((r->stop[r->nstop++] = strdup(s->str)) == NULL) {
				bad(a, 500, NULL, NULL, "out of memory");
				goto fail;
			}
		}
	}
	text = kind == KIND_CHAT ? chat_prompt(root, &len, a) :
	    text_prompt(root, &len, a);
	if (text == NULL)
		goto fail;
	if ((st = bn_tokenizer_encode(srv.tk, text, len, &ids, &n, &e)) !=
	    BN_OK) {
		bad(a, st == BN_ENOMEM ? 500 : 400, kind == KIND_CHAT ?
		    "messages" : "prompt", NULL, "%s", e.msg);
		goto fail;
	}
	/* the BOS rule of bnrun */
	if ((r->ids = malloc((n + 1) * sizeof *ids)) == NULL) {
		bad(a, 500, NULL, NULL, "out of memory");
		goto fail;
	}
	r->nids = 0;
	if (srv.bos)
		r->ids[r->nids++] = bn_tokenizer_bos(srv.tk);
	memcpy(r->ids + r->nids, ids, n * sizeof *ids);
	r->nids += n;
	for (i = 0; i < r->nids; i++)
		if (r->ids[i] < 0 || r->ids[i] >= srv.m.c.vocab) {
			bad(a, 400, kind == KIND_CHAT ? "messages" : "prompt",
			    NULL, "token %zu of the prompt has id %d, outside "
			    "the model's vocabulary", i, (int)r->ids[i]);
			goto fail;
		}
	if (r->nids == 0) {
		bad(a, 400, "prompt", "invalid_value", "empty prompt");
		goto fail;
	}
	if (r->nids >= (size_t)srv.o.ctx || (mt > 0 &&
	    r->nids + (size_t)mt > (size_t)srv.o.ctx)) {
		if (r->nids < (size_t)srv.o.ctx)
			bad(a, 400, "max_tokens", "context_length_exceeded",
			    "the prompt (%zu tokens) and max_tokens (%" PRId64
			    ") need more than the context of %d tokens "
			    "(--ctx)", r->nids, mt, srv.o.ctx);
		else
			bad(a, 400, kind == KIND_CHAT ? "messages" : "prompt",
			    "context_length_exceeded", "the prompt has %zu "
			    "tokens; the context, %d, leaves no room for a "
			    "reply (--ctx)", r->nids, srv.o.ctx);
		goto fail;
	}
	/* max_tokens: OpenAI's 16 for a completion, the context for a
	 * chat */
	if (mt < 0)
		mt = kind == KIND_TEXT ? 16 : srv.o.ctx;
	if ((size_t)mt > (size_t)srv.o.ctx - r->nids)
		mt = srv.o.ctx - (int64_t)r->nids;
	r->max_tokens = (int)mt;
	if (bn_sampler_init(&r->smp, srv.m.c.vocab, temp, (int)top_k, top_p,
	    useed) != BN_OK) {
		bad(a, 500, NULL, NULL, "out of memory");
		goto fail;
	}
	r->kind = kind;
	r->stream = stream;
	r->usage = usage;
	goto out;
fail:
	if (r != NULL) {
		free(r->ids);
		for (i = 0; i < (size_t)r->nstop; i++)
			free(r->stop[i]);
		pthread_cond_destroy(&r->cv);
		free(r);
	}
	r = NULL;
out:
	free(ids);
	free(text);
	bn_json_free(&d);
	return r;
}

/* The response to a finished (not streamed) request. */
static void
final_body(struct bn_buf *b, const struct req *r)
{
	if (r->kind == KIND_CHAT) {
		put_head(b, r, "chat.completion");
		bn_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":"
		    "{\"role\":\"assistant\",\"content\":");
		put_text(b, r->text.p != NULL ? r->text.p : "", r->keep);
		bn_buf_printf(b, "},\"logprobs\":null,\"finish_reason\":"
		    "\"%s\"}],", finish_name(r));
	} else {
		put_head(b, r, "text_completion");
		bn_buf_puts(b, ",\"choices\":[{\"text\":");
		put_text(b, r->text.p != NULL ? r->text.p : "", r->keep);
		bn_buf_printf(b, ",\"index\":0,\"logprobs\":null,"
		    "\"finish_reason\":\"%s\"}],", finish_name(r));
	}
	put_usage(b, r);
	bn_buf_puts(b, "}");
}

/* A parsed request: into the queue, then its response. */
static enum MHD_Result
run_req(struct MHD_Connection *c, struct conn *k, struct req *r)
{
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *res;
	struct bn_buf b = { 0 };
	enum MHD_Result ret;
	unsigned status;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	r->fd = ci != NULL ? ci->connect_fd : -1;
	r->created = (long long)time(NULL);
	r->t0 = r->looked = now();
	pthread_mutex_lock(&srv.mu);
	if (srv.stopping) {
		pthread_mutex_unlock(&srv.mu);
		req_unref(r);
		return send_error(c, 503, NULL, NULL, NULL, "the server is "
		    "stopping");
	}
	if (srv.nactive + srv.nqueue >= srv.o.parallel + srv.o.queue) {
		pthread_mutex_unlock(&srv.mu);
		req_unref(r);
		return send_error(c, 503, NULL, NULL, NULL, "the server is "
		    "busy: %d requests running and %d waiting; try again "
		    "later", srv.o.parallel, srv.o.queue);
	}
	snprintf(r->id, sizeof r->id, "%s-%llx%llu", r->kind == KIND_CHAT ?
	    "chatcmpl" : "cmpl", (unsigned long long)srv.started,
	    ++srv.nreq);
	r->refs++;		/* the queue's, then the slot's */
	if (srv.qtail != NULL)
		srv.qtail->next = r;
	else
		srv.qhead = r;
	srv.qtail = r;
	srv.nqueue++;
	k->r = r;		/* the connection's */
	srv.nconn++;		/* until completed() */
	pthread_cond_signal(&srv.wake);
	if (r->stream) {
		r->refs++;	/* the response's */
		pthread_mutex_unlock(&srv.mu);
		res = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		    16384, stream_read, r, stream_free);
		if (res == NULL) {
			stream_free(r);
			return MHD_NO;
		}
		MHD_add_response_header(res, "Content-Type",
		    "text/event-stream");
		MHD_add_response_header(res, "Cache-Control", "no-cache");
		ret = MHD_queue_response(c, MHD_HTTP_OK, res);
		MHD_destroy_response(res);
		return ret;
	}
	while (!r->done)
		if (req_wait(r) && gone(r->fd)) {
			req_cancel(r);
			pthread_mutex_unlock(&srv.mu);
			return MHD_NO;
		}
	if (r->failed) {
		status = (unsigned)r->fail_status;
		error_body(&b, status, NULL, NULL, r->fail_msg);
	} else {
		status = MHD_HTTP_OK;
		final_body(&b, r);
	}
	pthread_mutex_unlock(&srv.mu);
	return respond(c, status, &b, NULL);
}

static int
route(const char *url)
{
	if (strcmp(url, "/") == 0)
		return R_PAGE;
	if (strcmp(url, "/health") == 0)
		return R_HEALTH;
	if (strcmp(url, "/v1/models") == 0)
		return R_MODELS;
	if (strcmp(url, "/v1/chat/completions") == 0)
		return R_CHAT;
	if (strcmp(url, "/v1/completions") == 0)
		return R_TEXT;
	return R_NONE;
}

/* Authorization: Bearer KEY, compared in time independent of where it
 * differs */
static int
authorized(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	size_t i, n = strlen(srv.o.api_key);
	unsigned char d = 0;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	if (strlen(h) != n)
		return 0;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(h[i] ^ srv.o.api_key[i]);
	return d == 0;
}

static enum MHD_Result
get(struct MHD_Connection *c, int rt)
{
	struct MHD_Response *res;
	struct bn_buf b = { 0 };
	enum MHD_Result ret;

	if (rt == R_PAGE) {
		res = MHD_create_response_from_buffer(sizeof page,
		    (void *)page, MHD_RESPMEM_PERSISTENT);
		if (res == NULL)
			return MHD_NO;
		MHD_add_response_header(res, "Content-Type",
		    "text/html; charset=utf-8");
		ret = MHD_queue_response(c, MHD_HTTP_OK, res);
		MHD_destroy_response(res);
		return ret;
	}
	if (rt == R_HEALTH)
		bn_buf_puts(&b, "{\"status\":\"ok\"}");
	else {
		bn_buf_puts(&b, "{\"object\":\"list\",\"data\":[{\"id\":");
		bn_json_put_str(&b, srv.model_id, strlen(srv.model_id));
		bn_buf_printf(&b, ",\"object\":\"model\",\"created\":%lld,"
		    "\"owned_by\":\"bntools\"}]}", srv.started);
	}
	return respond(c, MHD_HTTP_OK, &b, NULL);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct conn *k = *con_cls;
	const char *cl;
	struct apierr a = { 0 };
	struct req *r;
	unsigned long long len;
	int rt, post;

	(void)cls;
	(void)version;
	if (k == NULL) {
		/* the headers: route, method, key, size */
		rt = route(url);
		post = rt == R_CHAT || rt == R_TEXT;
		if (rt == R_NONE)
			return send_error(c, 404, NULL, "not_found", NULL,
			    "no such path: %s", url);
		if (post ? strcmp(method, "POST") != 0 :
		    strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return send_error(c, 405, NULL, "method_not_allowed",
			    post ? "POST" : "GET, HEAD", "%s does not take %s",
			    url, method);
		/* the page asks for the key itself */
		if (srv.o.api_key != NULL && rt != R_HEALTH && rt != R_PAGE &&
		    !authorized(c))
			return send_error(c, 401, NULL, "invalid_api_key",
			    NULL, "a missing or wrong API key: send "
			    "Authorization: Bearer KEY");
		if (!post)
			return get(c, rt);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (sscanf(cl, "%llu", &len) != 1 ||
		    len > srv.o.max_body))
			return send_error(c, 413, NULL, "request_too_large",
			    NULL, "the request body is larger than %zu bytes "
			    "(--max-body)", srv.o.max_body);
		if ((k = calloc(1, sizeof *k)) == NULL)
			return MHD_NO;
		k->route = rt;
		*con_cls = k;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/* a chunked body has no length to check first */
		if (k->body.n + *upload_size > srv.o.max_body)
			k->too_big = 1;
		else
			bn_buf_put(&k->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (k->r != NULL)	/* called again after the response */
		return MHD_YES;
	if (k->too_big)
		return send_error(c, 413, NULL, "request_too_large", NULL,
		    "the request body is larger than %zu bytes (--max-body)",
		    srv.o.max_body);
	if (k->body.oom)
		return send_error(c, 500, NULL, NULL, NULL, "out of memory");
	r = parse_req(k->route == R_CHAT ? KIND_CHAT : KIND_TEXT,
	    k->body.p != NULL ? k->body.p : "", k->body.n, &a);
	if (r == NULL)
		return send_error(c, a.status, a.param, a.code, NULL, "%s",
		    a.msg);
	return run_req(c, k, r);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn *k = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (k == NULL)
		return;
	if (k->r != NULL) {
		pthread_mutex_lock(&srv.mu);
		req_cancel(k->r);
		req_unref(k->r);
		srv.nconn--;
		pthread_mutex_unlock(&srv.mu);
	}
	bn_buf_free(&k->body);
	free(k);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fprintf(stderr, "%s: libmicrohttpd: ", bn_progname);
	vfprintf(stderr, fmt, ap);
}

/* The chat template family and its end-of-turn tokens; no template of
 * a known family only leaves /v1/chat/completions out. */
static void
chat_setup(void)
{
	const char *const *eot;
	char *text;
	size_t len;
	int32_t id;
	int k;

	srv.family = BN_CHAT_UNKNOWN;
	if (srv.o.tmpl_name != NULL)
		srv.family = bn_chat_family(srv.o.tmpl_name);
	else if ((text = bn_vocab_chat_template(&srv.m.map.vocab, &len)) !=
	    NULL) {
		srv.family = bn_chat_detect(text);
		bn_chat_default_system(text, srv.family, &srv.sys);
		free(text);
	}
	if (srv.family == BN_CHAT_UNKNOWN) {
		if (srv.o.verbose)
			bn_warnx("no chat template of a known family: "
			    "/v1/chat/completions answers 400 "
			    "(--chat-template NAME)");
		return;
	}
	eot = bn_chat_eot(srv.family);
	for (k = 0; eot[k] != NULL && srv.nstop_ids < 18; k++)
		if ((id = bn_tokenizer_find(srv.tk, eot[k], strlen(eot[k]))) >=
		    0)
			srv.stop_ids[srv.nstop_ids++] = id;
	srv.stop_ids[srv.nstop_ids++] = bn_tokenizer_eos(srv.tk);
	srv.stop_ids[srv.nstop_ids++] = srv.m.c.eos;
	if (srv.o.verbose)
		bn_warnx("chat template: %s", bn_chat_name(srv.family));
}

/* the model's name: its file's, without directories and .bnt */
static char *
model_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s;
	size_t n;

	b = b != NULL ? b + 1 : path;
	if ((s = strdup(*b != '\0' ? b : "model")) == NULL)
		bn_errx(EX_OSERR, "out of memory");
	n = strlen(s);
	if (n > 4 && strcmp(s + n - 4, ".bnt") == 0)
		s[n - 4] = '\0';
	return s;
}

static struct MHD_Daemon *
listen_on(const struct opts *o, int *port)
{
	struct addrinfo hints = { 0 }, *ai;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	struct MHD_Daemon *d;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC;
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(o->host, NULL, &hints, &ai)) != 0)
		bn_errx(EX_USAGE, "--host %s: %s", o->host, gai_strerror(rc));
	memset(&ss, 0, sizeof ss);
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (ai->ai_family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)
		    o->port);
		flags |= MHD_USE_IPv6;
	} else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)
		    o->port);
	freeaddrinfo(ai);
	if (o->verbose)
		flags |= MHD_USE_ERROR_LOG;
	d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, handle,
	    NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_END);
	if (d == NULL)
		bn_errx(EX_OSERR, "cannot listen on %s port %d", o->host,
		    o->port);
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	*port = di != NULL ? di->port : o->port;
	return d;
}

int
main(int argc, char *argv[])
{
	struct opts *o = &srv.o;
	struct bn_err e = { "" };
	struct MHD_Daemon *d;
	MHD_socket lfd;
	struct timespec ts = { 0, 100000000L };
	sigset_t sigs;
	pthread_t eng;
	int st, i, port, sig, batch, late;

	bn_setprogname(argv[0]);
	o->host = "127.0.0.1";
	o->port = 8080;
	o->parallel = 4;
	o->queue = 16;
	o->max_body = 1 << 20;
	parse_args(argc, argv, o);
	bn_kernels_pick();
	if (o->threads == 0)
		o->threads = bn_pool_default_threads();
	if ((st = bn_model_open_flags(&srv.m, o->model, o->layout, &e)) !=
	    BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o->model, e.msg);
	if (srv.m.c.vocab >= HEAD_AUTO_VOCAB &&
	    (st = bn_model_quantize_head(&srv.m, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o->model, e.msg);
	if (!srv.m.map.has_vocab)
		bn_errx(EX_DATAERR, "%s: no tokenizer record", o->model);
	if ((st = bn_tokenizer_new(&srv.tk, &srv.m.map.vocab, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s: %s", o->model, e.msg);
	if (o->ctx == 0)
		o->ctx = srv.m.c.ctx < 4096 ? srv.m.c.ctx : 4096;
	srv.bos = bn_tokenizer_add_bos(srv.tk) && bn_tokenizer_bos(srv.tk) >= 0;
	srv.eos[0] = bn_tokenizer_eos(srv.tk);
	srv.eos[1] = srv.m.c.eos;
	srv.model_id = model_name(o->model);
	srv.started = (long long)time(NULL);
	chat_setup();
	batch = PREFILL + o->parallel;
	if ((st = bn_state_new_kv(&srv.s, &srv.m, o->ctx, batch, o->threads,
	    o->kvtype, &e)) != BN_OK)
		bn_errx(bn_exit_code(st), "%s", e.msg);
	srv.slot = calloc((size_t)o->parallel, sizeof *srv.slot);
	srv.slot_state = calloc((size_t)o->parallel, sizeof *srv.slot_state);
	if (srv.slot == NULL || srv.slot_state == NULL)
		bn_errx(EX_OSERR, "out of memory");
	for (i = 0; i < o->parallel; i++)
		if ((st = bn_state_new_kv(&srv.slot_state[i], &srv.m, o->ctx,
		    1, 1, o->kvtype, &e)) != BN_OK)
			bn_errx(bn_exit_code(st), "%s", e.msg);
	pthread_mutex_init(&srv.mu, NULL);
	pthread_cond_init(&srv.wake, NULL);

	/* the signals are the main thread's, taken by sigtimedwait */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (pthread_create(&eng, NULL, engine, NULL) != 0)
		bn_errx(EX_OSERR, "cannot start the engine thread");
	d = listen_on(o, &port);
	bn_warnx("listening on http://%s%s%s:%d", strchr(o->host, ':') ?
	    "[" : "", o->host, strchr(o->host, ':') ? "]" : "", port);

	/* SIGTERM, SIGINT: no new connections or requests, the queue is
	 * turned away, what runs finishes; a second signal ends that too */
	while ((sig = sigwaitinfo(&sigs, NULL)) < 0 && errno == EINTR)
		;
	if (o->verbose)
		bn_warnx("%s: stopping", strsignal(sig));
	lfd = MHD_quiesce_daemon(d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	pthread_mutex_lock(&srv.mu);
	srv.stopping = 1;
	pthread_cond_signal(&srv.wake);
	pthread_mutex_unlock(&srv.mu);
	/* the engine ends, then the answers it made are sent (a stream's
	 * last events are written by its connection's thread): stopping
	 * the daemon closes every connection; after a second signal,
	 * a client that does not read is waited for 5 s at most */
	for (late = 0;;) {
		pthread_mutex_lock(&srv.mu);
		st = srv.engine_done && (srv.nconn == 0 ||
		    (srv.aborting && late++ >= 50));
		pthread_mutex_unlock(&srv.mu);
		if (st)
			break;
		if (sigtimedwait(&sigs, NULL, &ts) > 0) {
			pthread_mutex_lock(&srv.mu);
			srv.aborting = 1;
			pthread_cond_signal(&srv.wake);
			pthread_mutex_unlock(&srv.mu);
		}
	}
	pthread_join(eng, NULL);
	MHD_stop_daemon(d);
	if (o->verbose)
		bn_warnx("%llu requests, %llu steps of %llu tokens, at most %d "
		    "requests in one", srv.nreq, srv.steps, srv.ntok, srv.most);
	for (i = 0; i < o->parallel; i++)
		bn_state_free(srv.slot_state[i]);
	bn_state_free(srv.s);
	free(srv.slot);
	free(srv.slot_state);
	bn_tokenizer_free(srv.tk);
	bn_model_close(&srv.m);
	free(srv.model_id);
	free(srv.sys);
	return 0;
}
