/* Golden files of unit tests: generated text compared with a file kept in
 * the tree; WARREN_UPDATE_GOLDEN=1 in the environment rewrites the file. */
#ifndef WARREN_TEST_GOLDEN_H
#define WARREN_TEST_GOLDEN_H

/* Fail the test (naming the first differing line) unless got equals the
 * file at path. */
void golden_check(const char *path, const char *got);

#endif
