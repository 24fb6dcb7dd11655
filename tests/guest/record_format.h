/* record_format.h: the on-disk record written by the test guest's recwriter
 * and checked on the host by verify-records. Header-only, plain C, no state
 * (thread-safe). Layout (4096 bytes, little-endian; record i sits at byte
 * offset i*4096 and carries seq i+1):
 *   0     8     magic "STRATREC"
 *   8     8     u64 seq
 *   16    8     u64 boot_id (random per guest boot, never 0)
 *   24    8     u64 mono_ns (guest CLOCK_MONOTONIC when written)
 *   32    4056  payload: word j (0..506) = rec_splitmix64(seed + (j+1)*GOLDEN),
 *               seed = seq ^ (boot_id * GOLDEN), GOLDEN = 0x9E3779B97F4A7C15
 *   4088  8     u64 FNV-1a 64 of bytes 0..4087
 */
#ifndef STRATA_TESTS_GUEST_RECORD_FORMAT_H
#define STRATA_TESTS_GUEST_RECORD_FORMAT_H

#include <stdint.h>
#include <string.h>

#define REC_SIZE 4096
#define REC_MAGIC "STRATREC"
#define REC_PAYLOAD_OFF 32
#define REC_SUM_OFF (REC_SIZE - 8)
#define REC_GOLDEN 0x9E3779B97F4A7C15ull

/* What one 4096-byte block of a disk holds. */
enum rec_kind {
  REC_VALID,     /* a record with a good checksum and payload, at its place */
  REC_ZERO,      /* all zero bytes: never written */
  REC_TORN,      /* magic present, checksum or payload wrong */
  REC_MISPLACED, /* a good record whose seq does not match its offset */
  REC_STRAY,     /* non-zero bytes without the magic */
};

struct rec_header {
  uint64_t seq, boot_id, mono_ns;
};

static inline uint64_t rec_get64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static inline void rec_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static inline uint64_t rec_splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline uint64_t rec_fnv1a64(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static inline uint64_t rec_payload_word(uint64_t seq, uint64_t boot_id, unsigned j) {
  uint64_t seed = seq ^ (boot_id * REC_GOLDEN);
  return rec_splitmix64(seed + (uint64_t)(j + 1) * REC_GOLDEN);
}

/* Fills buf (REC_SIZE bytes) with record seq of boot boot_id. */
static inline void rec_fill(uint8_t *buf, uint64_t seq, uint64_t boot_id, uint64_t mono_ns) {
  memcpy(buf, REC_MAGIC, 8);
  rec_put64(buf + 8, seq);
  rec_put64(buf + 16, boot_id);
  rec_put64(buf + 24, mono_ns);
  for (unsigned j = 0; j < (REC_SUM_OFF - REC_PAYLOAD_OFF) / 8; j++)
    rec_put64(buf + REC_PAYLOAD_OFF + 8 * j, rec_payload_word(seq, boot_id, j));
  rec_put64(buf + REC_SUM_OFF, rec_fnv1a64(buf, REC_SUM_OFF));
}

/* Classifies one block expected to hold record expected_seq; fills *hdr
 * (when not NULL) for VALID and MISPLACED blocks. */
static inline enum rec_kind rec_check(const uint8_t *buf, uint64_t expected_seq,
                                      struct rec_header *hdr) {
  if (memcmp(buf, REC_MAGIC, 8) != 0) {
    for (size_t i = 0; i < REC_SIZE; i++)
      if (buf[i]) return REC_STRAY;
    return REC_ZERO;
  }
  if (rec_get64(buf + REC_SUM_OFF) != rec_fnv1a64(buf, REC_SUM_OFF)) return REC_TORN;
  struct rec_header h = {rec_get64(buf + 8), rec_get64(buf + 16), rec_get64(buf + 24)};
  for (unsigned j = 0; j < (REC_SUM_OFF - REC_PAYLOAD_OFF) / 8; j++)
    if (rec_get64(buf + REC_PAYLOAD_OFF + 8 * j) != rec_payload_word(h.seq, h.boot_id, j))
      return REC_TORN;
  if (hdr) *hdr = h;
  return h.seq == expected_seq ? REC_VALID : REC_MISPLACED;
}

#endif
