/*
 * support: scratch trees for the host tests. A fresh temporary directory
 * stands in for / or for a cgroup mount; files are written and read by
 * paths relative to it, and a failure fails the test.
 */
#ifndef WARREN_TEST_HOST_SUPPORT_H
#define WARREN_TEST_HOST_SUPPORT_H

#include <stdbool.h>

/* A new empty directory under /tmp; malloc'd. */
char *support_tmpdir(void);
/* Remove dir and everything below it, then free it. */
void support_rmtree(char *dir);

/* Write text to dir/rel, making the directories on the way. */
void support_write(const char *dir, const char *rel, const char *text);
/* The whole content of dir/rel (malloc'd), or NULL if it does not exist. */
char *support_read(const char *dir, const char *rel);
bool support_exists(const char *dir, const char *rel);
/* Remove the file dir/rel, which must exist. */
void support_unlink(const char *dir, const char *rel);
/* dir/rel as one string (malloc'd). */
char *support_path(const char *dir, const char *rel);

#endif
