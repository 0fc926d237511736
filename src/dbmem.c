/* dbmem.c — SQLite's memory: small blocks kept for reuse by the thread that
 * freed them.
 *
 * Debian builds SQLite without its lookaside allocator (OMIT_LOOKASIDE), so
 * every cursor a statement opens and every record it builds is a malloc()
 * and a free(): 90 of each per message applied in a batch.  glibc keeps only
 * seven freed blocks of a size for quick reuse, and a statement that opens a
 * table and its four indexes goes past that at once.  Here blocks of up to
 * 1 KiB are rounded up to a multiple of 64 bytes, and a freed one goes on a
 * list of its size for the thread that freed it (at most LIST_MAX a list; a
 * thread's lists are emptied when it ends).  Larger blocks are plain malloc.
 * Every block starts with its usable size, as SQLite's own allocator does,
 * for xSize.
 *
 * Under AddressSanitizer nothing is kept: a reused block would hide a use
 * after free from it. */
#include "dbmem.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEP 0
#endif
#endif
#ifndef KEEP
#define KEEP 1
#endif

#define HDR 16                 /* the size, and the block stays 16-aligned */
#define STEP 64
#define CLASSES 16             /* 64 .. 1024 bytes */
#define LIST_MAX 128

/* A kept block is listed by its start (where malloc put it, so that leak
 * checkers see it as reachable); the link is the header's second half. */
struct freed {
	size_t size;
	struct freed *next;
};

_Static_assert(sizeof(struct freed) <= HDR, "a kept block's link fits in its header");

struct lists {
	struct freed *head[CLASSES];
	unsigned n[CLASSES];
	struct lists *next, **prev;   /* in `all`: reachable for leak checkers */
};

static _Thread_local struct lists *mine;
static struct lists *all;
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t lists_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* a thread ends: its blocks go back to malloc */
static void lists_free(void *arg)
{
	struct lists *l = arg;
	pthread_mutex_lock(&all_mu);
	*l->prev = l->next;
	if (l->next)
		l->next->prev = l->prev;
	pthread_mutex_unlock(&all_mu);
	for (int c = 0; c < CLASSES; c++)
		while (l->head[c]) {
			struct freed *f = l->head[c];
			l->head[c] = f->next;
			free(f);
		}
	free(l);
	mine = NULL;
}

static void make_key(void)
{
	pthread_key_create(&lists_key, lists_free);
}

static struct lists *my_lists(void)
{
	if (!mine) {
		pthread_once(&key_once, make_key);
		struct lists *l = calloc(1, sizeof *l);
		if (!l)
			return NULL;
		pthread_mutex_lock(&all_mu);
		l->next = all;
		l->prev = &all;
		if (all)
			all->prev = &l->next;
		all = l;
		pthread_mutex_unlock(&all_mu);
		pthread_setspecific(lists_key, l);
		mine = l;
	}
	return mine;
}

/* the class of a request, or -1 for a large one */
static int class_of(size_t n)
{
	return n == 0 || n > (size_t)STEP * CLASSES ? -1 : (int)((n - 1) / STEP);
}

static size_t usable(size_t n)
{
	int c = class_of(n);
	return c < 0 ? (n + 7) & ~(size_t)7 : (size_t)(c + 1) * STEP;
}

static void *m_malloc(int n)
{
	if (n <= 0)
		return NULL;
	int c = class_of((size_t)n);
	if (KEEP && c >= 0) {
		struct lists *l = mine ? mine : my_lists();
		if (l && l->head[c]) {
			struct freed *f = l->head[c];
			l->head[c] = f->next;
			l->n[c]--;
			return (char *)f + HDR;
		}
	}
	size_t u = usable((size_t)n);
	char *p = malloc(HDR + u);
	if (!p)
		return NULL;
	memcpy(p, &u, sizeof u);
	return p + HDR;
}

static int m_size(void *p)
{
	size_t u;
	if (!p)
		return 0;
	memcpy(&u, (char *)p - HDR, sizeof u);
	return (int)u;
}

static void m_free(void *p)
{
	if (!p)
		return;
	size_t u = (size_t)m_size(p);
	int c = class_of(u);
	if (KEEP && c >= 0) {   /* u is then a class's size */
		struct lists *l = mine ? mine : my_lists();
		if (l && l->n[c] < LIST_MAX) {
			struct freed *f = (struct freed *)((char *)p - HDR);
			f->next = l->head[c];
			l->head[c] = f;
			l->n[c]++;
			return;
		}
	}
	free((char *)p - HDR);
}

static void *m_realloc(void *p, int n)
{
	if (!p)
		return m_malloc(n);
	size_t have = (size_t)m_size(p);
	if (n > 0 && usable((size_t)n) == have)
		return p;
	if (n > 0 && class_of(have) < 0 && class_of((size_t)n) < 0) {   /* large to large */
		size_t u = usable((size_t)n);
		char *q = realloc((char *)p - HDR, HDR + u);
		if (!q)
			return NULL;
		memcpy(q, &u, sizeof u);
		return q + HDR;
	}
	void *q = m_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, have < (size_t)n ? have : (size_t)n);
	m_free(p);
	return q;
}

static int m_roundup(int n)
{
	return n <= 0 ? n : (int)usable((size_t)n);
}

static int m_init(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void m_shutdown(void *arg)
{
	(void)arg;
}

void dbmem_install(void)
{
	static const sqlite3_mem_methods methods = {
		m_malloc, m_free, m_realloc, m_size, m_roundup, m_init, m_shutdown, NULL,
	};
	sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}
