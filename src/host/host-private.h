/*
 * host-private: the small file helpers inventory.c, cgdetect.c and
 * cgroup.c share. Not part of the folder's interface; include host/host.h
 * from elsewhere.
 */
#ifndef WARREN_HOST_PRIVATE_H
#define WARREN_HOST_PRIVATE_H

#include <stddef.h>

/* snprintf into buf; -ENAMETOOLONG when the result does not fit. */
int host_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Read a whole small file (sysfs, cgroupfs, /proc/<pid>/...) into buf,
 * NUL-terminated, with trailing white space cut. Returns the length, or
 * -EFBIG when the file does not fit in len - 1 bytes.
 */
int host_read_text(const char *path, char *buf, size_t len);

/*
 * Write s in a single write(), as kernfs files want: each write is one
 * command. Opens with O_CREAT|O_TRUNC, mode 0644, which a real cgroupfs
 * ignores and a test tree needs. A short write is -EIO.
 */
int host_write_text(const char *path, const char *s);

/*
 * Call fn on each line of the file at path, its newline cut; the line may
 * be changed in place and lives until fn returns. fn returns < 0 to fail,
 * 0 to go on, > 0 to stop early; that value is returned, or 0 at the end
 * of the file. A file that cannot be opened is its -errno, before any call.
 */
typedef int (*host_line_fn)(char *line, void *userdata);
int host_each_line(const char *path, host_line_fn fn, void *userdata);

/* Is word one of the tokens of list, split at any character of seps? */
int host_has_token(const char *list, const char *seps, const char *word);

#endif
