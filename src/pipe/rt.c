/* rt.c — the little runtime dealmail-pipe runs on instead of libc (x86-64
 * Linux; elsewhere the Makefile links it with glibc, statically).
 *
 * Why: a static glibc program spends about 0.7 ms of this machine's time
 * starting (measured: 1.2 ms from spawn to exit for an empty main(), 0.5 ms
 * for a program with none of it; CPUID probes of its CPU-feature setup and
 * two dozen page faults, each a trip through the hypervisor), and the whole
 * hand-off of a message to `dealmail serve` takes about 1 ms more than that.
 * The client needs little: a few system calls, string functions, an
 * allocator and getenv().  So this file provides exactly those, under their
 * libc names and with the prototypes of glibc's headers, for handoff.c and
 * dealmail-pipe.c; anything else they call fails the link.
 *
 * Built -ffreestanding -fno-builtin -fno-stack-protector (no thread pointer
 * is set up, so nothing may read one) and linked -static-pie -nostdlib: the
 * start below applies the program's own relative relocations first.  glibc's
 * headers give the prototypes: from glibc 2.33 on (Debian 12 has 2.36) stat()
 * and fstat() are plain functions there, not inline calls of __xstat(); with
 * older headers the link fails and `make PIPE_RT=0` is the way out. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <elf.h>

#if !defined(__x86_64__) || !defined(__linux__)
#error "rt.c is for x86-64 Linux; the Makefile links dealmail-pipe with libc elsewhere"
#endif

int main(int argc, char **argv);
char **environ;
static int err_no;

int *__errno_location(void)
{
	return &err_no;
}

/* ---- system calls ------------------------------------------------------------ */

static long sc(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* the kernel's -errno to libc's -1 and errno */
static long ret_of(long r)
{
	if (r < 0 && r > -4096) {
		err_no = (int)-r;
		return -1;
	}
	return r;
}

#define SC(n, a, b, c, d, e) ret_of(sc((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e)))

ssize_t read(int fd, void *buf, size_t n)
{
	return SC(SYS_read, fd, buf, n, 0, 0);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	return SC(SYS_write, fd, buf, n, 0, 0);
}

int open(const char *path, int flags, ...)
{
	int mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	return (int)SC(SYS_openat, AT_FDCWD, path, flags, mode, 0);
}

int close(int fd)
{
	return (int)SC(SYS_close, fd, 0, 0, 0, 0);
}

int stat(const char *restrict path, struct stat *restrict st)
{
	return (int)SC(SYS_newfstatat, AT_FDCWD, path, st, 0, 0);
}

int fstat(int fd, struct stat *st)
{
	return (int)SC(SYS_fstat, fd, st, 0, 0, 0);
}

int access(const char *path, int mode)
{
	return (int)SC(SYS_faccessat, AT_FDCWD, path, mode, 0, 0);
}

ssize_t readlink(const char *restrict path, char *restrict buf, size_t n)
{
	return SC(SYS_readlinkat, AT_FDCWD, path, buf, n, 0);
}

int execv(const char *path, char *const argv[])
{
	return (int)SC(SYS_execve, path, argv, environ, 0, 0);
}

uid_t geteuid(void)
{
	return (uid_t)sc(SYS_geteuid, 0, 0, 0, 0, 0);
}

int socket(int domain, int type, int protocol)
{
	return (int)SC(SYS_socket, domain, type, protocol, 0, 0);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (int)SC(SYS_connect, fd, sa, len, 0, 0);
}

int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len)
{
	return (int)SC(SYS_getsockopt, fd, level, name, val, len);
}

ssize_t sendmsg(int fd, const struct msghdr *mh, int flags)
{
	return SC(SYS_sendmsg, fd, mh, flags, 0, 0);
}

int poll(struct pollfd *p, nfds_t n, int timeout)
{
	return (int)SC(SYS_poll, p, n, timeout, 0, 0);
}

