/* pickle.c: a restricted pickle reader (protocols 2-5) that runs nothing. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pickle.h"
#include "status.h"

#define MAX_GLOBAL 256		/* bytes in a GLOBAL module or name */

/* Opcodes (CPython Lib/pickletools.py). */
enum {
	OP_MARK = '(',
	OP_STOP = '.',
	OP_POP = '0',
	OP_POP_MARK = '1',
	OP_DUP = '2',
	OP_BININT = 'J',
	OP_BININT1 = 'K',
	OP_BININT2 = 'M',
	OP_NONE = 'N',
	OP_BINPERSID = 'Q',
	OP_REDUCE = 'R',
	OP_BINUNICODE = 'X',
	OP_APPEND = 'a',
	OP_BUILD = 'b',
	OP_GLOBAL = 'c',
	OP_DICT = 'd',
	OP_EMPTY_DICT = '}',
	OP_APPENDS = 'e',
	OP_BINGET = 'h',
	OP_LONG_BINGET = 'j',
	OP_LIST = 'l',
	OP_EMPTY_LIST = ']',
	OP_BINPUT = 'q',
	OP_LONG_BINPUT = 'r',
	OP_SETITEM = 's',
	OP_TUPLE = 't',
	OP_EMPTY_TUPLE = ')',
	OP_SETITEMS = 'u',
	OP_BINFLOAT = 'G',
	OP_BINBYTES = 'B',
	OP_SHORT_BINBYTES = 'C',
	OP_PROTO = 0x80,
	OP_NEWOBJ = 0x81,
	OP_TUPLE1 = 0x85,
	OP_TUPLE2 = 0x86,
	OP_TUPLE3 = 0x87,
	OP_NEWTRUE = 0x88,
	OP_NEWFALSE = 0x89,
	OP_LONG1 = 0x8a,
	OP_LONG4 = 0x8b,
	OP_SHORT_BINUNICODE = 0x8c,
	OP_BINUNICODE8 = 0x8d,
	OP_BINBYTES8 = 0x8e,
	OP_STACK_GLOBAL = 0x93,
	OP_MEMOIZE = 0x94,
	OP_FRAME = 0x95,
	OP_BYTEARRAY8 = 0x96
};

/* Names a pickle may refer to; none of them is ever called. */
static const char *const allowed[] = {
	"collections.OrderedDict",
	"torch.BFloat16Storage",
	"torch.BoolStorage",
	"torch.ByteStorage",
	"torch.CharStorage",
	"torch.DoubleStorage",
	"torch.FloatStorage",
	"torch.HalfStorage",
	"torch.IntStorage",
	"torch.LongStorage",
	"torch.ShortStorage",
	"torch._utils._rebuild_parameter",
	"torch._utils._rebuild_parameter_with_state",
	"torch._utils._rebuild_tensor_v2",
};

/* Of those, the ones REDUCE and NEWOBJ may apply. */
static const char *const callable[] = {
	"collections.OrderedDict",
	"torch._utils._rebuild_parameter",
	"torch._utils._rebuild_parameter_with_state",
	"torch._utils._rebuild_tensor_v2",
};

struct ld {
	const unsigned char *p;
	size_t n, pos, op_off;
	int op;
	struct bn_pickle *pk;
	struct bn_err *e;
	struct bn_pickle_obj **stack;
	size_t sp, scap;
	size_t *marks;
	size_t nmarks, mcap;
	struct bn_pickle_obj **memo;
	size_t memocap, memolen;
};

static int
fail(struct ld *l, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ld *l, int status, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return bn_seterr(l->e, status, "pickle: %s", buf);
}

static int
nomem(struct ld *l)
{
	return fail(l, BN_ENOMEM, "out of memory at offset %zu", l->op_off);
}

static int
in_list(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

int
bn_pickle_allowed(const char *qualname)
{
	return in_list(allowed, sizeof allowed / sizeof allowed[0], qualname);
}

static int
need(struct ld *l, size_t k)
{
	if (l->n - l->pos < k)
		return fail(l, BN_EFORMAT,
		    "truncated opcode 0x%02x at offset %zu (%zu of %zu bytes)",
		    l->op, l->op_off, l->n - l->pos, k);
	return BN_OK;
}

static uint64_t
get_le(struct ld *l, size_t k)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < k; i++)
		v |= (uint64_t)l->p[l->pos + i] << (8 * i);
	l->pos += k;
	return v;
}

