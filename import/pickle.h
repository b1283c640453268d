/* pickle.h: a restricted pickle reader that builds a tree, runs nothing.
 *
 * bn_pickle_load() interprets the opcodes of pickle protocols 2 to 5 that
 * torch.save() emits.  It never imports or calls anything: GLOBAL and
 * STACK_GLOBAL are accepted only for a short allowlist of names (see
 * bn_pickle_allowed()) and produce a BN_PICKLE_GLOBAL node; REDUCE and
 * NEWOBJ on them produce a BN_PICKLE_CALL node that records the callable
 * and its arguments.  collections.OrderedDict() becomes a plain dict.
 * BINPERSID produces a BN_PICKLE_PERSID node around the persistent id.
 *
 * Objects may be shared (memo, DUP) and may even form cycles, so walkers
 * must bound their depth.  Every node is owned by the struct bn_pickle
 * and freed by bn_pickle_free(). */
#ifndef BN_PICKLE_H
#define BN_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define BN_PICKLE_MAX_STACK (1u << 20)	/* stack entries */
#define BN_PICKLE_MAX_MARKS (1u << 16)	/* open MARKs */
#define BN_PICKLE_MAX_MEMO (1u << 20)	/* highest memo index + 1 */

enum bn_pickle_kind {
	BN_PICKLE_NONE,
	BN_PICKLE_BOOL,		/* ival 0 or 1 */
	BN_PICKLE_INT,		/* ival (wider than 64 bits: refused) */
	BN_PICKLE_FLOAT,	/* fval */
	BN_PICKLE_STR,		/* str, len: UTF-8 as stored, NUL added */
	BN_PICKLE_BYTES,	/* str, len: NUL-terminated copy */
	BN_PICKLE_TUPLE,	/* items[0..n) */
	BN_PICKLE_LIST,		/* items[0..n) */
	BN_PICKLE_DICT,		/* items[0..n): key, value, key, ... */
	BN_PICKLE_GLOBAL,	/* str: "module.name" (allowed) */
	BN_PICKLE_CALL,		/* items[0] GLOBAL, items[1] args TUPLE */
	BN_PICKLE_PERSID	/* items[0]: the persistent id */
};

struct bn_pickle_obj {
	int kind;		/* enum bn_pickle_kind */
	int64_t ival;
	double fval;
	char *str;
	size_t len;
	struct bn_pickle_obj **items;
	size_t n, cap;
	struct bn_pickle_obj *state;	/* set by BUILD, else NULL */
};

struct bn_pickle {
	struct bn_pickle_obj *root;	/* the object STOP returned */
	int proto;			/* from PROTO */
	struct bn_pickle_obj **all;	/* every node, for freeing */
	size_t nall, capall;
};

/* Unpickle p[0..n).  On failure the detail names the opcode, its offset
 * and what is wrong ("pickle: global 'os.system' is not allowed" style);
 * pk is then empty.  Always call bn_pickle_free(). */
int bn_pickle_load(struct bn_pickle *pk, const unsigned char *p, size_t n,
    struct bn_err *e);
void bn_pickle_free(struct bn_pickle *pk);

/* Is "module.name" on the allowlist? */
int bn_pickle_allowed(const char *qualname);

/* Helpers for walkers.  bn_pickle_is_global: o is a GLOBAL named name.
 * bn_pickle_is_call: o is a CALL of the global name.  bn_pickle_str_eq:
 * o is a STR equal to s. */
int bn_pickle_is_global(const struct bn_pickle_obj *o, const char *name);
int bn_pickle_is_call(const struct bn_pickle_obj *o, const char *name);
int bn_pickle_str_eq(const struct bn_pickle_obj *o, const char *s);
/* The value for STR key in DICT d, or NULL (the last one if repeated). */
const struct bn_pickle_obj *bn_pickle_dict_get(const struct bn_pickle_obj *d,
    const char *key);

#endif
