/* pb.h: the protobuf (proto2) encoder of the ONNX writer (onnx.c):
 * varints, fixed32 floats and length-delimited fields into one growing
 * buffer.  A nested message is encoded in place and its length inserted
 * in front of it when it ends, so a message of any depth is one buffer.
 * Appends after a failed allocation are dropped and set oom, so a
 * writer checks once at the end. */
#ifndef BN_PB_H
#define BN_PB_H

#include <stddef.h>
#include <stdint.h>

struct pb {
	unsigned char *p;
	size_t n, cap;
	int oom;
};

/* n bytes as they are (no tag) */
void pb_raw(struct pb *b, const void *p, size_t n);
/* a base-128 varint, no tag */
void pb_varint(struct pb *b, uint64_t v);
/* a field's key; wire types: 0 varint, 2 length-delimited, 5 fixed32 */
void pb_tag(struct pb *b, unsigned field, unsigned wire);
/* int32, int64 and enum fields: negative values take ten bytes */
void pb_int(struct pb *b, unsigned field, int64_t v);
/* a float field: fixed32, little-endian */
void pb_float(struct pb *b, unsigned field, float f);
void pb_bytes(struct pb *b, unsigned field, const void *p, size_t n);
void pb_str(struct pb *b, unsigned field, const char *s);
/* Open a nested message: returns where its body starts, for pb_end. */
size_t pb_begin(struct pb *b, unsigned field);
/* Close it: insert the body's length in front of the body. */
void pb_end(struct pb *b, size_t start);
void pb_free(struct pb *b);

#endif
