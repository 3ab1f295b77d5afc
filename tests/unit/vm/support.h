/*
 * support: what the spec tests share. The scratch files that spec tests point kernel, initrd and
 * image at, and a way to write spec documents that name them. "@kernel",
 * "@initrd", "@image" and "@dir" in a document become the absolute paths
 * of a regular file each (a directory for @dir) in a fresh temp directory.
 */
#ifndef WARREN_TEST_VM_SUPPORT_H
#define WARREN_TEST_VM_SUPPORT_H

#include <jansson.h>

int support_setup(void **state);
int support_teardown(void **state);

/* text with the @-tokens replaced; malloc'd. */
char *support_expand(const char *text);
/* support_expand then parse; fails the test if the result is not JSON. */
json_t *support_doc(const char *text);

/* A rejection as a client would get it: code and message set, and both
 * message and field valid UTF-8 (they travel as JSON strings). */
struct werr;
void support_assert_err_sane(const struct werr *err);

#endif
