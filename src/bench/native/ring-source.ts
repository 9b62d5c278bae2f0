/**
 * The C source of the `native` contender: the machine's own limit for the benchmark's workload, compiled at bench
 * time with the system C compiler (./compile.ts) and run as a child process that prints one JSON object.
 *
 *   native-ring throughput SIZE WINDOW COUNT WARMUP
 *     A single-producer/single-consumer ring of WINDOW fixed slots (SIZE bytes, rounded up to 64) between two
 *     pthreads. The producer stamps its private, pre-filled message with the sequence number (first u32) and
 *     seq ^ 0x9e3779b9 (last u32), copies it into the next slot and publishes `sent`; the consumer copies the slot
 *     into its own buffer (every byte read), checks both stamps and publishes `acked`. At most WINDOW messages are
 *     sent and not yet acknowledged: the same window and verification as every JavaScript contender.
 *
 *          sent (producer writes)        acked (consumer writes)       free-running u32 counters, one cache line
 *     slot[i % WINDOW] belongs to the producer while i - acked < WINDOW and i >= sent, to the consumer for
 *     acked <= i < sent. Release stores publish, acquire loads observe (C11 <stdatomic.h>).
 *
 *   native-ring rtt SIZE COUNT WARMUP
 *     A spin ping-pong: the client copies a stamped SIZE-byte request into shared memory and publishes its number;
 *     the server spins on it, copies the request out, checks it, echoes it into the response slot and publishes;
 *     the client spins on the response, copies it out and checks it. One sample (CLOCK_MONOTONIC) per round trip.
 *
 * A waiting side spins with the CPU's pause hint and calls sched_yield() after 4096 idle turns, so a peer that
 * lost its core to another process gets it back instead of the spinner burning the rest of its time slice (on a
 * quiet machine the yield never happens).
 *
 * Output: {"messages","elapsedNs","cpuNs":[producer, consumer],"verified","samples"?}. Exit 3 on a failed check.
 */
