/* support: scratch files and checks shared by the spec tests (see support.h). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "support.h"
#include "util/util.h"

static char dir[64];

static const char *const tokens[] = {"@kernel", "@initrd", "@image", "@dir"};

static void path_of(size_t token, char *buf, size_t len)
{
	if (strcmp(tokens[token], "@dir") == 0)
		snprintf(buf, len, "%s/sub", dir);
	else
		snprintf(buf, len, "%s/%s", dir, tokens[token] + 1);
}

int support_setup(void **state)
{
	char p[128];

	snprintf(dir, sizeof(dir), "/tmp/warren-vm-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(tokens); i++) {
		path_of(i, p, sizeof(p));
		if (strcmp(tokens[i], "@dir") == 0) {
			if (mkdir(p, 0700) < 0)
				return -1;
			continue;
		}
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

int support_teardown(void **state)
{
	char p[128];

	for (size_t i = 0; i < ARRAY_SIZE(tokens); i++) {
		path_of(i, p, sizeof(p));
		if (remove(p) < 0)
			return -1;
	}
	return rmdir(dir);
}

char *support_expand(const char *text)
{
	size_t cap = strlen(text) * 16 + 64, o = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	while (*text) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(tokens); i++)
			if (strncmp(text, tokens[i], strlen(tokens[i])) == 0)
				break;
		if (i == ARRAY_SIZE(tokens)) {
			out[o++] = *text++;
			continue;
		}
		char p[128];
		path_of(i, p, sizeof(p));
		size_t n = strlen(p);
		assert_true(o + n < cap);
		memcpy(out + o, p, n);
		o += n;
		text += strlen(tokens[i]);
	}
	out[o] = '\0';
	return out;
}

json_t *support_doc(const char *text)
{
	_cleanup_free_ char *t = support_expand(text);
	json_error_t jerr;
	/* ALLOW_NUL: some documents test "\u0000" inside strings; DECODE_ANY:
	 * the fuzz test makes bare values too. */
	json_t *j = json_loads(t, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);

	if (!j)
		fail_msg("bad test document %s: %s", t, jerr.text);
	return j;
}

void support_assert_err_sane(const struct werr *err)
{
	json_t *m = json_string(err->message), *f = json_string(err->field);

	assert_true(err->code[0] != '\0');
	assert_true(err->message[0] != '\0');
	if (!m || !f)
		fail_msg("error is not valid UTF-8: field '%s' message '%s'", err->field,
			 err->message);
	json_decref(m);
	json_decref(f);
}
