/* strv: NULL-terminated string vectors, as QEMU argv and lists are built. */
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

#include "util/util.h"

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_length(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static int strv_push_owned(char ***v, char *s)
{
	size_t n = strv_length(*v);
	char **nv = realloc(*v, (n + 2) * sizeof(char *));

	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[n] = s;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

int strv_push(char ***v, const char *s)
{
	char *c = strdup(s);

	if (!c)
		return -ENOMEM;
	return strv_push_owned(v, c);
}

int strv_pushf(char ***v, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return strv_push_owned(v, s);
}

int getrandom_full(void *buf, size_t len)
{
	/* getrandom returns up to 256 bytes in one go without interruption. */
	if (len > 256)
		return -EINVAL;
	if (getrandom(buf, len, 0) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

int id_random_hex(char *buf, size_t bytes)
{
	uint8_t raw[64];
	int r;

	if (bytes > sizeof(raw))
		return -EINVAL;
	r = getrandom_full(raw, bytes);
	if (r < 0)
		return r;
	for (size_t i = 0; i < bytes; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int werr_set(struct werr *e, int ret, const char *code, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return ret;
	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return ret;
}
