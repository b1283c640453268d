/* unicode_re.c: parse a pattern into a tree, compile the tree into a
 * program of a few instructions, run it by backtracking. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "status.h"
#include "unicode.h"
#include "unicode_re.h"

#define NCLASS_NOT	4	/* \S or \P{..} inside one class */
#define REP_INF		-1
#define REP_MAX		1000	/* largest {n,m} count */
#define DEPTH_MAX	64	/* nested groups */
#define MEMO_BITS	((size_t)1 << 28)	/* larger: run without */

/* A set of code points: ranges, classes, classes excluded. */
struct cset {
	uint32_t (*r)[2];
	size_t nr, cap;
	unsigned any;		/* matches if flags & any */
	unsigned not[NCLASS_NOT];	/* matches if !(flags & not[k]) */
	int nnot;
	int neg;		/* [^...] */
};

enum { N_SET, N_CAT, N_ALT, N_REP, N_LOOK, N_BOL, N_EOL };

struct node {
	int type;
	int kid, next;		/* first child, next sibling; -1: none */
	int set;		/* N_SET */
	int min, max;		/* N_REP */
	int neg;		/* N_LOOK: (?!...) */
};

enum { I_SET, I_SPLIT, I_JMP, I_LOOK, I_BOL, I_EOL, I_MATCH };

struct inst {
	int op;
	int x, y;	/* SET: set; SPLIT: first, second; JMP: x;
			 * LOOK: x negated, y where to go on */
};

struct bn_re {
	struct cset *set;
	size_t nset, setcap;
	struct inst *prog;
	size_t nprog, progcap;
};

struct parser {
	const unsigned char *p;
	struct bn_re *re;
	struct node *nd;
	size_t nnd, ndcap;
	int depth;
	int err;		/* BN_OK, BN_EFORMAT, BN_ENOMEM */
	const char *why;
};

static int
fail(struct parser *ps, int st, const char *why)
{
	if (ps->err == BN_OK) {
		ps->err = st;
		ps->why = why;
	}
	return -1;
}

static int
new_node(struct parser *ps, int type)
{
	struct node *n;

	if (bn_grow(&ps->nd, &ps->ndcap, ps->nnd + 1, sizeof *ps->nd) != 0)
		return fail(ps, BN_ENOMEM, "out of memory");
	n = &ps->nd[ps->nnd];
	memset(n, 0, sizeof *n);
	n->type = type;
	n->kid = n->next = -1;
	return (int)ps->nnd++;
}

static int
new_set(struct parser *ps)
{
	struct bn_re *re = ps->re;

	if (bn_grow(&re->set, &re->setcap, re->nset + 1,
	    sizeof *re->set) != 0)
		return fail(ps, BN_ENOMEM, "out of memory");
	memset(&re->set[re->nset], 0, sizeof *re->set);
	return (int)re->nset++;
}

static int
set_range(struct parser *ps, int s, uint32_t lo, uint32_t hi)
{
	struct cset *c = &ps->re->set[s];

	if (lo > hi)
		return fail(ps, BN_EFORMAT, "range out of order");
	if (bn_grow(&c->r, &c->cap, c->nr + 1, sizeof *c->r) != 0)
		return fail(ps, BN_ENOMEM, "out of memory");
	c->r[c->nr][0] = lo;
	c->r[c->nr++][1] = hi;
	return 0;
}

/* A literal code point at ps->p (UTF-8 or an escape that stands for
 * one); ps->p moves past it. */
