/* fileset.c: files in memory: mapped files, directories, archives. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileset.h"
#include "mem.h"

/* Read all of fd into a growing buffer (for stdin and pipes). */
static int
slurp(int fd, struct bn_file *f, struct bn_err *e)
{
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0;
	ssize_t n;

	for (;;) {
		/* 64 KiB at first, then doubling */
		if (len == cap &&
		    bn_grow(&buf, &cap, len + (1 << 16), 1) != 0) {
			free(buf);
			return bn_seterr(e, BN_ENOMEM, "out of memory");
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return bn_seterr(e, BN_EIO, "%s", strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	f->data = buf;
	f->size = len;
	f->priv_map = buf;
	f->priv_kind = 2;
	return BN_OK;
}

int
bn_file_open(struct bn_file *f, const char *path, struct bn_err *e)
{
	struct stat sb;
	int fd, st;

	memset(f, 0, sizeof *f);
	if ((f->name = strdup(path)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	if (strcmp(path, "-") == 0)
		return slurp(STDIN_FILENO, f, e);
	if ((fd = open(path, O_RDONLY)) < 0) {
		st = bn_seterr(e, BN_ENOINPUT, "%s", strerror(errno));
		goto fail;
	}
	if (fstat(fd, &sb) != 0) {
		st = bn_seterr(e, BN_EIO, "%s", strerror(errno));
		close(fd);
		goto fail;
	}
	if (S_ISDIR(sb.st_mode)) {
		close(fd);
		st = bn_seterr(e, BN_ENOINPUT, "%s", strerror(EISDIR));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		st = slurp(fd, f, e);
		close(fd);
		if (st != BN_OK)
			goto fail;
		return BN_OK;
	}
	if (sb.st_size > 0) {
		void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ,
		    MAP_PRIVATE, fd, 0);

		if (p == MAP_FAILED) {
			st = bn_seterr(e, BN_ENOMEM, "mmap: %s",
			    strerror(errno));
			close(fd);
			goto fail;
		}
		f->data = p;
		f->size = (size_t)sb.st_size;
		f->priv_map = p;
		f->priv_len = f->size;
		f->priv_kind = 1;
	}
	close(fd);
	return BN_OK;
fail:
	free(f->name);
	f->name = NULL;
	return st;
}

void
bn_file_close(struct bn_file *f)
{
	if (f->priv_kind == 1)
		munmap(f->priv_map, f->priv_len);
	else if (f->priv_kind == 2)
		free(f->priv_map);
	free(f->name);
	memset(f, 0, sizeof *f);
}

void
bn_fileset_init(struct bn_fileset *fs)
{
	memset(fs, 0, sizeof *fs);
}

void
bn_fileset_free(struct bn_fileset *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		bn_file_close(&fs->files[i]);
	free(fs->files);
	free(fs->root);
	free(fs->prefix);
	bn_fileset_init(fs);
}

static struct bn_file *
add(struct bn_fileset *fs)
{
	if (bn_grow(&fs->files, &fs->cap, fs->n + 1, sizeof *fs->files) != 0)
		return NULL;
	memset(&fs->files[fs->n], 0, sizeof fs->files[0]);
	return &fs->files[fs->n++];
}

static int
cmp_name(const void *a, const void *b)
{
	const struct bn_file *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int
bn_fileset_from_dir(struct bn_fileset *fs, const char *dir, struct bn_err *e)
{
	struct dirent *d;
	struct stat sb;
	struct bn_file *f;
	char path[4096];
	DIR *dp;
	int st = BN_OK;

	if ((dp = opendir(dir)) == NULL)
		return bn_seterr(e, BN_ENOINPUT, "%s", strerror(errno));
	if ((fs->root = strdup(dir)) == NULL) {
		closedir(dp);
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir,
		    d->d_name) >= sizeof path)
			continue;
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if ((f = add(fs)) == NULL) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			break;
		}
		if ((st = bn_file_open(f, path, e)) != BN_OK) {
			fs->n--;
			bn_err_prefix(e, "%s", d->d_name);
			break;
		}
	}
	closedir(dp);
	if (st == BN_OK)
		qsort(fs->files, fs->n, sizeof fs->files[0], cmp_name);
	return st;
}

/* Strip a top-level directory shared by every member; keep it in
 * prefix. */
static int
strip_common_dir(struct bn_fileset *fs)
{
	const char *slash;
	size_t i, plen;

	if (fs->n == 0 || (slash = strchr(fs->files[0].name, '/')) == NULL)
		return BN_OK;
	plen = (size_t)(slash - fs->files[0].name) + 1;
	for (i = 1; i < fs->n; i++)
		if (strncmp(fs->files[i].name, fs->files[0].name, plen) != 0)
			return BN_OK;
	if ((fs->prefix = strndup(fs->files[0].name, plen)) == NULL)
		return BN_ENOMEM;
	for (i = 0; i < fs->n; i++)
		memmove(fs->files[i].name, fs->files[i].name + plen,
		    strlen(fs->files[i].name + plen) + 1);
	return BN_OK;
}

/* A member name as extraction sees it: no leading '/', no empty or "."
 * components ("./a//b/./c" is "a/b/c"). */
static char *
plain_name(const char *s)
{
	char *r, *q;
	size_t n;

	if ((r = q = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	while (*s != '\0') {
		n = strcspn(s, "/");
		if (n > 0 && !(n == 1 && s[0] == '.')) {
			if (q != r)
				*q++ = '/';
			memcpy(q, s, n);
			q += n;
		}
		s += n;
		if (*s == '/')
			s++;
	}
	*q = '\0';
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two entries with one name: refuse, naming it (control characters
 * shown as '?', to keep the message one line). */
static int
check_unique(char **names, size_t n, struct bn_err *e)
{
	char buf[160];
	size_t i, j;

	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	for (i = 1; i < n; i++) {
		if (strcmp(names[i - 1], names[i]) != 0)
			continue;
		for (j = 0; names[i][j] != '\0' && j + 1 < sizeof buf; j++)
			buf[j] = (unsigned char)names[i][j] < 0x20 ||
			    names[i][j] == 0x7f ? '?' : names[i][j];
		buf[j] = '\0';
		return bn_seterr(e, BN_EFORMAT, "duplicate member '%s'%s", buf,
		    names[i][j] != '\0' ? "..." : "");
	}
	return BN_OK;
}

int
bn_fileset_from_archive(struct bn_fileset *fs, const struct bn_file *f,
    struct bn_err *e)
{
	return bn_fileset_from_archive_want(fs, f, NULL, e);
}

int
bn_fileset_from_archive_want(struct bn_fileset *fs, const struct bn_file *f,
    int (*want)(const char *), struct bn_err *e)
{
	struct archive *a;
	struct archive_entry *ent;
	struct bn_file *m;
	unsigned char *buf;
	char **names = NULL, *nm;
	size_t cap, len, nnames = 0, capnames = 0, i;
	la_ssize_t n;
	int r, st = BN_OK;

	if ((fs->root = strdup(f->name)) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	if ((a = archive_read_new()) == NULL)
		return bn_seterr(e, BN_ENOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, f->data, f->size) != ARCHIVE_OK) {
		st = bn_seterr(e, BN_EFORMAT, "%s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			st = bn_seterr(e, BN_EFORMAT, "%s",
			    archive_error_string(a));
			goto out;
		}
		/* a directory may repeat; any other entry (a link too) must
		 * not share its name */
		if (archive_entry_filetype(ent) == AE_IFDIR)
			continue;
		if (bn_grow(&names, &capnames, nnames + 1, sizeof *names) !=
		    0 || (nm = plain_name(archive_entry_pathname(ent) ?
		    archive_entry_pathname(ent) : "")) == NULL) {
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		names[nnames++] = nm;
		if (archive_entry_filetype(ent) != AE_IFREG)
			continue;
		if (want != NULL && !want(nm)) {
			/* unread: a huge member the import never uses costs
			 * neither memory nor (stored, or sparse) time */
			if (archive_read_data_skip(a) != ARCHIVE_OK) {
				st = bn_seterr(e, BN_EFORMAT, "'%s': %s", nm,
				    archive_error_string(a));
				goto out;
			}
			if ((m = add(fs)) == NULL ||
			    (m->name = strdup(nm)) == NULL) {
				if (m != NULL)
					fs->n--;
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
				goto out;
			}
			m->skipped = 1;
			continue;
		}
		buf = NULL;
		cap = len = 0;
		for (;;) {	/* grow with what arrives, not what is claimed */
			if (len == cap &&
			    bn_grow(&buf, &cap, len + (1 << 16), 1) != 0) {
				free(buf);
				st = bn_seterr(e, BN_ENOMEM, "out of memory");
				goto out;
			}
			n = archive_read_data(a, buf + len, cap - len);
			if (n < 0) {
				free(buf);
				st = bn_seterr(e, BN_EFORMAT, "'%s': %s",
				    archive_entry_pathname(ent),
				    archive_error_string(a));
				goto out;
			}
			if (n == 0)
				break;
			len += (size_t)n;
		}
		if ((m = add(fs)) == NULL || (m->name = strdup(nm)) == NULL) {
			if (m != NULL)
				fs->n--;
			free(buf);
			st = bn_seterr(e, BN_ENOMEM, "out of memory");
			goto out;
		}
		m->data = buf;
		m->size = len;
		m->priv_map = buf;
		m->priv_kind = 2;
	}
	if ((st = check_unique(names, nnames, e)) != BN_OK)
		goto out;
	if (strip_common_dir(fs) != BN_OK) {
		st = bn_seterr(e, BN_ENOMEM, "out of memory");
		goto out;
	}
	if (fs->n > 1)	/* files is NULL when there are none */
		qsort(fs->files, fs->n, sizeof fs->files[0], cmp_name);
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	archive_read_free(a);
	return st;
}

const struct bn_file *
bn_fileset_get(const struct bn_fileset *fs, const char *base)
{
	const char *slash;
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->files[i].name, base) == 0)
			return &fs->files[i];
	for (i = 0; i < fs->n; i++) {
		slash = strrchr(fs->files[i].name, '/');
		if (slash != NULL && strcmp(slash + 1, base) == 0)
			return &fs->files[i];
	}
	return NULL;
}
