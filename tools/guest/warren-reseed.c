/*
 * warren-reseed: feed the bytes on stdin to the kernel's entropy pool,
 * credited, and make the kernel reseed its random generator now.
 *
 * A guest resumed from a saved memory image (a restored snapshot, or one
 * of many VMs forked from one template) carries the random generator
 * state of the moment it was saved; without a reseed, forks would hand
 * out the same "random" numbers. warrend runs this through the guest
 * agent with fresh bytes from the host right after such a resume.
 */
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_BYTES 512

int main(void)
{
	struct {
		struct rand_pool_info info;
		unsigned char buf[MAX_BYTES];
	} req;
	size_t n = 0;
	ssize_t k;
	int fd;

	while (n < MAX_BYTES && (k = read(0, req.buf + n, MAX_BYTES - n)) > 0)
		n += (size_t)k;
	if (n < 16) {
		fprintf(stderr, "warren-reseed: need at least 16 bytes on stdin\n");
		return 2;
	}
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("warren-reseed: /dev/urandom");
		return 1;
	}
	req.info.entropy_count = (int)(n * 8);
	req.info.buf_size = (int)n;
	if (ioctl(fd, RNDADDENTROPY, &req.info) < 0) {
		perror("warren-reseed: RNDADDENTROPY");
		return 1;
	}
	if (ioctl(fd, RNDRESEEDCRNG) < 0) {
		perror("warren-reseed: RNDRESEEDCRNG");
		return 1;
	}
	close(fd);
	return 0;
}