static int
literal(struct parser *ps, uint32_t *cp)
{
	const unsigned char *p = ps->p;
	uint32_t v = 0;
	int d, k;

	if (*p != '\\') {
		ps->p += bn_utf8_decode(p, strlen((const char *)p), cp);
		if (*cp == BN_UC_INVALID)
			return fail(ps, BN_EFORMAT, "pattern is not UTF-8");
		return 0;
	}
	p++;
	switch (*p) {
	case 'r': v = '\r'; break;
	case 'n': v = '\n'; break;
	case 't': v = '\t'; break;
	case 'f': v = '\f'; break;
	case 'v': v = '\v'; break;
	case 'x':
		p++;
		if (*p == '{') {
			for (k = 0, p++; (d = bn_hex_digit(*p)) >= 0 && k < 6;
			    k++, p++)
				v = v * 16 + (uint32_t)d;
			if (*p != '}' || k == 0 || v > 0x10FFFF)
				return fail(ps, BN_EFORMAT, "bad \\x{...}");
		} else {
			if (bn_hex_digit(p[0]) < 0 || bn_hex_digit(p[1]) < 0)
				return fail(ps, BN_EFORMAT, "bad \\xHH");
			v = (uint32_t)(bn_hex_digit(p[0]) * 16 +
			    bn_hex_digit(p[1]));
			p++;
		}
		break;
	default:
		if (*p >= 0x80 || (*p >= '0' && *p <= '9') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == 0)
			return fail(ps, BN_EFORMAT, "unknown escape");
		v = *p;
	}
	ps->p = p + 1;
	*cp = v;
	return 0;
}

/* \s \S \p{X} \P{X} at ps->p: the BN_UC_* flag in *flag and 1 if
 * negated; 0 with *flag 0 if there is none there. */
static int
class_escape(struct parser *ps, unsigned *flag, int *neg)
{
	static const struct {
		char name;
		unsigned flag;
	} cat[] = {
		{ 'L', BN_UC_L }, { 'M', BN_UC_M }, { 'N', BN_UC_N },
		{ 'P', BN_UC_P }, { 'S', BN_UC_S }
	};
	const unsigned char *p = ps->p;
	size_t i;

	*flag = 0;
	if (p[0] != '\\')
		return 0;
	if (p[1] == 's' || p[1] == 'S') {
		*flag = BN_UC_WS;
		*neg = p[1] == 'S';
		ps->p += 2;
		return 0;
	}
	if ((p[1] != 'p' && p[1] != 'P') || p[2] != '{')
		return 0;
	if (p[3] == 0 || p[4] != '}')
		return fail(ps, BN_EFORMAT, "unknown \\p{...}");
	for (i = 0; i < sizeof cat / sizeof cat[0]; i++)
		if (p[3] == cat[i].name)
			*flag = cat[i].flag;
	if (*flag == 0)
		return fail(ps, BN_EFORMAT, "unknown \\p{...}");
	*neg = p[1] == 'P';
	ps->p += 5;
	return 0;
}

static int
set_class(struct parser *ps, int s, unsigned flag, int neg)
{
	struct cset *c = &ps->re->set[s];

	if (!neg) {
		c->any |= flag;
		return 0;
	}
	if (c->nnot == NCLASS_NOT)
		return fail(ps, BN_EFORMAT, "too many negated classes");
	c->not[c->nnot++] = flag;
	return 0;
}

/* [...] at ps->p (past the '['). */
static int
bracket(struct parser *ps)
{
	uint32_t lo, hi;
	unsigned flag;
	int s, neg, first = 1;

	if ((s = new_set(ps)) < 0)
		return -1;
	if (*ps->p == '^') {
		ps->re->set[s].neg = 1;
		ps->p++;
	}
	while (*ps->p != ']' || first) {
		first = 0;
		if (*ps->p == 0)
			return fail(ps, BN_EFORMAT, "missing ]");
		if (class_escape(ps, &flag, &neg) != 0)
			return -1;
		if (flag != 0) {
			if (set_class(ps, s, flag, neg) != 0)
				return -1;
			continue;
		}
		if (literal(ps, &lo) != 0)
			return -1;
		hi = lo;
		if (ps->p[0] == '-' && ps->p[1] != ']' && ps->p[1] != 0) {
			ps->p++;
			if (literal(ps, &hi) != 0)
				return -1;
		}
		if (set_range(ps, s, lo, hi) != 0)
			return -1;
	}
	ps->p++;
	return s;
}