/* Read a k-byte little-endian argument. */
static int
arg(struct ld *l, size_t k, uint64_t *v)
{
	int rc;

	if ((rc = need(l, k)) != BN_OK)
		return rc;
	*v = get_le(l, k);
	return BN_OK;
}

static struct bn_pickle_obj *
node(struct ld *l, int kind)
{
	struct bn_pickle *pk = l->pk;
	struct bn_pickle_obj *o;

	if (bn_grow(&pk->all, &pk->capall, pk->nall + 1, sizeof *pk->all) != 0)
		return NULL;
	if ((o = calloc(1, sizeof *o)) == NULL)
		return NULL;
	o->kind = kind;
	pk->all[pk->nall++] = o;
	return o;
}

static int
add_item(struct bn_pickle_obj *o, struct bn_pickle_obj *it)
{
	if (bn_grow(&o->items, &o->cap, o->n + 1, sizeof *o->items) != 0)
		return -1;
	o->items[o->n++] = it;
	return 0;
}

static int
push(struct ld *l, struct bn_pickle_obj *o)
{
	if (o == NULL)
		return nomem(l);
	if (l->sp == l->scap) {
		if (l->scap >= BN_PICKLE_MAX_STACK)
			return fail(l, BN_EFORMAT,
			    "stack deeper than %u at offset %zu",
			    BN_PICKLE_MAX_STACK, l->op_off);
		if (bn_grow(&l->stack, &l->scap, l->sp + 1,
		    sizeof *l->stack) != 0)
			return nomem(l);
	}
	l->stack[l->sp++] = o;
	return BN_OK;
}

static size_t
fence(const struct ld *l)
{
	return l->nmarks ? l->marks[l->nmarks - 1] : 0;
}

static int
underflow(struct ld *l)
{
	return fail(l, BN_EFORMAT, "stack underflow at opcode 0x%02x "
	    "at offset %zu", l->op, l->op_off);
}

static int
pop(struct ld *l, struct bn_pickle_obj **o)
{
	if (l->sp <= fence(l))
		return underflow(l);
	*o = l->stack[--l->sp];
	return BN_OK;
}

static int
top(struct ld *l, struct bn_pickle_obj **o)
{
	if (l->sp <= fence(l))
		return underflow(l);
	*o = l->stack[l->sp - 1];
	return BN_OK;
}

static int
push_mark(struct ld *l)
{
	if (l->nmarks == l->mcap) {
		if (l->mcap >= BN_PICKLE_MAX_MARKS)
			return fail(l, BN_EFORMAT,
			    "more than %u open MARKs at offset %zu",
			    BN_PICKLE_MAX_MARKS, l->op_off);
		if (bn_grow(&l->marks, &l->mcap, l->nmarks + 1,
		    sizeof *l->marks) != 0)
			return nomem(l);
	}
	l->marks[l->nmarks++] = l->sp;
	return BN_OK;
}

static int
pop_mark(struct ld *l, size_t *start)
{
	if (l->nmarks == 0)
		return fail(l, BN_EFORMAT, "opcode 0x%02x at offset %zu "
		    "without a MARK", l->op, l->op_off);
	*start = l->marks[--l->nmarks];
	return BN_OK;
}

/* Move stack[start..sp) into o's items and drop them from the stack. */
static int
take_items(struct ld *l, struct bn_pickle_obj *o, size_t start)
{
	size_t i;

	for (i = start; i < l->sp; i++)
		if (add_item(o, l->stack[i]) != 0)
			return nomem(l);
	l->sp = start;
	return BN_OK;
}

static int
memo_put(struct ld *l, uint64_t idx)
{
	struct bn_pickle_obj *o = NULL;
	size_t old;
	int rc;

	if ((rc = top(l, &o)) != BN_OK)
		return rc;
	if (idx >= BN_PICKLE_MAX_MEMO)
		return fail(l, BN_EFORMAT, "memo index %llu at offset %zu "
		    "is too large", (unsigned long long)idx, l->op_off);
	if (idx >= (old = l->memocap)) {
		if (bn_grow(&l->memo, &l->memocap, (size_t)idx + 1,
		    sizeof *l->memo) != 0)
			return nomem(l);
		memset(l->memo + old, 0, (l->memocap - old) * sizeof *l->memo);
	}
	if (l->memo[idx] == NULL)
		l->memolen++;
	l->memo[idx] = o;
	return BN_OK;
}

