/* recwriter: the test guest's record writer. Runs as the guest's workload
 * (started by /init) and appends numbered, checksummed 4096-byte records to
 * a block device so that, after any snapshot or rollback, a host-side check
 * (tests/tools/verify_records.c) can prove the disk holds exactly a
 * contiguous prefix of the records, none torn. Single-threaded.
 *
 * Record layout (4096 bytes, little-endian, record i at byte offset i*4096,
 * holding sequence number i+1):
 *   off    size  field
 *   0      8     magic "STRATREC"
 *   8      8     u64 seq          1, 2, 3, … (== offset/4096 + 1)
 *   16     8     u64 boot_id      random per boot, never 0
 *   24     8     u64 mono_ns      CLOCK_MONOTONIC at write time
 *   32     4056  payload          507 u64 words of splitmix64(seed), where
 *                                 seed = seq ^ (boot_id * 0x9E3779B97F4A7C15)
 *   4088   8     u64 checksum     FNV-1a 64 over bytes 0..4087
 * The layout lives in record_format.h (beside this file), shared with the
 * host-side verifier.
 *
 * Durability: the device is opened O_DIRECT|O_DSYNC and written from an
 * aligned buffer, so when "REC <seq>" is printed the record has reached the
 * virtual disk (the guest issued a flush and qemu completed it).
 *
 * Resume: unless --fresh, the writer first scans the device for the valid
 * prefix 1..K and continues with K+1, so a guest rebooted after a rollback
 * extends the same log (the new boot has a new boot_id).
 *
 * Ring: with a second device DEV2, the records go to the two devices in
 * turn, each device holding its own log as above: DEV's 1, DEV2's 1, DEV's
 * 2, DEV2's 2, …, each durable before the next is written. The global
 * sequence is their sum, and "REC" prints it. A state of the two devices
 * that the guest could have left (a consistent cut across them: issue 18's
 * group snapshots) has DEV's count a and DEV2's count b with
 * b <= a <= b + 1; anything else shows a record missing before a later one.
 *
 * Serve: with --serve PORT (a virtio-serial port), the writer writes one
 * record per request instead of on its own: it prints "READY next=<seq>" to
 * PORT, then for each line it reads there writes its next record durably
 * and only then answers "ACK <line>" (or "FULL <line>" when DEV is full).
 * A harness on the host (tests/tools/ring_driver.py) sends request i to
 * guest i mod N and i+1 only after i's answer, so the guests' disks
 * together hold a global order that a consistent cut across hosts keeps
 * (issue 22, R4.3).
 *
 * Usage: recwriter [--interval-ms N] [--print-every N] [--max N] [--fresh]
 *                  [--serve PORT] DEV [DEV2]
 * --interval-ms: sleep after each record, default 2 (~270 records/s under
 * TCG here, ~30% of a host core; 0 = flat out, ~1050/s, ~70% of a core).
 * Prints "RECWRITER START dev=… next=… boot_id=…", "REC <seq>" after every
 * N-th durable record, and "RECWRITER FULL last=<seq>" when the device is
 * full (then exits 0). Errors go to stderr, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "record_format.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A random non-zero id; GRND_INSECURE never blocks on early-boot entropy. */
static uint64_t new_boot_id(void) {
  uint64_t id = 0;
#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif
  if (getrandom(&id, sizeof id, GRND_INSECURE) != sizeof id &&
      getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    id = rec_splitmix64((uint64_t)ts.tv_nsec ^ now_ns() ^ (uint64_t)getpid());
  }
  return id ? id : 1;
}

static uint64_t device_size(int fd) {
  uint64_t size = 0;
  struct stat st;
  if (ioctl(fd, BLKGETSIZE64, &size) == 0) return size;
  if (fstat(fd, &st) == 0) return (uint64_t)st.st_size;
  return 0;
}

/* Length of the valid prefix already on the device (records 1..K). */
static uint64_t scan_prefix(int fd, uint8_t *buf, uint64_t max_records) {
  uint64_t k = 0;
  while (k < max_records) {
    if (pread(fd, buf, REC_SIZE, (off_t)(k * REC_SIZE)) != REC_SIZE) break;
    if (rec_check(buf, k + 1, NULL) != REC_VALID) break;
    k++;
  }
  return k;
}

static int write_record(int fd, uint8_t *buf, uint64_t seq, uint64_t boot_id) {
  rec_fill(buf, seq, boot_id, now_ns());
  ssize_t n = pwrite(fd, buf, REC_SIZE, (off_t)((seq - 1) * REC_SIZE));
  if (n == REC_SIZE) return 0;
  fprintf(stderr, "recwriter: write record %llu: %s\n", (unsigned long long)seq,
          n < 0 ? strerror(errno) : "short write");
  return 1;
}

/* The ring of two devices (see the top): resumes where the pair left off. */
static int ring(int fd, int fd2, uint8_t *buf, int fresh, uint64_t max_records,
                uint64_t boot_id, long interval_ms, long print_every) {
  uint64_t a = fresh ? 0 : scan_prefix(fd, buf, max_records);
  uint64_t b = fresh ? 0 : scan_prefix(fd2, buf, max_records);
  if (a > b + 1) a = b + 1; /* a cut that was not consistent: realign */
  if (b > a) b = a;
  printf("RECWRITER START ring next=%llu capacity=%llu boot_id=%016llx\n",
         (unsigned long long)(a + b + 1), (unsigned long long)(2 * max_records),
         (unsigned long long)boot_id);
  struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000};
  while (b < max_records) {
    int second = a > b; /* DEV's turn while the counts are equal */
    uint64_t seq = second ? ++b : ++a;
    if (write_record(second ? fd2 : fd, buf, seq, boot_id)) return 1;
    if ((a + b) % (uint64_t)print_every == 0)
      printf("REC %llu\n", (unsigned long long)(a + b));
    if (interval_ms > 0) nanosleep(&pause, NULL);
  }
  printf("RECWRITER FULL last=%llu\n", (unsigned long long)(a + b));
  return 0;
}

