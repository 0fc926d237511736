/* dbvfs.c — SQLite's own VFS with the WAL's writes gathered.
 *
 * SQLite writes a WAL frame as two pwrite() calls, its 24-byte header and
 * its page, so a batch commit of 2,000 pages is 4,000 system calls, each
 * with its own trip through ext4's write path.  On this VFS a WAL file
 * whose connection commits with a sync (synchronous=FULL, see db.c) keeps
 * consecutive writes in a buffer and hands them to the file in one write
 * before anything else could miss them: before a read of those bytes (a
 * checkpoint, or a page read back), a sync, a truncation, a file control,
 * and on close (a size query counts them).  The commit's sync comes after its frames and before SQLite
 * publishes the transaction in the WAL index, so no reader, in this process
 * or another, can see a frame that is not in the file, and nothing is
 * acknowledged that is not on disk.  A connection that commits without a
 * sync (synchronous=NORMAL) publishes with no call on the WAL between the
 * two, so its WAL writes go straight through (dbvfs_gather(f, false)).
 *
 * Every other file, and every other call, is the default VFS's, untouched. */
#include "dbvfs.h"
#include "buf.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bytes held before a write: the default VFS writes at most 128 KiB - 1 in
 * one call (a longer write comes out short, which it reports as a full
 * disk), so 30 frames of 4 KiB pages at a time. */
#define GATHER_MAX ((size_t)120 << 10)

struct gfile {
	sqlite3_file base;        /* our methods */
	sqlite3_file *real;       /* the default VFS's file, in the same block */
	bool wal;                 /* opened as a WAL file */
	bool main;                /* opened as a main database file */
	bool gather;              /* writes are gathered (synced commits) */
	unsigned char *buf;       /* gathered bytes: [off, off + len) of the file */
	size_t len;
	sqlite3_int64 off;
};

static sqlite3_vfs *under;    /* the default VFS */

/* Write what is gathered.  On failure it is dropped: the caller returns
 * the error, and SQLite rolls back the transaction those frames were for. */
static int flush(struct gfile *g)
{
	if (!g->len)
		return SQLITE_OK;
	int rc = g->real->pMethods->xWrite(g->real, g->buf, (int)g->len, g->off);
	g->len = 0;
	return rc;
}

static int g_close(sqlite3_file *f)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	int rc2 = g->real->pMethods->xClose(g->real);
	free(g->buf);
	g->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int g_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	struct gfile *g = (struct gfile *)f;
	/* a page spilled from the cache is a frame of its own, and the next
	 * read is often of another one: only a read of gathered bytes needs
	 * them in the file first */
	if (g->len && off < g->off + (sqlite3_int64)g->len && off + n > g->off) {
		int rc = flush(g);
		if (rc != SQLITE_OK)
			return rc;
	}
	return g->real->pMethods->xRead(g->real, p, n, off);
}

static int g_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct gfile *g = (struct gfile *)f;
	if (!g->gather || n <= 0)
		return g->real->pMethods->xWrite(g->real, p, n, off);
	if (g->len && (off != g->off + (sqlite3_int64)g->len || g->len + (size_t)n > GATHER_MAX)) {
		int rc = flush(g);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((size_t)n > GATHER_MAX)
		return g->real->pMethods->xWrite(g->real, p, n, off);
	if (!g->buf)
		g->buf = xmalloc(GATHER_MAX);
	if (!g->len)
		g->off = off;
	memcpy(g->buf + g->len, p, (size_t)n);
	g->len += (size_t)n;
	return SQLITE_OK;
}

static int g_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	return rc != SQLITE_OK ? rc : g->real->pMethods->xTruncate(g->real, size);
}

static int g_sync(sqlite3_file *f, int flags)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	return rc != SQLITE_OK ? rc : g->real->pMethods->xSync(g->real, flags);
}

static int g_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct gfile *g = (struct gfile *)f;
	int rc = g->real->pMethods->xFileSize(g->real, size);
	if (rc == SQLITE_OK && g->len && g->off + (sqlite3_int64)g->len > *size)
		*size = g->off + (sqlite3_int64)g->len;
	return rc;
}

static int g_lock(sqlite3_file *f, int l)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xLock(g->real, l);
}

static int g_unlock(sqlite3_file *f, int l)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xUnlock(g->real, l);
}

static int g_reserved(sqlite3_file *f, int *out)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xCheckReservedLock(g->real, out);
}

static int g_fcntl(sqlite3_file *f, int op, void *arg)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	return rc != SQLITE_OK ? rc : g->real->pMethods->xFileControl(g->real, op, arg);
}

static int g_sector(sqlite3_file *f)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xSectorSize(g->real);
}

static int g_device(sqlite3_file *f)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xDeviceCharacteristics(g->real);
}

static int g_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xShmMap(g->real, region, size, extend, pp);
}

/* The WAL index in shared memory is how other connections learn what is in
 * the files: whatever is gathered goes to the file before it changes. */
