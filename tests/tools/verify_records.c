/* verify-records: host-side check of a disk written by the test guest's
 * recwriter (format: tests/guest/record_format.h). Reads a RAW image (file
 * or stdin; convert a qcow2 first with `qemu-img convert -O raw`) block by
 * block and proves it holds exactly a contiguous prefix of records 1..N:
 * block i holds record i+1 for i < N, every block after is zero, no record
 * is torn, each boot's records form one run with non-decreasing timestamps.
 *
 * Usage: verify-records [--min-last N] [IMAGE|-]
 * Prints one JSON line, e.g.
 *   {"records": 812, "first": 1, "last": 812, "contiguous": true, "torn": 0,
 *    "boot_ids": 1, "misplaced": 0, "stray": 0, "blocks": 16384}
 * and the first problem found on stderr. Exit 0 when contiguous, no torn
 * record and last >= N (--min-last); 1 when not; 2 on usage or I/O errors.
 * A regular file's holes (SEEK_DATA/SEEK_HOLE) are taken as zero blocks
 * without reading them: a mostly empty 1 GiB image took 8 s of read
 * syscalls here, nearly all of them over holes.
 * Single-threaded, built by scripts/build-test-guest.sh (not CMake).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../guest/record_format.h"

#define MAX_BOOTS 4096

struct verify_state {
  uint64_t block;            /* index of the next block */
  uint64_t prefix;           /* blocks 0..prefix-1 hold records 1..prefix */
  int prefix_open;           /* no non-valid block seen yet */
  uint64_t records, first, last, torn, misplaced, stray;
  int contiguous;
  uint64_t boots[MAX_BOOTS]; /* distinct boot ids, in order of first sight */
  unsigned nboots;
  uint64_t prev_boot, prev_ns;
  int reported;              /* first problem already printed */
};

static void problem(struct verify_state *s, const char *what) {
  if (!s->reported) fprintf(stderr, "verify-records: block %" PRIu64 ": %s\n", s->block, what);
  s->reported = 1;
}

/* Tracks boot ids: each boot's records must form one run (the writer only
 * appends), with CLOCK_MONOTONIC never going back inside a boot (it may
 * stand still: a guest on a jiffies clocksource ticks every 4 ms). */
static void note_boot(struct verify_state *s, const struct rec_header *h) {
  if (s->records > 1 && h->boot_id == s->prev_boot) {
    if (h->mono_ns < s->prev_ns) {
      problem(s, "timestamp going back within a boot");
      s->contiguous = 0;
    }
  } else {
    for (unsigned i = 0; i < s->nboots; i++)
      if (s->boots[i] == h->boot_id) {
        problem(s, "a boot id reappears after another boot's records");
        s->contiguous = 0;
      }
    if (s->nboots < MAX_BOOTS) s->boots[s->nboots++] = h->boot_id;
  }
  s->prev_boot = h->boot_id;
  s->prev_ns = h->mono_ns;
}

static void check_block(struct verify_state *s, const uint8_t *buf) {
  struct rec_header h;
  enum rec_kind kind = rec_check(buf, s->block + 1, &h);
  if (kind == REC_VALID || kind == REC_MISPLACED) {
    s->records++;
    if (s->first == 0 || h.seq < s->first) s->first = h.seq;
    if (h.seq > s->last) s->last = h.seq;
    note_boot(s, &h);
  }
  if (kind == REC_VALID && s->prefix_open) {
    s->prefix++;
  } else {
    s->prefix_open = 0;
    switch (kind) {
      case REC_ZERO: break;
      case REC_TORN: s->torn++; problem(s, "torn record (magic, bad checksum)"); break;
      case REC_VALID: s->contiguous = 0; problem(s, "record after a gap"); break;
      case REC_MISPLACED:
        s->misplaced++; s->contiguous = 0; problem(s, "record at the wrong offset"); break;
      case REC_STRAY: s->stray++; s->contiguous = 0; problem(s, "non-zero data, not a record"); break;
    }
  }
  s->block++;
}