/* Serve mode (see the top): one durable record per request line on PORT.
 * A virtio console port opens once, so one descriptor reads and writes. */
static int port_say(int port, const char *what, const char *line) {
  char msg[160];
  int n = snprintf(msg, sizeof msg, "%s %s\n", what, line);
  return write(port, msg, (size_t)n) == n ? 0 : 1;
}

static int serve(int fd, const char *port_path, uint8_t *buf, uint64_t seq,
                 uint64_t max_records, uint64_t boot_id, long print_every) {
  int port = open(port_path, O_RDWR);
  if (port < 0) {
    fprintf(stderr, "recwriter: open %s: %s\n", port_path, strerror(errno));
    return 1;
  }
  printf("RECWRITER START serve=%s next=%llu capacity=%llu boot_id=%016llx\n",
         port_path, (unsigned long long)seq, (unsigned long long)max_records,
         (unsigned long long)boot_id);
  char next[32];
  snprintf(next, sizeof next, "next=%llu", (unsigned long long)seq);
  if (port_say(port, "READY", next)) return 1;
  char in[256];
  size_t have = 0;
  for (;;) {
    char *nl = memchr(in, '\n', have);
    if (!nl) {
      if (have == sizeof in) have = 0; /* no line is this long: drop it */
      ssize_t n = read(port, in + have, sizeof in - have);
      if (n <= 0) break;
      have += (size_t)n;
      continue;
    }
    *nl = 0;
    if (nl > in && nl[-1] == '\r') nl[-1] = 0;
    if (seq > max_records) {
      if (port_say(port, "FULL", in)) return 1;
    } else {
      if (write_record(fd, buf, seq, boot_id)) return 1;
      if (port_say(port, "ACK", in)) return 1;
      if (seq % (uint64_t)print_every == 0)
        printf("REC %llu\n", (unsigned long long)seq);
      seq++;
    }
    have -= (size_t)(nl + 1 - in);
    memmove(in, nl + 1, have);
  }
  printf("RECWRITER SERVE EOF last=%llu\n", (unsigned long long)(seq - 1));
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: recwriter [--interval-ms N] [--print-every N] [--max N] "
          "[--fresh] [--serve PORT] DEVICE [DEVICE2]\n");
  exit(1);
}

int main(int argc, char **argv) {
  long interval_ms = 2, print_every = 1; /* ~270 records/s under TCG */
  uint64_t max_records = 0;
  int fresh = 0;
  const char *dev = NULL, *dev2 = NULL, *port = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc)
      interval_ms = atol(argv[++i]);
    else if (!strcmp(argv[i], "--print-every") && i + 1 < argc)
      print_every = atol(argv[++i]);
    else if (!strcmp(argv[i], "--max") && i + 1 < argc)
      max_records = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--serve") && i + 1 < argc)
      port = argv[++i];
    else if (!strcmp(argv[i], "--fresh"))
      fresh = 1;
    else if (argv[i][0] != '-' && !dev)
      dev = argv[i];
    else if (argv[i][0] != '-' && !dev2)
      dev2 = argv[i];
    else
      usage();
  }
  if (!dev || interval_ms < 0 || print_every < 1 || (port && dev2)) usage();
  setvbuf(stdout, NULL, _IOLBF, 0);

  int fd = open(dev, O_RDWR | O_DIRECT | O_DSYNC);
  if (fd < 0) {
    fprintf(stderr, "recwriter: open %s: %s\n", dev, strerror(errno));
    return 1;
  }
  int fd2 = -1;
  if (dev2 && (fd2 = open(dev2, O_RDWR | O_DIRECT | O_DSYNC)) < 0) {
    fprintf(stderr, "recwriter: open %s: %s\n", dev2, strerror(errno));
    return 1;
  }
  uint64_t capacity = device_size(fd) / REC_SIZE;
  if (dev2 && device_size(fd2) / REC_SIZE < capacity)
    capacity = device_size(fd2) / REC_SIZE;
  if (max_records == 0 || max_records > capacity) max_records = capacity;
  uint8_t *buf;
  if (posix_memalign((void **)&buf, REC_SIZE, REC_SIZE) != 0) {
    fprintf(stderr, "recwriter: out of memory\n");
    return 1;
  }

  uint64_t boot_id = new_boot_id();
  uint64_t seq = fresh ? 1 : scan_prefix(fd, buf, max_records) + 1;
  if (port) return serve(fd, port, buf, seq, max_records, boot_id, print_every);
  if (dev2) return ring(fd, fd2, buf, fresh, max_records, boot_id,
                        interval_ms, print_every);
  printf("RECWRITER START dev=%s next=%llu capacity=%llu boot_id=%016llx\n",
         dev, (unsigned long long)seq, (unsigned long long)max_records,
         (unsigned long long)boot_id);

  struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000};
  for (; seq <= max_records; seq++) {
    if (write_record(fd, buf, seq, boot_id)) return 1;
    if (seq % (uint64_t)print_every == 0) printf("REC %llu\n", (unsigned long long)seq);
    if (interval_ms > 0) nanosleep(&pause, NULL);
  }
  printf("RECWRITER FULL last=%llu\n", (unsigned long long)(seq - 1));
  return 0;
}
