/*
 * vm-private: what spec.c and state.c share and nobody outside vm/ needs.
 * Not part of the folder's interface; include vm/vm.h from elsewhere.
 */
#ifndef WARREN_VM_PRIVATE_H
#define WARREN_VM_PRIVATE_H

#include <stddef.h>

/* Room for an escaped, shortened user value inside a client message. */
#define VM_ESCAPE_SIZE 64

/*
 * Copy n bytes of untrusted s into buf for a message: printable ASCII as
 * is; quotes, backslashes, control bytes, NUL and every non-ASCII byte as
 * \xNN; cut with "..." when buf would overflow. The result is always valid
 * UTF-8 (a cut can never split a multi-byte character) and fits one line.
 * len must be at least 16. Returns buf.
 */
const char *vm_escape(const char *s, size_t n, char *buf, size_t len);

#endif