static int
memo_get(struct ld *l, uint64_t idx)
{
	if (idx >= l->memocap || l->memo[idx] == NULL)
		return fail(l, BN_EFORMAT, "memo key %llu at offset %zu "
		    "is not defined", (unsigned long long)idx, l->op_off);
	return push(l, l->memo[idx]);
}

/* A STR or BYTES node holding a copy of the next len bytes. */
static int
load_str(struct ld *l, int kind, uint64_t len)
{
	struct bn_pickle_obj *o;
	int rc;

	if (len > SIZE_MAX - 1)
		return need(l, SIZE_MAX);
	if ((rc = need(l, (size_t)len)) != BN_OK)
		return rc;
	if ((o = node(l, kind)) == NULL || (o->str = malloc(len + 1)) == NULL)
		return nomem(l);
	memcpy(o->str, l->p + l->pos, len);
	o->str[len] = '\0';
	o->len = len;
	l->pos += len;
	return push(l, o);
}

/* Signed little-endian two's complement of len <= 8 bytes. */
static int
load_long(struct ld *l, uint64_t len)
{
	struct bn_pickle_obj *o;
	uint64_t v;
	int rc;

	if ((rc = need(l, len > SIZE_MAX ? SIZE_MAX : (size_t)len)) != BN_OK)
		return rc;
	if (len > 8)
		return fail(l, BN_EUNSUPPORTED, "integer of %llu bytes at "
		    "offset %zu is too large", (unsigned long long)len,
		    l->op_off);
	v = get_le(l, (size_t)len);
	if (len > 0 && len < 8 && (v >> (8 * len - 1) & 1))
		v |= ~(uint64_t)0 << (8 * len);
	if ((o = node(l, BN_PICKLE_INT)) == NULL)
		return nomem(l);
	o->ival = (int64_t)v;
	return push(l, o);
}

static int
load_int(struct ld *l, int64_t v)
{
	struct bn_pickle_obj *o;

	if ((o = node(l, BN_PICKLE_INT)) == NULL)
		return nomem(l);
	o->ival = v;
	return push(l, o);
}

