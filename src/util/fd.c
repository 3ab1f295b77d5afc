/* fd: descriptors handed to child processes. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/util.h"

int fd_above_stdio(int fd)
{
	int nfd;

	if (fd < 0)
		return -errno;
	if (fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd < 0)
		nfd = -errno;
	close(fd);
	return nfd;
}
