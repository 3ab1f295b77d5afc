/*
 * fuzz_qmp: the QMP framer against arbitrary bytes.
 *
 * The bytes are fed twice: in chunks whose sizes are derived from the
 * input, and whole. Besides surviving, the framer must give the same
 * sequence of messages and errors both ways: where a read() happened to
 * split the stream must never change what QEMU is understood to say.
 *
 * Built with -DWARREN_FUZZING and -fsanitize=fuzzer (clang) this is a
 * libFuzzer target. Otherwise a small main replays every file of the
 * corpus directory (argv[1], default tests/fuzz/corpus/qmp) and prints
 * TAP, so every input that ever found a bug stays a regression test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu/qemu.h"
#include "util/util.h"

/* Appends one outcome of qmp_framer_next to a transcript. */
static void drain(struct qmp_framer *f, FILE *out)
{
	json_t *m;
	int r;

	while ((r = qmp_framer_next(f, &m)) != 0) {
		if (r == 1) {
			char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
			if (!json_is_object(m) || !s)
				abort();
			fprintf(out, "msg %s\n", s);
			free(s);
			json_decref(m);
		} else if (r == -EBADMSG || r == -EMSGSIZE) {
			fprintf(out, "err %d\n", r);
		} else {
			abort();
		}
	}
}

/* Feeds data in chunks of at most max_chunk bytes (sizes from seed), or
 * whole when max_chunk is 0; returns the transcript. */
static char *run(const uint8_t *data, size_t size, size_t max_line, uint32_t seed, size_t max_chunk)
{
	struct qmp_framer *f = qmp_framer_new(max_line);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!f || !out)
		abort();
	for (size_t off = 0; off < size;) {
		size_t n = size - off;
		if (max_chunk) {
			seed = seed * 1103515245u + 12345u;
			size_t want = 1 + (seed >> 16) % max_chunk;
			n = want < n ? want : n;
		}
		if (qmp_framer_feed(f, data + off, n) < 0)
			abort();
		drain(f, out);
		off += n;
	}
	qmp_framer_free(f);
	fclose(out);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = size ? data[0] : 0;
	/* 64 bytes to 8 KiB: small enough that over-long lines are easy to
	 * reach, large enough for deep nesting. */
	size_t max_line = (size_t)64 << (seed % 8);
	char *whole = run(data, size, max_line, 0, 0);
	char *tiny = run(data, size, max_line, seed, 3);
	char *mixed = run(data, size, max_line, seed, 300);

	if (strcmp(whole, tiny) != 0 || strcmp(whole, mixed) != 0) {
		fprintf(stderr, "whole:\n%s\nin chunks:\n%s\n", whole,
			strcmp(whole, tiny) ? tiny : mixed);
		abort();
	}
	free(whole);
	free(tiny);
	free(mixed);
	return 0;
}

#ifndef WARREN_FUZZING
static int run_file(const char *path)
{
	FILE *f = fopen(path, "re");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -errno;
	do {
		if (cap - len < 4096) {
			uint8_t *nb = realloc(buf, cap + 65536);
			if (!nb)
				abort();
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int not_hidden(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : QMP_CORPUS_DIR;
	struct dirent **names;
	int n, failed = 0;

	n = scandir(dir, &names, not_hidden, alphasort);
	if (n <= 0) {
		printf("1..0 # SKIP no corpus in %s\n", dir);
		return n < 0 ? 1 : 0;
	}
	printf("1..%d\n", n);
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		/* A crash aborts the whole run, which the harness reports. */
		int r = run_file(path);
		printf("%s %d - %s\n", r == 0 ? "ok" : "not ok", i + 1, names[i]->d_name);
		failed |= r != 0;
		free(names[i]);
	}
	free(names);
	return failed;
}
#endif