/* Copy s for a message: printable ASCII, others as '?'. */
static void
printable(char *out, size_t size, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < size; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

/* Push a GLOBAL node for module.name if it is allowed. */
static int
global(struct ld *l, const char *mod, size_t mlen, const char *name,
    size_t nlen)
{
	struct bn_pickle_obj *o;
	char q[2 * MAX_GLOBAL + 2], shown[2 * MAX_GLOBAL + 2];

	if (mlen > MAX_GLOBAL || nlen > MAX_GLOBAL)
		return fail(l, BN_EFORMAT, "global name at offset %zu "
		    "is too long", l->op_off);
	memcpy(q, mod, mlen);
	q[mlen] = '.';
	memcpy(q + mlen + 1, name, nlen);
	q[mlen + 1 + nlen] = '\0';
	if (strlen(q) != mlen + 1 + nlen || !bn_pickle_allowed(q)) {
		printable(shown, sizeof shown, q, mlen + 1 + nlen);
		return bn_seterr(l->e, BN_EFORMAT,
		    "pickle: global '%s' is not allowed", shown);
	}
	if ((o = node(l, BN_PICKLE_GLOBAL)) == NULL ||
	    (o->str = malloc(mlen + nlen + 2)) == NULL)
		return nomem(l);
	memcpy(o->str, q, mlen + nlen + 2);
	o->len = mlen + 1 + nlen;
	return push(l, o);
}

/* GLOBAL: "module\nname\n". */
static int
load_global(struct ld *l)
{
	const char *s[2];
	size_t len[2];
	const unsigned char *nl;
	int i;

	for (i = 0; i < 2; i++) {
		nl = memchr(l->p + l->pos, '\n', l->n - l->pos);
		if (nl == NULL)
			return fail(l, BN_EFORMAT, "unterminated GLOBAL at "
			    "offset %zu", l->op_off);
		s[i] = (const char *)l->p + l->pos;
		len[i] = (size_t)(nl - (l->p + l->pos));
		l->pos += len[i] + 1;
	}
	return global(l, s[0], len[0], s[1], len[1]);
}

static int
load_stack_global(struct ld *l)
{
	struct bn_pickle_obj *mod, *name;
	int rc;

	if ((rc = pop(l, &name)) != BN_OK || (rc = pop(l, &mod)) != BN_OK)
		return rc;
	if (name->kind != BN_PICKLE_STR || mod->kind != BN_PICKLE_STR)
		return fail(l, BN_EFORMAT, "STACK_GLOBAL at offset %zu "
		    "on a non-string", l->op_off);
	return global(l, mod->str, mod->len, name->str, name->len);
}

/* REDUCE and NEWOBJ: record the call, or make OrderedDict() a dict. */
static int
load_call(struct ld *l)
{
	struct bn_pickle_obj *fn, *args, *o;
	char shown[2 * MAX_GLOBAL + 2];
	int rc;

	if ((rc = pop(l, &args)) != BN_OK || (rc = pop(l, &fn)) != BN_OK)
		return rc;
	if (fn->kind != BN_PICKLE_GLOBAL)
		return fail(l, BN_EFORMAT, "call at offset %zu of an object "
		    "that is not a global", l->op_off);
	if (!in_list(callable, sizeof callable / sizeof callable[0],
	    fn->str)) {
		printable(shown, sizeof shown, fn->str, fn->len);
		return fail(l, BN_EFORMAT, "call of '%s' at offset %zu is not "
		    "allowed", shown, l->op_off);
	}
	if (args->kind != BN_PICKLE_TUPLE)
		return fail(l, BN_EFORMAT, "call of '%s' at offset %zu "
		    "without an argument tuple", fn->str, l->op_off);
	if (strcmp(fn->str, "collections.OrderedDict") == 0) {
		if (args->n != 0)
			return fail(l, BN_EUNSUPPORTED, "OrderedDict with "
			    "arguments at offset %zu", l->op_off);
		return push(l, node(l, BN_PICKLE_DICT));
	}
	if ((o = node(l, BN_PICKLE_CALL)) == NULL || add_item(o, fn) != 0 ||
	    add_item(o, args) != 0)
		return nomem(l);
	return push(l, o);
}

static int
container(struct ld *l, struct bn_pickle_obj **o, int kind)
{
	int rc;

	if ((rc = top(l, o)) != BN_OK)
		return rc;
	if ((*o)->kind != kind)
		return fail(l, BN_EFORMAT, "opcode 0x%02x at offset %zu on "
		    "the wrong type", l->op, l->op_off);
	return BN_OK;
}

static int
step(struct ld *l, int *done)
{
	struct bn_pickle_obj *o, *k, *v, *d;
	uint64_t x;
	size_t start = 0;
	int rc, i, cnt;

	l->op_off = l->pos;
	l->op = l->p[l->pos++];
	if (l->pk->proto == 0 && l->op != OP_PROTO)
		return fail(l, BN_EUNSUPPORTED, "no PROTO opcode (protocols 0 "
		    "and 1 are not supported)");
	switch (l->op) {
	case OP_PROTO:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		if (x < 2 || x > 5)
			return fail(l, BN_EUNSUPPORTED, "protocol %d is not "
			    "supported", (int)x);
		l->pk->proto = (int)x;
		return BN_OK;
	case OP_FRAME:
		if ((rc = arg(l, 8, &x)) != BN_OK)
			return rc;
		if (x > l->n - l->pos)
			return fail(l, BN_EFORMAT, "FRAME at offset %zu of "
			    "%llu bytes is truncated", l->op_off,
			    (unsigned long long)x);
		return BN_OK;
	case OP_STOP:
		if ((rc = pop(l, &o)) != BN_OK)
			return rc;
		l->pk->root = o;
		*done = 1;
		return BN_OK;
	case OP_MARK:
		return push_mark(l);
	case OP_POP:
		if (l->nmarks > 0 && l->marks[l->nmarks - 1] == l->sp) {
			l->nmarks--;
			return BN_OK;
		}
		return pop(l, &o);
	case OP_POP_MARK:
		if ((rc = pop_mark(l, &start)) != BN_OK)
			return rc;
		l->sp = start;
		return BN_OK;
	case OP_DUP:
		if ((rc = top(l, &o)) != BN_OK)
			return rc;
		return push(l, o);
	case OP_NONE:
		return push(l, node(l, BN_PICKLE_NONE));
	case OP_NEWTRUE:
	case OP_NEWFALSE:
		if ((o = node(l, BN_PICKLE_BOOL)) == NULL)
			return nomem(l);
		o->ival = l->op == OP_NEWTRUE;
		return push(l, o);
	case OP_BININT:
		if ((rc = arg(l, 4, &x)) != BN_OK)
			return rc;
		return load_int(l, (int32_t)(uint32_t)x);
	case OP_BININT1:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		return load_int(l, (int64_t)x);
	case OP_BININT2:
		if ((rc = arg(l, 2, &x)) != BN_OK)
			return rc;
		return load_int(l, (int64_t)x);
	case OP_LONG1:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		return load_long(l, x);
	case OP_LONG4:
		if ((rc = arg(l, 4, &x)) != BN_OK)
			return rc;
		if (x & 0x80000000u)
			return fail(l, BN_EFORMAT, "negative LONG4 length at "
			    "offset %zu", l->op_off);
		return load_long(l, x);
	case OP_BINFLOAT:
		if ((rc = need(l, 8)) != BN_OK)
			return rc;
		for (x = 0, i = 0; i < 8; i++)	/* big-endian */
			x = x << 8 | l->p[l->pos++];
		if ((o = node(l, BN_PICKLE_FLOAT)) == NULL)
			return nomem(l);
		memcpy(&o->fval, &x, sizeof o->fval);
		return push(l, o);
	case OP_SHORT_BINUNICODE:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		return load_str(l, BN_PICKLE_STR, x);
	case OP_BINUNICODE:
		if ((rc = arg(l, 4, &x)) != BN_OK)
			return rc;
		return load_str(l, BN_PICKLE_STR, x);
	case OP_BINUNICODE8:
		if ((rc = arg(l, 8, &x)) != BN_OK)
			return rc;
		return load_str(l, BN_PICKLE_STR, x);
	case OP_SHORT_BINBYTES:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		return load_str(l, BN_PICKLE_BYTES, x);
	case OP_BINBYTES:
		if ((rc = arg(l, 4, &x)) != BN_OK)
			return rc;
		return load_str(l, BN_PICKLE_BYTES, x);
	case OP_BINBYTES8:
	case OP_BYTEARRAY8:
		if ((rc = arg(l, 8, &x)) != BN_OK)
			return rc;
		return load_str(l, BN_PICKLE_BYTES, x);
	case OP_EMPTY_DICT:
		return push(l, node(l, BN_PICKLE_DICT));
	case OP_EMPTY_LIST:
		return push(l, node(l, BN_PICKLE_LIST));
	case OP_EMPTY_TUPLE:
		return push(l, node(l, BN_PICKLE_TUPLE));
	case OP_TUPLE:
	case OP_LIST:
	case OP_DICT:
		if ((rc = pop_mark(l, &start)) != BN_OK)
			return rc;
		if (l->op == OP_DICT && (l->sp - start) % 2 != 0)
			return fail(l, BN_EFORMAT, "DICT at offset %zu with an "
			    "odd number of items", l->op_off);
		o = node(l, l->op == OP_TUPLE ? BN_PICKLE_TUPLE :
		    l->op == OP_LIST ? BN_PICKLE_LIST : BN_PICKLE_DICT);
		if (o == NULL)
			return nomem(l);
		if ((rc = take_items(l, o, start)) != BN_OK)
			return rc;
		return push(l, o);
	case OP_TUPLE1:
	case OP_TUPLE2:
	case OP_TUPLE3:
		cnt = l->op - OP_TUPLE1 + 1;
		if (l->sp - fence(l) < (size_t)cnt)
			return underflow(l);
		if ((o = node(l, BN_PICKLE_TUPLE)) == NULL)
			return nomem(l);
		if ((rc = take_items(l, o, l->sp - (size_t)cnt)) != BN_OK)
			return rc;
		return push(l, o);
	case OP_BINPUT:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		return memo_put(l, x);
	case OP_LONG_BINPUT:
		if ((rc = arg(l, 4, &x)) != BN_OK)
			return rc;
		return memo_put(l, x);
	case OP_MEMOIZE:
		return memo_put(l, l->memolen);
	case OP_BINGET:
		if ((rc = arg(l, 1, &x)) != BN_OK)
			return rc;
		return memo_get(l, x);
	case OP_LONG_BINGET:
		if ((rc = arg(l, 4, &x)) != BN_OK)
			return rc;
		return memo_get(l, x);
	case OP_SETITEM:
		if ((rc = pop(l, &v)) != BN_OK || (rc = pop(l, &k)) != BN_OK ||
		    (rc = container(l, &d, BN_PICKLE_DICT)) != BN_OK)
			return rc;
		if (add_item(d, k) != 0 || add_item(d, v) != 0)
			return nomem(l);
		return BN_OK;
	case OP_SETITEMS:
	case OP_APPENDS:
		if ((rc = pop_mark(l, &start)) != BN_OK)
			return rc;
		if (l->op == OP_SETITEMS && (l->sp - start) % 2 != 0)
			return fail(l, BN_EFORMAT, "SETITEMS at offset %zu "
			    "with an odd number of items", l->op_off);
		/* the container sits just below the MARK */
		if (start == 0 || start <= fence(l))
			return underflow(l);
		d = l->stack[start - 1];
		if (d->kind != (l->op == OP_SETITEMS ? BN_PICKLE_DICT :
		    BN_PICKLE_LIST))
			return fail(l, BN_EFORMAT, "opcode 0x%02x at offset "
			    "%zu on the wrong type", l->op, l->op_off);
		return take_items(l, d, start);
	case OP_APPEND:
		if ((rc = pop(l, &v)) != BN_OK ||
		    (rc = container(l, &d, BN_PICKLE_LIST)) != BN_OK)
			return rc;
		if (add_item(d, v) != 0)
			return nomem(l);
		return BN_OK;
	case OP_GLOBAL:
		return load_global(l);
	case OP_STACK_GLOBAL:
		return load_stack_global(l);
	case OP_REDUCE:
	case OP_NEWOBJ:
		return load_call(l);
	case OP_BUILD:
		if ((rc = pop(l, &v)) != BN_OK || (rc = top(l, &o)) != BN_OK)
			return rc;
		o->state = v;
		return BN_OK;
	case OP_BINPERSID:
		if ((rc = pop(l, &v)) != BN_OK)
			return rc;
		if ((o = node(l, BN_PICKLE_PERSID)) == NULL ||
		    add_item(o, v) != 0)
			return nomem(l);
		return push(l, o);
	default:
		return fail(l, BN_EUNSUPPORTED, "opcode 0x%02x at offset %zu "
		    "is not supported", l->op, l->op_off);
	}
}

int
bn_pickle_load(struct bn_pickle *pk, const unsigned char *p, size_t n,
    struct bn_err *e)
{
	struct ld l;
	int rc = BN_OK, done = 0;

	memset(pk, 0, sizeof *pk);
	memset(&l, 0, sizeof l);
	l.p = p;
	l.n = p == NULL ? 0 : n;
	l.pk = pk;
	l.e = e;
	while (!done && rc == BN_OK) {
		if (l.pos >= l.n) {
			rc = bn_seterr(e, BN_EFORMAT, "pickle: no STOP opcode "
			    "(%zu bytes)", l.n);
			break;
		}
		rc = step(&l, &done);
	}
	free(l.stack);
	free(l.marks);
	free(l.memo);
	if (rc != BN_OK)
		bn_pickle_free(pk);
	return rc;
}

void
bn_pickle_free(struct bn_pickle *pk)
{
	size_t i;

	for (i = 0; i < pk->nall; i++) {
		free(pk->all[i]->str);
		free(pk->all[i]->items);
		free(pk->all[i]);
	}
	free(pk->all);
	memset(pk, 0, sizeof *pk);
}

int
bn_pickle_is_global(const struct bn_pickle_obj *o, const char *name)
{
	return o != NULL && o->kind == BN_PICKLE_GLOBAL &&
	    strcmp(o->str, name) == 0;
}

int
bn_pickle_is_call(const struct bn_pickle_obj *o, const char *name)
{
	return o != NULL && o->kind == BN_PICKLE_CALL && o->n == 2 &&
	    bn_pickle_is_global(o->items[0], name);
}

int
bn_pickle_str_eq(const struct bn_pickle_obj *o, const char *s)
{
	return o != NULL && o->kind == BN_PICKLE_STR &&
	    o->len == strlen(s) && memcmp(o->str, s, o->len) == 0;
}

const struct bn_pickle_obj *
bn_pickle_dict_get(const struct bn_pickle_obj *d, const char *key)
{
	const struct bn_pickle_obj *v = NULL;
	size_t i;

	if (d == NULL || d->kind != BN_PICKLE_DICT)
		return NULL;
	for (i = 0; i + 1 < d->n; i += 2)
		if (bn_pickle_str_eq(d->items[i], key))
			v = d->items[i + 1];
	return v;
}