static int parse_alt(struct parser *);

static int
leaf_set(struct parser *ps, int s)
{
	int n;

	if (s < 0 || (n = new_node(ps, N_SET)) < 0)
		return -1;
	ps->nd[n].set = s;
	return n;
}

static int
parse_atom(struct parser *ps)
{
	uint32_t cp;
	unsigned flag;
	int n, s, neg, look = -1;

	switch (*ps->p) {
	case '(':
		ps->p++;
		if (ps->p[0] == '?') {
			if (ps->p[1] == '=' || ps->p[1] == '!')
				look = ps->p[1] == '!';
			else if (ps->p[1] != ':')
				return fail(ps, BN_EFORMAT, "unknown (?...)");
			ps->p += 2;
		}
		if (++ps->depth > DEPTH_MAX)
			return fail(ps, BN_EFORMAT, "groups nested too deep");
		if ((n = parse_alt(ps)) < 0)
			return -1;
		ps->depth--;
		if (*ps->p != ')')
			return fail(ps, BN_EFORMAT, "missing )");
		ps->p++;
		if (look >= 0) {
			s = n;
			if ((n = new_node(ps, N_LOOK)) < 0)
				return -1;
			ps->nd[n].kid = s;
			ps->nd[n].neg = look;
		}
		return n;
	case '[':
		ps->p++;
		return leaf_set(ps, bracket(ps));
	case '.':
		ps->p++;
		if ((s = new_set(ps)) < 0 || set_range(ps, s, '\n', '\n') != 0)
			return -1;
		ps->re->set[s].neg = 1;
		return leaf_set(ps, s);
	case '^':
	case '$':
		return new_node(ps, *ps->p++ == '^' ? N_BOL : N_EOL);
	case '*':
	case '+':
	case '?':
	case '{':
		return fail(ps, BN_EFORMAT, "nothing to repeat");
	}
	if (class_escape(ps, &flag, &neg) != 0)
		return -1;
	if ((s = new_set(ps)) < 0)
		return -1;
	if (flag != 0) {
		if (neg)
			ps->re->set[s].neg = 1;
		ps->re->set[s].any = flag;
		return leaf_set(ps, s);
	}
	if (literal(ps, &cp) != 0 || set_range(ps, s, cp, cp) != 0)
		return -1;
	return leaf_set(ps, s);
}

static int
number(struct parser *ps, int *v)
{
	if (*ps->p < '0' || *ps->p > '9')
		return -1;
	for (*v = 0; *ps->p >= '0' && *ps->p <= '9'; ps->p++)
		if ((*v = *v * 10 + (*ps->p - '0')) > REP_MAX)
			return -1;
	return 0;
}

/* Can node n match the empty string? */
static int
nullable(const struct parser *ps, int n)
{
	const struct node *d = &ps->nd[n];
	int k;

	switch (d->type) {
	case N_SET:
		return 0;
	case N_CAT:
		for (k = d->kid; k >= 0; k = ps->nd[k].next)
			if (!nullable(ps, k))
				return 0;
		return 1;
	case N_ALT:
		for (k = d->kid; k >= 0; k = ps->nd[k].next)
			if (nullable(ps, k))
				return 1;
		return 0;
	case N_REP:
		return d->min == 0 || nullable(ps, d->kid);
	default:
		return 1;
	}
}

