/* support: scratch trees for the host tests (see support.h). */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "support.h"
#include "util/util.h"

char *support_tmpdir(void)
{
	char *dir = strdup("/tmp/warren-host-test-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

void support_rmtree(char *dir)
{
	if (!dir)
		return;
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *support_path(const char *dir, const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
	return p;
}

void support_write(const char *dir, const char *rel, const char *text)
{
	_cleanup_free_ char *path = support_path(dir, rel);
	size_t len = strlen(text);
	int fd;

	for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*s = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

char *support_read(const char *dir, const char *rel)
{
	_cleanup_free_ char *path = support_path(dir, rel);
	struct stat st;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	return buf;
}

bool support_exists(const char *dir, const char *rel)
{
	_cleanup_free_ char *path = support_path(dir, rel);

	return access(path, F_OK) == 0;
}

void support_unlink(const char *dir, const char *rel)
{
	_cleanup_free_ char *path = support_path(dir, rel);

	assert_int_equal(unlink(path), 0);
}
