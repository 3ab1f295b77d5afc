/*
 * net-private: what the files of net/ share with each other and with no
 * one else.
 */
#ifndef WARREN_NET_PRIVATE_H
#define WARREN_NET_PRIVATE_H

#include <stddef.h>

/* Called for each non-empty line of a text, index counting those from 0;
 * line may be modified. Fills elem and returns 1 to keep it, 0 to leave the
 * line out, or a negative errno that fails the whole parse. */
typedef int (*net_line_fn)(char *line, size_t index, void *elem);

/* The kept elements (elem_size bytes each) of text, as one malloc'd array
 * in *ret (free it; it may be NULL when *ret_n is 0). (addr.c) */
int net_lines_parse(const char *text, net_line_fn fn, size_t elem_size, void **ret, size_t *ret_n);

#endif
