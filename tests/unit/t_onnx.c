/* t_onnx.c: unit tests for the ONNX writer: its protobuf encoder
 * (export/pb.h) and the messages of an exported graph (bn_export_onnx),
 * against bytes worked out by hand from the protobuf encoding rules. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnt.h"
#include "export.h"
#include "pb.h"
#include "status.h"

#include "check.h"

#define MODEL "models/austen-ternary.bnt"

/* b must hold exactly the n bytes of want */
static int
same(const struct pb *b, const void *want, size_t n)
{
	return !b->oom && b->n == n && memcmp(b->p, want, n) == 0;
}

static void
test_scalars(void)
{
	struct pb b = { NULL, 0, 0, 0 };
	static const unsigned char v150[] = { 0x08, 0x96, 0x01 };
	static const unsigned char neg1[] = { 0x10, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const unsigned char str[] = { 0x12, 0x07, 't', 'e', 's', 't',
		'i', 'n', 'g' };
	static const unsigned char one[] = { 0x15, 0x00, 0x00, 0x80, 0x3f };
	static const unsigned char big[] = { 0xc8, 0x01, 0x80, 0x80, 0x04 };
	static const unsigned char zero[] = { 0x08, 0x00 };

	pb_int(&b, 1, 150);		/* the protobuf documentation's 150 */
	CHECK(same(&b, v150, sizeof v150));
	b.n = 0;
	pb_int(&b, 2, -1);		/* int64 -1: ten bytes */
	CHECK(same(&b, neg1, sizeof neg1));
	b.n = 0;
	pb_str(&b, 2, "testing");
	CHECK(same(&b, str, sizeof str));
	b.n = 0;
	pb_float(&b, 2, 1.0f);		/* fixed32, little-endian */
	CHECK(same(&b, one, sizeof one));
	b.n = 0;
	pb_int(&b, 1, 0);
	CHECK(same(&b, zero, sizeof zero));
	b.n = 0;
	pb_tag(&b, 25, 0);		/* field 25: two-byte tag */
	pb_varint(&b, 65536);
	CHECK(same(&b, big, sizeof big));
	pb_free(&b);
}

static void
test_nested(void)
{
	struct pb b = { NULL, 0, 0, 0 };
	static const unsigned char small[] = { 0x1a, 0x03, 0x08, 0x96, 0x01 };
	static const unsigned char empty[] = { 0x22, 0x00, 0x08, 0x01 };
	unsigned char want[3 + 300];
	size_t at, in, i;

	at = pb_begin(&b, 3);		/* message 3 { 1: 150 } */
	pb_int(&b, 1, 150);
	pb_end(&b, at);
	CHECK(same(&b, small, sizeof small));
	b.n = 0;
	at = pb_begin(&b, 4);		/* an empty message, then a field */
	pb_end(&b, at);
	pb_int(&b, 1, 1);
	CHECK(same(&b, empty, sizeof empty));
	/* a body of 300 bytes: the length takes two bytes, ac 02 */
	b.n = 0;
	at = pb_begin(&b, 1);
	for (i = 0; i < 300; i++)
		pb_raw(&b, (unsigned char[]){ (unsigned char)i }, 1);
	pb_end(&b, at);
	want[0] = 0x0a;
	want[1] = 0xac;
	want[2] = 0x02;
	for (i = 0; i < 300; i++)
		want[3 + i] = (unsigned char)i;
	CHECK(same(&b, want, sizeof want));
	/* two levels: 1 { 2 { 3: 1 } } */
	b.n = 0;
	at = pb_begin(&b, 1);
	in = pb_begin(&b, 2);
	pb_int(&b, 3, 1);
	pb_end(&b, in);
	pb_end(&b, at);
	{
		static const unsigned char two[] = { 0x0a, 0x04, 0x12, 0x02,
			0x18, 0x01 };

		CHECK(same(&b, two, sizeof two));
	}
	pb_free(&b);
}

/* One field of a protobuf message at *p (before end): its number and
 * wire type, and its value (varint v, or bytes val[0 .. len)).  0, or
 * -1 at the end or on a malformed field. */
static int
next_field(const unsigned char **p, const unsigned char *end,
    unsigned *field, unsigned *wire, uint64_t *v, const unsigned char **val,
    size_t *len)
{
	uint64_t k;

	if (*p >= end)
		return -1;
	for (k = 0;;) {			/* the key, then the value */
		uint64_t x = 0;
		unsigned s = 0;

		do {
			if (*p >= end || s > 63)
				return -1;
			x |= (uint64_t)(**p & 0x7f) << s;
			s += 7;
		} while (*(*p)++ & 0x80);
		if (k++ == 0) {
			*field = (unsigned)(x >> 3);
			*wire = (unsigned)(x & 7);
			if (*wire == 0 || *wire == 2)
				continue;
			if (*wire != 5 || end - *p < 4)
				return -1;
			*val = *p;
			*len = 4;
			*p += 4;
			return 0;
		}
		*v = x;
		if (*wire == 0)
			return 0;
		if (x > (uint64_t)(end - *p))
			return -1;
		*val = *p;
		*len = (size_t)x;
		*p += x;
		return 0;
	}
}

/* The first length-delimited field number f of msg[0 .. n), or NULL. */
static const unsigned char *
find(const unsigned char *msg, size_t n, unsigned f, size_t *len)
{
	const unsigned char *p = msg, *val = NULL;
	unsigned field, wire;
	uint64_t v;

	while (next_field(&p, msg + n, &field, &wire, &v, &val, len) == 0)
		if (field == f && wire == 2)
			return val;
	return NULL;
}

/* The model exported with default options into a memory buffer. */
static unsigned char *
export_model(size_t *n)
{
	struct bnt_map m;
	struct bn_err e = { "" };
	char *buf = NULL;
	FILE *f;
	int st;

	if (bnt_map_open(&m, MODEL, 0, &e) != BN_OK) {
		fprintf(stderr, "%s: %s\n", MODEL, e.msg);
		return NULL;
	}
	if ((f = open_memstream(&buf, n)) == NULL) {
		bnt_map_close(&m);
		return NULL;
	}
	st = bn_export_onnx(&m, f, NULL, &e);
	if (fclose(f) != 0 || st != BN_OK) {
		fprintf(stderr, "bn_export_onnx: %s\n", e.msg);
		free(buf);
		buf = NULL;
	}
	bnt_map_close(&m);
	return (unsigned char *)buf;
}

/* The messages of a whole export: ModelProto's own fields, the graph's
 * first input (ValueInfoProto "input_ids", INT64, ["batch", "seq"]) and
 * a Transpose node's INTS attribute, each against hand-worked bytes. */
static void
test_export(void)
{
	static const unsigned char head[] = {
		0x08, 0x0d,			/* ir_version 13 */
		0x12, 0x07, 'b', 'n', 't', 'o', 'o', 'l', 's',
		0x1a, 0x05, '0', '.', '1', '.', '0' };	/* producer_version */
	static const unsigned char opset[] = {
		0x0a, 0x00,			/* domain "" */
		0x10, 0x19 };			/* version 25 */
	static const unsigned char input[] = {
		0x0a, 0x09, 'i', 'n', 'p', 'u', 't', '_', 'i', 'd', 's',
		0x12, 0x16,			/* type: TypeProto */
		0x0a, 0x14,			/* tensor_type */
		0x08, 0x07,			/* elem_type INT64 */
		0x12, 0x10,			/* shape */
		0x0a, 0x07,			/* dim */
		0x12, 0x05, 'b', 'a', 't', 'c', 'h',	/* dim_param */
		0x0a, 0x05,			/* dim */
		0x12, 0x03, 's', 'e', 'q' };	/* dim_param */
	static const unsigned char perm[] = {
		0x0a, 0x04, 'p', 'e', 'r', 'm',	/* name */
		0x40, 0x00, 0x40, 0x02, 0x40, 0x01, 0x40, 0x03,	/* ints */
		0xa0, 0x01, 0x07 };		/* type INTS (field 20) */
	const unsigned char *p, *end, *val, *graph, *v, *at, *op, *name;
	unsigned field, wire, transposes = 0, good = 0, heads = 0;
	unsigned char *buf;
	size_t n, glen, len, alen, olen, nlen;
	uint64_t x;

	if ((buf = export_model(&n)) == NULL) {
		CHECK(!"the model exports");
		return;
	}
	CHECK(n > sizeof head && memcmp(buf, head, sizeof head) == 0);
	v = find(buf, n, 8, &len);		/* opset_import */
	CHECK(v != NULL && len == sizeof opset &&
	    memcmp(v, opset, len) == 0);
	graph = find(buf, n, 7, &glen);		/* the graph runs to the end */
	CHECK(graph != NULL && graph + glen == buf + n);
	if (graph == NULL) {
		free(buf);
		return;
	}
	v = find(graph, glen, 11, &len);
	CHECK(v != NULL && len == sizeof input &&
	    memcmp(v, input, len) == 0);
	/* each Transpose node: op_type 4, name 3 "n..", attribute 5 */
	p = graph;
	end = graph + glen;
	while (next_field(&p, end, &field, &wire, &x, &val, &len) == 0) {
		if (field != 1 || wire != 2)
			continue;
		op = find(val, len, 4, &olen);
		if (op == NULL || olen != 9 || memcmp(op, "Transpose", 9) != 0)
			continue;
		transposes++;
		name = find(val, len, 3, &nlen);
		at = find(val, len, 5, &alen);
		/* "perm", ints, INTS: every one; [0, 2, 1, 3]: the heads' */
		good += name != NULL && nlen > 1 && name[0] == 'n' &&
		    at != NULL && alen >= 9 && memcmp(at, perm, 6) == 0 &&
		    memcmp(at + alen - 3, perm + sizeof perm - 3, 3) == 0;
		heads += at != NULL && alen == sizeof perm &&
		    memcmp(at, perm, alen) == 0;
	}
	CHECK(transposes > 0 && good == transposes && heads > 0);
	free(buf);
}

int
main(void)
{
	test_scalars();
	test_nested();
	test_export();
	return check_done();
}
