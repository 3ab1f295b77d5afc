/*
 * file: reading and writing the small text files of /proc, /sys and the
 * cgroup trees. They are read whole, in one read where the kernel allows,
 * and written in one write, because a cgroup file treats each write as a
 * command.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>

#include "host/host-private.h"
#include "util/util.h"

int host_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int host_read_text(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = -1;
	size_t n = 0;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t k = read(fd, buf + n, len - 1 - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n == len - 1) {
			char extra;
			k = read(fd, &extra, 1);
			if (k > 0)
				return -EFBIG;
			if (k < 0)
				return -errno;
			break;
		}
	}
	while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
		n--;
	buf[n] = '\0';
	return (int)n;
}

int host_write_text(const char *path, const char *s)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(s);
	ssize_t k;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	do
		k = write(fd, s, len);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -errno;
	if ((size_t)k != len)
		return -EIO;
	return 0;
}

int host_has_token(const char *list, const char *seps, const char *word)
{
	size_t wlen = strlen(word);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, seps);
		if (n == wlen && memcmp(p, word, n) == 0)
			return 1;
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

int host_each_line(const char *path, host_line_fn fn, void *userdata)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) >= 0) {
		int r;

		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		r = fn(line, userdata);
		if (r != 0)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}