static int g_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	return rc != SQLITE_OK ? rc : g->real->pMethods->xShmLock(g->real, offset, n, flags);
}

static void g_shm_barrier(sqlite3_file *f)
{
	struct gfile *g = (struct gfile *)f;
	flush(g);
	g->real->pMethods->xShmBarrier(g->real);
}

static int g_shm_unmap(sqlite3_file *f, int del)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	return rc != SQLITE_OK ? rc : g->real->pMethods->xShmUnmap(g->real, del);
}

static int g_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	struct gfile *g = (struct gfile *)f;
	int rc = flush(g);
	return rc != SQLITE_OK ? rc : g->real->pMethods->xFetch(g->real, off, n, pp);
}

static int g_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	struct gfile *g = (struct gfile *)f;
	return g->real->pMethods->xUnfetch(g->real, off, p);
}

/* version 1 and 3 of the methods: each file gets the version its default
 * VFS file has, so that SQLite never calls what the real file lacks */
static const sqlite3_io_methods methods_v1 = {
	1, g_close, g_read, g_write, g_truncate, g_sync, g_size, g_lock, g_unlock, g_reserved,
	g_fcntl, g_sector, g_device, NULL, NULL, NULL, NULL, NULL, NULL,
};
static const sqlite3_io_methods methods_v3 = {
	3, g_close, g_read, g_write, g_truncate, g_sync, g_size, g_lock, g_unlock, g_reserved,
	g_fcntl, g_sector, g_device, g_shm_map, g_shm_lock, g_shm_barrier, g_shm_unmap, g_fetch, g_unfetch,
};

static int g_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	(void)vfs;
	struct gfile *g = (struct gfile *)f;
	memset(g, 0, sizeof *g);
	g->real = (sqlite3_file *)(g + 1);
	g->wal = (flags & SQLITE_OPEN_WAL) != 0;
	g->main = (flags & SQLITE_OPEN_MAIN_DB) != 0;
	int rc = under->xOpen(under, name, g->real, flags, out_flags);
	/* SQLite closes a file whose open failed only if it has methods */
	if (g->real->pMethods)
		g->base.pMethods = g->real->pMethods->iVersion >= 3 ? &methods_v3 : &methods_v1;
	return rc;
}

static int v_delete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return under->xDelete(under, n, sync); }
static int v_access(sqlite3_vfs *v, const char *n, int fl, int *out) { (void)v; return under->xAccess(under, n, fl, out); }
static int v_full(sqlite3_vfs *v, const char *n, int len, char *out) { (void)v; return under->xFullPathname(under, n, len, out); }
static void *v_dlopen(sqlite3_vfs *v, const char *n) { (void)v; return under->xDlOpen(under, n); }
static void v_dlerror(sqlite3_vfs *v, int len, char *out) { (void)v; under->xDlError(under, len, out); }
static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return under->xDlSym(under, h, s); }
static void v_dlclose(sqlite3_vfs *v, void *h) { (void)v; under->xDlClose(under, h); }
static int v_random(sqlite3_vfs *v, int n, char *out) { (void)v; return under->xRandomness(under, n, out); }
static int v_sleep(sqlite3_vfs *v, int us) { (void)v; return under->xSleep(under, us); }
static int v_time(sqlite3_vfs *v, double *t) { (void)v; return under->xCurrentTime(under, t); }
static int v_lasterr(sqlite3_vfs *v, int n, char *out) { (void)v; return under->xGetLastError(under, n, out); }
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; return under->xCurrentTimeInt64(under, t); }

static sqlite3_vfs gather_vfs = {
	.iVersion = 2,
	.zName = DBVFS_NAME,
	.xOpen = g_open,
	.xDelete = v_delete,
	.xAccess = v_access,
	.xFullPathname = v_full,
	.xDlOpen = v_dlopen,
	.xDlError = v_dlerror,
	.xDlSym = v_dlsym,
	.xDlClose = v_dlclose,
	.xRandomness = v_random,
	.xSleep = v_sleep,
	.xCurrentTime = v_time,
	.xGetLastError = v_lasterr,
	.xCurrentTimeInt64 = v_time64,
};

static bool registered;

static void register_once(void)
{
	under = sqlite3_vfs_find(NULL);
	if (!under || under->iVersion < 2)
		return;
	gather_vfs.szOsFile = (int)sizeof(struct gfile) + under->szOsFile;
	gather_vfs.mxPathname = under->mxPathname;
	registered = sqlite3_vfs_register(&gather_vfs, 0) == SQLITE_OK;
}

const char *dbvfs_name(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_once);
	return registered ? DBVFS_NAME : NULL;
}

bool dbvfs_gather(sqlite3_file *f, bool on)
{
	if (!f || (f->pMethods != &methods_v1 && f->pMethods != &methods_v3))
		return false;
	struct gfile *g = (struct gfile *)f;
	if (!g->wal && !g->main)
		return false;
	int rc = on ? SQLITE_OK : flush(g);
	g->gather = on;
	return rc == SQLITE_OK;
}
