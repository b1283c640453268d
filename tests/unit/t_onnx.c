/* t_onnx.c: unit tests for the ONNX writer's protobuf encoder
 * (export/onnx.c, included for its static functions) against bytes
 * worked out by hand from the protobuf encoding rules. */
#include <stdio.h>
#include <string.h>

#include "../../export/onnx.c"

#include "check.h"

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

/* ValueInfoProto "x", FLOAT, ["batch", 4] */
static void
test_value_info(void)
{
	struct pb b = { NULL, 0, 0, 0 };
	const char *dims[2] = { "batch", "4" };
	static const unsigned char want[] = {
		0x5a, 0x18,			/* GraphProto.input (11) */
		0x0a, 0x01, 'x',		/* name */
		0x12, 0x13,			/* type: TypeProto */
		0x0a, 0x11,			/* tensor_type */
		0x08, 0x01,			/* elem_type FLOAT */
		0x12, 0x0d,			/* shape */
		0x0a, 0x07,			/* dim */
		0x12, 0x05, 'b', 'a', 't', 'c', 'h',	/* dim_param */
		0x0a, 0x02,			/* dim */
		0x08, 0x04 };			/* dim_value 4 */

	value_info(&b, 11, "x", OT_FLOAT, dims, 2);
	CHECK(same(&b, want, sizeof want));
	pb_free(&b);
}

/* A node with an INTS attribute, through the graph builder. */
static void
test_node(void)
{
	struct gb g;
	static const int64_t perm[2] = { 1, 0 };
	struct attr tp = AIS("perm", perm, 2);
	const char *in = "a", *out = "b";
	static const unsigned char want[] = {
		0x0a, 0x24,			/* GraphProto.node (1) */
		0x0a, 0x01, 'a',		/* input */
		0x12, 0x01, 'b',		/* output */
		0x1a, 0x02, 'n', '0',		/* name */
		0x22, 0x09, 'T', 'r', 'a', 'n', 's', 'p', 'o', 's', 'e',
		0x2a, 0x0d,			/* attribute */
		0x0a, 0x04, 'p', 'e', 'r', 'm',	/* name */
		0x40, 0x01, 0x40, 0x00,		/* ints 1, 0 */
		0xa0, 0x01, 0x07 };		/* type INTS (field 20) */

	memset(&g, 0, sizeof g);
	node(&g, "Transpose", NULL, &in, 1, &out, 1, &tp, 1);
	CHECK(same(&g.nodes, want, sizeof want));
	CHECK(g.nnames == 1 && strcmp(g.names[0], "n0") == 0);
	pb_free(&g.nodes);
	free(g.names[0]);
	free(g.names);
}

int
main(void)
{
	test_scalars();
	test_nested();
	test_value_info();
	test_node();
	return check_done();
}