export const NATIVE_RING_SOURCE = String.raw`
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAGIC 0x9e3779b9u
#define LINE 64

#if defined(__x86_64__) || defined(__i386__)
#define PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define PAUSE() __asm__ __volatile__("yield")
#else
#define PAUSE() do {} while (0)
#endif

struct shared {
  _Alignas(LINE) atomic_uint sent;
  _Alignas(LINE) atomic_uint acked;
  _Alignas(LINE) atomic_int failed;
  _Alignas(LINE) char end;
};

static struct shared sh;
static unsigned char *slots;
static size_t size, step;
static unsigned window, total, warmup, count;
static uint64_t t_start, t_end, cpu_prod, cpu_cons;

static uint64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void idle(unsigned *turns) {
  PAUSE();
  if ((++*turns & 4095u) == 0) sched_yield();
}

static void fill(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 131 + 7) & 0xff);
}

static void stamp(unsigned char *p, uint32_t seq) {
  uint32_t t = seq ^ MAGIC;
  memcpy(p, &seq, 4);
  memcpy(p + size - 4, &t, 4);
}

static int check(const unsigned char *p, uint32_t seq) {
  uint32_t h, t;
  memcpy(&h, p, 4);
  memcpy(&t, p + size - 4, 4);
  return h == seq && t == (seq ^ MAGIC);
}

static void *consumer(void *arg) {
  (void)arg;
  unsigned char *own = aligned_alloc(LINE, step);
  uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  unsigned recv = 0, avail = 0, turns = 0;
  while (recv < total) {
    if (recv == avail) {
      avail = atomic_load_explicit(&sh.sent, memory_order_acquire);
      if (recv == avail) {
        if (atomic_load_explicit(&sh.failed, memory_order_relaxed)) break;
        idle(&turns);
        continue;
      }
    }
    memcpy(own, slots + (size_t)(recv % window) * step, size);
    if (!check(own, recv)) {
      fprintf(stderr, "native: message %u failed its sequence stamp check\n", recv);
      atomic_store(&sh.failed, 1);
      break;
    }
    recv++;
    atomic_store_explicit(&sh.acked, recv, memory_order_release);
  }
  cpu_cons = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  free(own);
  return NULL;
}

static int throughput(void) {
  step = (size + LINE - 1) / LINE * LINE;
  slots = aligned_alloc(LINE, step * window);
  unsigned char *app = aligned_alloc(LINE, step);
  if (!slots || !app) return 2;
  memset(slots, 0, step * window);
  fill(app, size);
  pthread_t th;
  if (pthread_create(&th, NULL, consumer, NULL) != 0) return 2;
  uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  unsigned acked = 0, turns = 0;
  for (unsigned i = 0; i < total; i++) {
    if (i == warmup) {
      t_start = now_ns(CLOCK_MONOTONIC);
      c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    }
    while (i - acked >= window) {
      acked = atomic_load_explicit(&sh.acked, memory_order_acquire);
      if (i - acked < window) break;
      if (atomic_load_explicit(&sh.failed, memory_order_relaxed)) goto out;
      idle(&turns);
    }
    stamp(app, i);
    memcpy(slots + (size_t)(i % window) * step, app, size);
    atomic_store_explicit(&sh.sent, i + 1, memory_order_release);
  }
  while (acked != total) {
    acked = atomic_load_explicit(&sh.acked, memory_order_acquire);
    if (acked == total) break;
    if (atomic_load_explicit(&sh.failed, memory_order_relaxed)) break;
    idle(&turns);
  }
out:
  t_end = now_ns(CLOCK_MONOTONIC);
  cpu_prod = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  pthread_join(th, NULL);
  if (atomic_load(&sh.failed)) return 3;
  printf("{\"messages\":%u,\"elapsedNs\":%llu,\"cpuNs\":[%llu,%llu],\"verified\":%u}\n", count,
         (unsigned long long)(t_end - t_start), (unsigned long long)cpu_prod, (unsigned long long)cpu_cons, total);
  return 0;
}

/* rtt: request and response each on their own lines, the numbers on theirs. */
struct pingpong {
  _Alignas(LINE) atomic_uint req;
  _Alignas(LINE) atomic_uint resp;
  _Alignas(LINE) atomic_int failed;
};
static struct pingpong pp;
static unsigned char *req_buf, *resp_buf;

static void *server(void *arg) {
  (void)arg;
  unsigned char *own = aligned_alloc(LINE, step);
  uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  unsigned turns = 0;
  for (unsigned i = 0; i < total; i++) {
    while (atomic_load_explicit(&pp.req, memory_order_acquire) != i + 1) {
      if (atomic_load_explicit(&pp.failed, memory_order_relaxed)) goto out;
      idle(&turns);
    }
    memcpy(own, req_buf, size);
    if (!check(own, i)) {
      fprintf(stderr, "native: request %u failed its sequence stamp check\n", i);
      atomic_store(&pp.failed, 1);
      break;
    }
    memcpy(resp_buf, own, size);
    atomic_store_explicit(&pp.resp, i + 1, memory_order_release);
  }
out:
  cpu_cons = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  free(own);
  return NULL;
}

static int rtt(void) {
  step = (size + LINE - 1) / LINE * LINE;
  req_buf = aligned_alloc(LINE, step);
  resp_buf = aligned_alloc(LINE, step);
  unsigned char *app = aligned_alloc(LINE, step), *own = aligned_alloc(LINE, step);
  double *samples = malloc(sizeof(double) * (count ? count : 1));
  if (!req_buf || !resp_buf || !app || !own || !samples) return 2;
  fill(app, size);
  pthread_t th;
  if (pthread_create(&th, NULL, server, NULL) != 0) return 2;
  uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  unsigned turns = 0;
  for (unsigned i = 0; i < total; i++) {
    if (i == warmup) {
      t_start = now_ns(CLOCK_MONOTONIC);
      c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    }
    uint64_t t = now_ns(CLOCK_MONOTONIC);
    stamp(app, i);
    memcpy(req_buf, app, size);
    atomic_store_explicit(&pp.req, i + 1, memory_order_release);
    while (atomic_load_explicit(&pp.resp, memory_order_acquire) != i + 1) {
      if (atomic_load_explicit(&pp.failed, memory_order_relaxed)) goto out;
      idle(&turns);
    }
    memcpy(own, resp_buf, size);
    if (!check(own, i)) {
      fprintf(stderr, "native: response %u failed its sequence stamp check\n", i);
      atomic_store(&pp.failed, 1);
      goto out;
    }
    if (i >= warmup) samples[i - warmup] = (double)(now_ns(CLOCK_MONOTONIC) - t);
  }
out:
  t_end = now_ns(CLOCK_MONOTONIC);
  cpu_prod = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  pthread_join(th, NULL);
  if (atomic_load(&pp.failed)) return 3;
  printf("{\"messages\":%u,\"elapsedNs\":%llu,\"cpuNs\":[%llu,%llu],\"verified\":%u,\"samples\":[", count,
         (unsigned long long)(t_end - t_start), (unsigned long long)cpu_prod, (unsigned long long)cpu_cons, total);
  for (unsigned i = 0; i < count; i++) printf(i ? ",%.0f" : "%.0f", samples[i]);
  printf("]}\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && strcmp(argv[1], "throughput") == 0) {
    size = strtoul(argv[2], NULL, 10);
    window = strtoul(argv[3], NULL, 10);
    count = strtoul(argv[4], NULL, 10);
    warmup = strtoul(argv[5], NULL, 10);
  } else if (argc >= 5 && strcmp(argv[1], "rtt") == 0) {
    size = strtoul(argv[2], NULL, 10);
    count = strtoul(argv[3], NULL, 10);
    warmup = strtoul(argv[4], NULL, 10);
    window = 1;
  } else {
    fprintf(stderr, "usage: native-ring throughput SIZE WINDOW COUNT WARMUP | rtt SIZE COUNT WARMUP\n");
    return 1;
  }
  if (size < 8 || size % 4 != 0 || size > (64u << 20) || window < 1 || window > 4096 || count < 1) {
    fprintf(stderr, "native-ring: bad arguments\n");
    return 1;
  }
  total = count + warmup;
  return argv[1][0] == 't' ? throughput() : rtt();
}
`;