static int
parse_rep(struct parser *ps)
{
	int n, r, min, max;

	if ((n = parse_atom(ps)) < 0)
		return -1;
	for (;;) {
		switch (*ps->p) {
		case '?': min = 0; max = 1; break;
		case '*': min = 0; max = REP_INF; break;
		case '+': min = 1; max = REP_INF; break;
		case '{':
			ps->p++;
			if (number(ps, &min) != 0)
				return fail(ps, BN_EFORMAT, "bad {n,m}");
			max = min;
			if (*ps->p == ',') {
				ps->p++;
				max = REP_INF;
				if (*ps->p != '}' && (number(ps, &max) != 0 ||
				    max < min))
					return fail(ps, BN_EFORMAT,
					    "bad {n,m}");
			}
			if (*ps->p != '}')
				return fail(ps, BN_EFORMAT, "bad {n,m}");
			break;
		default:
			return n;
		}
		ps->p++;
		if (*ps->p == '?' || *ps->p == '+')
			return fail(ps, BN_EFORMAT, "lazy or possessive "
			    "quantifier");
		if (max == REP_INF && nullable(ps, n))
			return fail(ps, BN_EFORMAT, "repetition of what "
			    "can match nothing");
		if ((r = new_node(ps, N_REP)) < 0)
			return -1;
		ps->nd[r].kid = n;
		ps->nd[r].min = min;
		ps->nd[r].max = max;
		n = r;
	}
}

/* A concatenation, up to a |, a ) or the end. */
static int
parse_cat(struct parser *ps)
{
	int n, k, last = -1;

	if ((n = new_node(ps, N_CAT)) < 0)
		return -1;
	while (*ps->p != 0 && *ps->p != '|' && *ps->p != ')') {
		if ((k = parse_rep(ps)) < 0)
			return -1;
		if (last < 0)
			ps->nd[n].kid = k;
		else
			ps->nd[last].next = k;
		last = k;
	}
	return n;
}

static int
parse_alt(struct parser *ps)
{
	int n, k, last;

	if ((n = new_node(ps, N_ALT)) < 0 || (k = parse_cat(ps)) < 0)
		return -1;
	ps->nd[n].kid = last = k;
	while (*ps->p == '|') {
		ps->p++;
		if ((k = parse_cat(ps)) < 0)
			return -1;
		ps->nd[last].next = k;
		last = k;
	}
	return n;
}

/* ---- compiling ---- */

static int
emit(struct parser *ps, int op, int x, int y)
{
	struct bn_re *re = ps->re;

	if (bn_grow(&re->prog, &re->progcap, re->nprog + 1,
	    sizeof *re->prog) != 0)
		return fail(ps, BN_ENOMEM, "out of memory");
	if (re->nprog > 1000000)
		return fail(ps, BN_EFORMAT, "pattern too large");
	re->prog[re->nprog].op = op;
	re->prog[re->nprog].x = x;
	re->prog[re->nprog].y = y;
	return (int)re->nprog++;
}