int clock_gettime(clockid_t clock, struct timespec *t)
{
	return (int)SC(SYS_clock_gettime, clock, t, 0, 0, 0);
}

void _exit(int code)
{
	for (;;)
		sc(SYS_exit_group, code, 0, 0, 0, 0);
}

void exit(int code)
{
	_exit(code);
}

/* ---- memory and strings --------------------------------------------------------
 * (rt.c is compiled with -fno-builtin and without loop-to-call
 * transformations, so that these loops do not become calls to themselves) */

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	unsigned char *o = d;
	const unsigned char *i = s;
	while (n--)
		*o++ = *i++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *o = d;
	const unsigned char *i = s;
	if (o < i)
		while (n--)
			*o++ = *i++;
	else
		while (n--)
			o[n] = i[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *o = d;
	while (n--)
		*o++ = (unsigned char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	for (; n; n--, p++)
		if (*p == (unsigned char)c)
			return (void *)p;
	return NULL;
}

size_t strlen(const char *s)
{
	const char *p = s;
	while (*p)
		p++;
	return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n && *a && *a == *b; n--, a++, b++)
		;
	return n ? (unsigned char)*a - (unsigned char)*b : 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;
	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

char *getenv(const char *name)
{
	size_t n = strlen(name);
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* A bump allocator over 2 MiB of .bss (pages the program never touches
 * cost nothing): the client allocates a few strings and the configuration
 * file (at most 1 MiB, see handoff.c) once.  free() takes back the latest
 * block only. */
static unsigned char arena[2 << 20] __attribute__((aligned(16)));
static size_t used, last;

void *malloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15;
	if (n > sizeof arena || need > sizeof arena - used) {
		err_no = ENOMEM;
		return NULL;
	}
	last = used;
	used += need;
	return arena + last;
}

void *calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = malloc(n * size);
	return p ? memset(p, 0, n * size) : NULL;
}

void free(void *p)
{
	if (p && (unsigned char *)p == arena + last) {
		used = last;
		last = used;   /* the one before is not known: nothing more goes back */
	}
}

/* ---- start ----------------------------------------------------------------------- */

extern const Elf64_Ehdr __ehdr_start __attribute__((visibility("hidden")));
extern Elf64_Dyn _DYNAMIC[] __attribute__((visibility("hidden")));

/* A static PIE is loaded at a random address with nobody to relocate it:
 * apply its relative relocations (the only kind a program without shared
 * libraries has) before anything reads a pointer from its data.  The two
 * symbols are the linker's, reached relative to the code, not through a
 * table that would itself need relocating. */
static void relocate(void)
{
	uintptr_t base = (uintptr_t)&__ehdr_start;
	const Elf64_Rela *rela = NULL;
	size_t size = 0;
	for (const Elf64_Dyn *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_RELA)
			rela = (const Elf64_Rela *)(base + d->d_un.d_ptr);
		else if (d->d_tag == DT_RELASZ)
			size = d->d_un.d_val;
	for (size_t i = 0; rela && i < size / sizeof *rela; i++) {
		if (ELF64_R_TYPE(rela[i].r_info) != R_X86_64_RELATIVE) {
			static const char msg[] = "4.3.0 dealmail-pipe: built wrong (a relocation it cannot apply); "
						  "the message will be retried\n";
			sc(SYS_write, 1, (long)msg, sizeof msg - 1, 0, 0);
			_exit(75);
		}
		*(uint64_t *)(base + rela[i].r_offset) = base + (uint64_t)rela[i].r_addend;
	}
}

__attribute__((visibility("hidden"), used, noreturn)) void rt_start(long *sp);
void rt_start(long *sp)
{
	relocate();
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	environ = argv + argc + 1;
	exit(main(argc, argv));
}

/* The kernel leaves argc, argv[], NULL, envp[], NULL on the stack. */
__asm__(".text\n"
	".global _start\n"
	".type _start, @function\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call rt_start\n"
	"	hlt\n");
