/*
 * warren-randread DEVICE COUNT: COUNT reads of 4 KiB at random aligned
 * offsets of DEVICE, with O_DIRECT so that each is one request to the
 * virtual disk, one after another. Prints "OPS SECONDS OPS_PER_SECOND".
 * The reference guest carries it so that tests can measure a disk's
 * I/O rate from inside the guest.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long long size = 0, blocks;
	long count;
	void *buf;
	double t0, t;
	int fd;

	if (argc != 3 || (count = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: warren-randread DEVICE COUNT\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0 || size < BLOCK) {
		perror(argv[1]);
		return 1;
	}
	if (posix_memalign(&buf, BLOCK, BLOCK) != 0)
		return 1;
	blocks = size / BLOCK;
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	t0 = now();
	for (long i = 0; i < count; i++) {
		off_t off = (off_t)(((unsigned long long)random() << 16 ^ (unsigned long long)random()) %
				    blocks) * BLOCK;
		if (pread(fd, buf, BLOCK, off) != BLOCK) {
			perror("pread");
			return 1;
		}
	}
	t = now() - t0;
	printf("%ld %.3f %.1f\n", count, t, (double)count / t);
	return 0;
}