static int
gen(struct parser *ps, int n)
{
	const struct node *d = &ps->nd[n];
	struct bn_re *re = ps->re;
	int k, pc, loop, i, *fix = NULL;
	size_t nfix = 0, cap = 0, f;

	switch (d->type) {
	case N_SET:
		return emit(ps, I_SET, d->set, 0) < 0 ? -1 : 0;
	case N_BOL:
	case N_EOL:
		return emit(ps, d->type == N_BOL ? I_BOL : I_EOL, 0, 0) < 0 ?
		    -1 : 0;
	case N_CAT:
		for (k = d->kid; k >= 0; k = ps->nd[k].next)
			if (gen(ps, k) != 0)
				return -1;
		return 0;
	case N_LOOK:
		if ((pc = emit(ps, I_LOOK, d->neg, 0)) < 0 ||
		    gen(ps, d->kid) != 0 || emit(ps, I_MATCH, 0, 0) < 0)
			return -1;
		re->prog[pc].y = (int)re->nprog;
		return 0;
	case N_ALT:
		/* SPLIT a, next; a; JMP end; next: SPLIT b, ...; last */
		for (k = d->kid; k >= 0; k = ps->nd[k].next) {
			pc = -1;
			if (ps->nd[k].next >= 0 &&
			    (pc = emit(ps, I_SPLIT, 0, 0)) < 0)
				goto bad;
			if (pc >= 0)
				re->prog[pc].x = (int)re->nprog;
			if (gen(ps, k) != 0)
				goto bad;
			if (pc < 0)
				break;
			if (bn_grow(&fix, &cap, nfix + 1, sizeof *fix) != 0 ||
			    (fix[nfix++] = emit(ps, I_JMP, 0, 0)) < 0) {
				fail(ps, BN_ENOMEM, "out of memory");
				goto bad;
			}
			re->prog[pc].y = (int)re->nprog;
		}
		for (f = 0; f < nfix; f++)
			re->prog[fix[f]].x = (int)re->nprog;
		free(fix);
		return 0;
	case N_REP:
		for (i = 0; i < d->min; i++)
			if (gen(ps, d->kid) != 0)
				return -1;
		if (d->max == REP_INF) {
			/* loop: SPLIT body, end; body; JMP loop */
			if ((loop = emit(ps, I_SPLIT, 0, 0)) < 0)
				return -1;
			re->prog[loop].x = (int)re->nprog;
			if (gen(ps, d->kid) != 0 ||
			    emit(ps, I_JMP, loop, 0) < 0)
				return -1;
			re->prog[loop].y = (int)re->nprog;
			return 0;
		}
		/* (kid (kid ...)?)?: each SPLIT skips to the end */
		for (i = d->min; i < d->max; i++) {
			if ((pc = emit(ps, I_SPLIT, 0, 0)) < 0)
				goto bad;
			re->prog[pc].x = (int)re->nprog;
			if (bn_grow(&fix, &cap, nfix + 1, sizeof *fix) != 0) {
				fail(ps, BN_ENOMEM, "out of memory");
				goto bad;
			}
			fix[nfix++] = pc;
			if (gen(ps, d->kid) != 0)
				goto bad;
		}
		for (f = 0; f < nfix; f++)
			re->prog[fix[f]].y = (int)re->nprog;
		free(fix);
		return 0;
	}
	return fail(ps, BN_EINTERNAL, "bad node");
bad:
	free(fix);
	return -1;
}

