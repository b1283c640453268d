/* pb.c: the protobuf encoder (pb.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pb.h"

void
pb_raw(struct pb *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (n > SIZE_MAX / 2 - b->n ||
	    bn_grow(&b->p, &b->cap, b->n + n, 1) != 0) {
		b->oom = 1;
		return;
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static size_t
varint_enc(unsigned char *c, uint64_t v)
{
	size_t k = 0;

	while (v >= 0x80) {
		c[k++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	c[k++] = (unsigned char)v;
	return k;
}

void
pb_varint(struct pb *b, uint64_t v)
{
	unsigned char c[10];

	pb_raw(b, c, varint_enc(c, v));
}

void
pb_tag(struct pb *b, unsigned field, unsigned wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

void
pb_int(struct pb *b, unsigned field, int64_t v)
{
	pb_tag(b, field, 0);
	pb_varint(b, (uint64_t)v);
}

void
pb_float(struct pb *b, unsigned field, float f)
{
	unsigned char c[4];
	uint32_t u;

	memcpy(&u, &f, 4);
	c[0] = (unsigned char)u;
	c[1] = (unsigned char)(u >> 8);
	c[2] = (unsigned char)(u >> 16);
	c[3] = (unsigned char)(u >> 24);
	pb_tag(b, field, 5);
	pb_raw(b, c, 4);
}

void
pb_bytes(struct pb *b, unsigned field, const void *p, size_t n)
{
	pb_tag(b, field, 2);
	pb_varint(b, n);
	pb_raw(b, p, n);
}

void
pb_str(struct pb *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

size_t
pb_begin(struct pb *b, unsigned field)
{
	pb_tag(b, field, 2);
	return b->n;
}

void
pb_end(struct pb *b, size_t start)
{
	unsigned char c[10];
	size_t len, k;

	if (b->oom)
		return;
	len = b->n - start;
	k = varint_enc(c, len);
	pb_raw(b, c, k);		/* grow by k bytes */
	if (b->oom)
		return;
	memmove(b->p + start + k, b->p + start, len);
	memcpy(b->p + start, c, k);
}

void
pb_free(struct pb *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