/* What a zero block does to the state (check_block's REC_ZERO case). */
static void zero_blocks(struct verify_state *s, uint64_t count) {
  if (count == 0) return;
  s->prefix_open = 0;
  s->block += count;
}

/* Checks the blocks of a regular file: holes skipped as zero blocks, data
 * read in 1 MiB chunks. Returns 0, or -1 on a read error (errno set). */
static int check_file(struct verify_state *s, int fd, uint64_t size) {
  static uint8_t chunk[1 << 20];
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
    if (data < 0 && errno != ENXIO) return -1;
    uint64_t start = data < 0 ? size : (uint64_t)data / REC_SIZE * REC_SIZE;
    if (start > pos) { /* a hole up to the block holding the data */
      zero_blocks(s, (start - pos) / REC_SIZE);
      pos = start;
      if (pos >= size) break;
    }
    off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
    if (hole < 0) return -1;
    uint64_t end = ((uint64_t)hole + REC_SIZE - 1) / REC_SIZE * REC_SIZE;
    if (end > size) end = (size + REC_SIZE - 1) / REC_SIZE * REC_SIZE;
    while (pos < end) {
      size_t want = end - pos < sizeof chunk ? (size_t)(end - pos) : sizeof chunk;
      ssize_t n = pread(fd, chunk, want, (off_t)pos);
      if (n < 0) return -1;
      if (n == 0) { /* the file ends mid-block: zeros, as fread's path */
        memset(chunk, 0, want);
        n = (ssize_t)want;
      }
      size_t whole = (size_t)n / REC_SIZE * REC_SIZE;
      if (whole == 0) { /* a short last block */
        memset(chunk + n, 0, REC_SIZE - (size_t)n);
        whole = REC_SIZE;
      }
      for (size_t off = 0; off < whole; off += REC_SIZE) check_block(s, chunk + off);
      pos += whole;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  uint64_t min_last = 0;
  const char *path = "-";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--min-last") && i + 1 < argc) {
      min_last = strtoull(argv[++i], NULL, 10);
    } else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
      path = argv[i];
    } else {
      fprintf(stderr, "usage: verify-records [--min-last N] [IMAGE|-]\n");
      return 2;
    }
  }
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "verify-records: %s: %s\n", path, strerror(errno));
    return 2;
  }
  static struct verify_state s;
  s.prefix_open = s.contiguous = 1;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
    if (check_file(&s, fileno(f), (uint64_t)st.st_size) != 0) {
      fprintf(stderr, "verify-records: read %s: %s\n", path, strerror(errno));
      return 2;
    }
  } else {
    static uint8_t buf[REC_SIZE];
    size_t n;
    while ((n = fread(buf, 1, REC_SIZE, f)) > 0) {
      if (n < REC_SIZE) memset(buf + n, 0, REC_SIZE - n); /* a short last block */
      check_block(&s, buf);
    }
    if (ferror(f)) {
      fprintf(stderr, "verify-records: read %s: %s\n", path, strerror(errno));
      return 2;
    }
  }
  printf("{\"records\": %" PRIu64 ", \"first\": %" PRIu64 ", \"last\": %" PRIu64
         ", \"contiguous\": %s, \"torn\": %" PRIu64 ", \"boot_ids\": %u"
         ", \"misplaced\": %" PRIu64 ", \"stray\": %" PRIu64 ", \"blocks\": %" PRIu64 "}\n",
         s.records, s.first, s.last, s.contiguous ? "true" : "false", s.torn, s.nboots,
         s.misplaced, s.stray, s.block);
  if (s.last < min_last)
    fprintf(stderr, "verify-records: last record %" PRIu64 " < %" PRIu64 "\n", s.last, min_last);
  return s.contiguous && s.torn == 0 && s.last >= min_last ? 0 : 1;
}