int
bn_re_compile(struct bn_re **rep, const char *pat, struct bn_err *e)
{
	struct parser ps;
	struct bn_re *re;
	int root;

	*rep = NULL;
	if ((re = calloc(1, sizeof *re)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	memset(&ps, 0, sizeof ps);
	ps.p = (const unsigned char *)pat;
	ps.re = re;
	root = parse_alt(&ps);
	if (root >= 0 && *ps.p != 0)
		fail(&ps, BN_EFORMAT, "unbalanced )");
	if (ps.err == BN_OK && nullable(&ps, root))
		fail(&ps, BN_EFORMAT, "the pattern can match nothing");
	if (ps.err == BN_OK)
		gen(&ps, root);
	if (ps.err == BN_OK)
		emit(&ps, I_MATCH, 0, 0);
	free(ps.nd);
	if (ps.err != BN_OK) {
		bn_re_free(re);
		return bn_seterr(e, ps.err, "regex at offset %zu: %s",
		    (size_t)(ps.p - (const unsigned char *)pat), ps.why);
	}
	*rep = re;
	return BN_OK;
}

void
bn_re_free(struct bn_re *re)
{
	size_t i;

	if (re == NULL)
		return;
	for (i = 0; i < re->nset; i++)
		free(re->set[i].r);
	free(re->set);
	free(re->prog);
	free(re);
}

/* ---- matching ---- */

struct state {
	int pc;
	size_t i;
};

static int
in_set(const struct cset *c, uint32_t cp, unsigned fl)
{
	size_t k;
	int in = (fl & c->any) != 0;

	for (k = 0; !in && (int)k < c->nnot; k++)
		in = (fl & c->not[k]) == 0;
	for (k = 0; !in && k < c->nr; k++)
		in = cp >= c->r[k][0] && cp <= c->r[k][1];
	return in != c->neg;
}

static int
push(struct bn_re_scratch *sc, int pc, size_t i)
{
	struct state *st;

	if (bn_grow(&sc->stk, &sc->cap, sc->n + 1, sizeof *st) != 0)
		return -1;
	st = (struct state *)sc->stk + sc->n++;
	st->pc = pc;
	st->i = i;
	return 0;
}

/* Depth-first over the program from (pc, i): alternatives in order, so
 * the first MATCH reached is the leftmost-first match.  States above
 * base on the stack belong to this run.  memo (NULL in lookaheads,
 * which stop at their first match) marks the states visited: one seen
 * before has been explored in full without reaching MATCH (a state
 * cannot reach itself, as nothing repeated can match nothing), and
 * so fails again, which keeps a search linear in the text. */
static ptrdiff_t
run(const struct bn_re *re, const uint32_t *cp, const unsigned char *fl,
    size_t n, int pc, size_t i, struct bn_re_scratch *sc,
    unsigned char *memo, size_t *hi)
{
	const struct inst *in;
	struct state st;
	size_t base = sc->n, b;
	ptrdiff_t r;

	if (push(sc, pc, i) != 0)
		return -2;
	while (sc->n > base) {
		st = ((struct state *)sc->stk)[--sc->n];
		pc = st.pc;
		i = st.i;
		for (;;) {
			if (memo != NULL) {
				b = i * re->nprog + (size_t)pc;
				if (memo[b >> 3] & (1u << (b & 7)))
					break;
				memo[b >> 3] |= (unsigned char)(1u << (b & 7));
				if (i > *hi)
					*hi = i;
			}
			in = &re->prog[pc];
			if (in->op == I_SET) {
				if (i >= n || !in_set(&re->set[in->x], cp[i],
				    fl[i]))
					break;
				i++;
				pc++;
			} else if (in->op == I_SPLIT) {
				if (push(sc, in->y, i) != 0)
					return -2;
				pc = in->x;
			} else if (in->op == I_JMP) {
				pc = in->x;
			} else if (in->op == I_LOOK) {
				r = run(re, cp, fl, n, pc + 1, i, sc, NULL,
				    NULL);
				if (r == -2)
					return -2;
				if ((r >= 0) == in->x)
					break;
				pc = in->y;
			} else if (in->op == I_BOL) {
				if (i != 0)
					break;
				pc++;
			} else if (in->op == I_EOL) {
				if (i != n)
					break;
				pc++;
			} else {
				sc->n = base;
				return (ptrdiff_t)i;
			}
		}
	}
	return -1;
}

int
bn_re_search(const struct bn_re *re, const uint32_t *cp,
    const unsigned char *fl, size_t n, size_t from, size_t *ms, size_t *me,
    struct bn_re_scratch *sc)
{
	unsigned char *memo = NULL;
	size_t st, hi = from, bits, lo, end;
	ptrdiff_t r = -1;

	/* the memo: a bit per state, kept all zero between calls */
	if (n < MEMO_BITS / re->nprog - 1) {
		bits = (n + 1) * re->nprog;
		if (bits > sc->memobits) {
			free(sc->memo);
			sc->memobits = 0;
			if ((sc->memo = calloc((bits + 7) / 8, 1)) == NULL)
				return -1;
			sc->memobits = bits;
		}
		memo = sc->memo;
	}
	sc->n = 0;
	for (st = from; st < n; st++)
		if ((r = run(re, cp, fl, n, 0, st, sc, memo, &hi)) != -1)
			break;
	if (memo != NULL) {
		lo = from * re->nprog / 8;
		end = ((hi + 1) * re->nprog + 7) / 8;
		memset(memo + lo, 0, end - lo);
	}
	if (r == -2)
		return -1;
	if (r < 0)
		return 0;
	*ms = st;
	*me = (size_t)r;
	return 1;
}

void
bn_re_scratch_free(struct bn_re_scratch *sc)
{
	free(sc->stk);
	free(sc->memo);
	memset(sc, 0, sizeof *sc);
}
