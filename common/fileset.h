/* fileset.h: files held in memory: a mapped file, a directory's files,
 * or the members of an archive (tar, tar.gz, tar.zst, zip). */
#ifndef BN_FILESET_H
#define BN_FILESET_H

#include <stddef.h>

#include "status.h"

struct bn_file {
	char *name;			/* path, or member name in an archive */
	const unsigned char *data;
	size_t size;
	void *priv_map;			/* mmap base or malloc'd buffer */
	size_t priv_len;
	int priv_kind;			/* 0 none, 1 mmap, 2 malloc */
	int skipped;			/* an archive member left unread */
};

struct bn_fileset {
	struct bn_file *files;
	size_t n, cap;
	char *root;			/* directory or archive name */
	char *prefix;			/* top directory stripped, or NULL */
};

/* Map a regular file (or read "-", stdin, into memory).  Empty files
 * are fine (data may be NULL, size 0). */
int bn_file_open(struct bn_file *f, const char *path, struct bn_err *e);
void bn_file_close(struct bn_file *f);

void bn_fileset_init(struct bn_fileset *fs);
void bn_fileset_free(struct bn_fileset *fs);
/* Every regular file directly in dir (not recursive), mapped. */
int bn_fileset_from_dir(struct bn_fileset *fs, const char *dir,
    struct bn_err *e);
/* Every regular member of an archive libarchive reads (tar, tar.gz,
 * tar.zst, zip), read into memory.  Names are made plain ("./a//b" is
 * "a/b"), and two members with one name are refused (BN_EFORMAT): tar
 * and unzip would keep the last, a lookup here the first.  A single
 * top-level directory prefix shared by all members is stripped from the
 * names (and kept in prefix). */
int bn_fileset_from_archive(struct bn_fileset *fs, const struct bn_file *f,
    struct bn_err *e);
/* The same, reading only the members for which want(name) is non-zero:
 * the others are listed with skipped set, data NULL and size 0, and cost
 * no memory however large. */
int bn_fileset_from_archive_want(struct bn_fileset *fs,
    const struct bn_file *f, int (*want)(const char *name),
    struct bn_err *e);
/* The member whose name, or whose last path component, is base. */
const struct bn_file *bn_fileset_get(const struct bn_fileset *fs,
    const char *base);

#endif
