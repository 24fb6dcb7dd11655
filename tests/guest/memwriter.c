/* memwriter: the test guest's memory workload (issue 21, R3). It keeps a
 * counter and a checksummed pattern in a chosen amount of RAM and dirties
 * the pattern's pages at a chosen rate, so that a memory snapshot restored
 * later can be checked from the console:
 *  - the counter ("tick") goes on from the snapshot's instant, with the
 *    same boot id: the restored guest did not boot again;
 *  - the pattern verifies: every page holds its own index, generation and
 *    fill word, and the generation table (elsewhere in RAM) agrees with
 *    every page. A page restored from another instant than its table entry
 *    shows as a mismatch, a torn page as a bad fill.
 * Single-threaded (one vCPU): a page and its table entry are written one
 * after the other, so a VM paused in between has them differ until it
 * runs again and finishes the pair, which is before the next check.
 *
 * Page layout (4096 bytes, u64 words): [0] magic "STRATMEM", [1] page
 * index, [2] generation, [3] boot id, [4..511] the fill word
 * mix(index, generation, boot id).
 *
 * Usage: memwriter --mib N [--dirty-mibps R] [--print-ms P] [--check-ms C]
 * R: MiB per second of pages rewritten (0 = idle, the default; a negative
 * value = as fast as the guest can). Prints, on stdout:
 *   MEMWRITER START mib=N pages=P boot_id=B
 *   MEM boot=B tick=T dirtied_mib=D      every P ms (default 100)
 *   MEMCHECK ok boot=B tick=T pages=P    after each full check (every C ms,
 *                                        default 2000), or
 *   MEMCHECK BAD boot=B page=I why=…     on the first page that fails.
 * The tick counts loop turns (each ~10 ms when a rate is set, one batch of
 * pages flat out), never the clock, so a restored guest's clock jump does
 * not move it.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / 8u)
#define MAGIC 0x4d454d5441525453ull /* "STRATMEM" little-endian */

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static uint64_t fill_word(uint64_t index, uint64_t gen, uint64_t boot) {
  return splitmix64(index * 0x9E3779B97F4A7C15ull ^ gen ^ (boot << 1));
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void write_page(uint64_t* p, uint64_t index, uint64_t gen,
                       uint64_t boot) {
  uint64_t w = fill_word(index, gen, boot);
  p[0] = MAGIC;
  p[1] = index;
  p[2] = gen;
  p[3] = boot;
  for (unsigned i = 4; i < WORDS; i++) p[i] = w;
}

/* 0 when page `index` is whole and agrees with its table entry. */
static const char* check_page(const uint64_t* p, uint64_t index,
                              uint64_t gen, uint64_t boot) {
  if (p[0] != MAGIC) return "magic";
  if (p[1] != index) return "index";
  if (p[3] != boot) return "boot";
  if (p[2] != gen) return "generation differs from the table";
  uint64_t w = fill_word(index, gen, boot);
  for (unsigned i = 4; i < WORDS; i++)
    if (p[i] != w) return "fill";
  return 0;
}

int main(int argc, char** argv) {
  long mib = 0, print_ms = 100, check_ms = 2000;
  double rate = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mib")) mib = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--dirty-mibps")) rate = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--print-ms")) print_ms = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--check-ms")) check_ms = atol(argv[i + 1]);
    else {
      fprintf(stderr, "memwriter: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (mib <= 0 || print_ms <= 0 || check_ms <= 0) {
    fprintf(stderr,
            "usage: memwriter --mib N [--dirty-mibps R] [--print-ms P] "
            "[--check-ms C]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  const uint64_t pages = (uint64_t)mib * (1024u * 1024u / PAGE);
  uint64_t* mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  uint64_t* gen = calloc(pages, sizeof(uint64_t));
  if (mem == MAP_FAILED || !gen) {
    fprintf(stderr, "memwriter: cannot allocate %ld MiB\n", mib);
    return 1;
  }
  uint64_t boot = 0;
  if (getrandom(&boot, sizeof boot, GRND_NONBLOCK) != sizeof boot)
    boot = splitmix64(now_ms() ^ (uint64_t)getpid());
  boot = boot ? boot : 1;
  for (uint64_t i = 0; i < pages; i++) write_page(mem + i * WORDS, i, 0, boot);
  printf("MEMWRITER START mib=%ld pages=%" PRIu64 " boot_id=%016" PRIx64 "\n",
         mib, pages, boot);

  uint64_t rng = boot, tick = 0, dirtied = 0, owed = 0;
  uint64_t last = now_ms(), last_print = last, last_check = last;
  const uint64_t batch = 256; /* pages per flat-out turn: 1 MiB */
  for (;;) {
    uint64_t now = now_ms();
    uint64_t n;
    if (rate < 0) {
      n = batch;
    } else {
      /* The pages owed since the last turn, at most 1 s worth (a clock
       * jump after a restore must not become a burst). */
      uint64_t dt = now - last;
      if (dt > 1000) dt = 1000;
      owed += (uint64_t)(rate * 256.0 * (double)dt);
      n = owed / 1000;
      owed %= 1000;
    }
    last = now;
    for (uint64_t k = 0; k < n; k++) {
      rng = splitmix64(rng);
      uint64_t i = rng % pages;
      uint64_t g = gen[i] + 1;
      write_page(mem + i * WORDS, i, g, boot);
      gen[i] = g;
    }
    dirtied += n;
    tick++;
    if (now - last_print >= (uint64_t)print_ms) {
      printf("MEM boot=%016" PRIx64 " tick=%" PRIu64 " dirtied_mib=%" PRIu64
             "\n",
             boot, tick, dirtied / 256);
      last_print = now;
    }
    if (now - last_check >= (uint64_t)check_ms) {
      uint64_t bad = pages;
      const char* why = 0;
      for (uint64_t i = 0; i < pages && !why; i++) {
        why = check_page(mem + i * WORDS, i, gen[i], boot);
        if (why) bad = i;
      }
      if (why) {
        printf("MEMCHECK BAD boot=%016" PRIx64 " page=%" PRIu64 " why=%s\n",
               boot, bad, why);
      } else {
        printf("MEMCHECK ok boot=%016" PRIx64 " tick=%" PRIu64
               " pages=%" PRIu64 "\n",
               boot, tick, pages);
      }
      last_check = now_ms();
    }
    if (rate >= 0) usleep(10000);
  }
}
