/*
 * Guest side of the QEMU vsock test (test/linux/qemu-vsock.test.ts), compiled at test time with gcc -static into a
 * busybox initramfs (nothing built is committed). Busybox has no AF_VSOCK client, hence this.
 *
 *   vsock-echo client PORT SEED SIZE...  connects to CID 2 (the host: our vsock device), sends SIZE bytes of the
 *                                        stream SEED for each SIZE while reading the echo back (poll, non-blocking),
 *                                        checks every byte, half-closes (SHUT_WR) and waits for the peer's EOF.
 *   vsock-echo server PORT               listens on the guest's PORT, accepts one connection (the host connects),
 *                                        echoes it until EOF, then closes.
 * One line on stdout per run: "TZ echo ok ..." / "TZ served ..." or "TZ error ...".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>

/* byte i of stream seed: the same function as pattern() in the test */
static unsigned char pat(unsigned seed, unsigned long i) { return (unsigned char)(seed * 131 + i * 7 + (i >> 8)); }

static int fail(const char *what) {
  printf("TZ error %s: %s\n", what, strerror(errno));
  fflush(stdout);
  return 1;
}

static int client(unsigned port, unsigned seed, int n, char **sizes) {
  unsigned long total = 0;
  for (int i = 0; i < n; i++) total += strtoul(sizes[i], 0, 10);
  int s = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (s < 0) return fail("socket");
  struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) return fail("connect");
  fcntl(s, F_SETFL, O_NONBLOCK);
  static unsigned char out[65536], in[65536];
  unsigned long sent = 0, got = 0;
  int shut = 0;
  while (got < total || !shut) {
    if (sent == total && !shut) {
      if (shutdown(s, SHUT_WR) < 0) return fail("shutdown");
      shut = 1;
    }
    struct pollfd p = { .fd = s, .events = POLLIN | (sent < total ? POLLOUT : 0) };
    if (poll(&p, 1, 60000) <= 0) return fail("poll (60 s without progress)");
    if (sent < total && (p.revents & POLLOUT)) {
      unsigned long k = total - sent < sizeof out ? total - sent : sizeof out;
      for (unsigned long j = 0; j < k; j++) out[j] = pat(seed, sent + j);
      ssize_t w = write(s, out, k);
      if (w < 0 && errno != EAGAIN) return fail("write");
      if (w > 0) sent += (unsigned long)w;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(s, in, sizeof in);
      if (r < 0 && errno != EAGAIN) return fail("read");
      if (r == 0) break;
      for (ssize_t j = 0; j < r; j++) {
        if (in[j] != pat(seed, got + j)) {
          printf("TZ error seed %u: byte %lu is %u, not %u\n", seed, got + j, in[j], pat(seed, got + j));
          return 1;
        }
      }
      if (r > 0) got += (unsigned long)r;
    }
  }
  /* every byte came back; now the peer's SHUTDOWN (EOF) */
  fcntl(s, F_SETFL, 0);
  unsigned char c;
  ssize_t r = read(s, &c, 1);
  if (r != 0) {
    printf("TZ error seed %u: expected EOF after %lu bytes, read returned %zd\n", seed, got, r);
    return 1;
  }
  close(s);
  printf("TZ echo ok seed=%u bytes=%lu\n", seed, got);
  fflush(stdout);
  return 0;
}

static int server(unsigned port) {
  int l = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (l < 0) return fail("socket");
  struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) return fail("bind");
  if (listen(l, 4) < 0) return fail("listen");
  printf("TZ listening %u\n", port);
  fflush(stdout);
  struct sockaddr_vm peer;
  socklen_t pl = sizeof peer;
  int s = accept(l, (struct sockaddr *)&peer, &pl);
  if (s < 0) return fail("accept");
  static unsigned char buf[65536];
  unsigned long n = 0;
  for (;;) {
    ssize_t r = read(s, buf, sizeof buf);
    if (r < 0) return fail("read");
    if (r == 0) break;
    for (ssize_t off = 0; off < r;) {
      ssize_t w = write(s, buf + off, (size_t)(r - off));
      if (w < 0) return fail("write");
      off += w;
    }
    n += (unsigned long)r;
  }
  close(s);
  close(l);
  printf("TZ served cid=%u port=%u bytes=%lu\n", peer.svm_cid, peer.svm_port, n);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "client") == 0) return client((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argc - 4, argv + 4);
  if (argc == 3 && strcmp(argv[1], "server") == 0) return server((unsigned)atoi(argv[2]));
  fprintf(stderr, "usage: vsock-echo client PORT SEED SIZE... | server PORT\n");
  return 2;
}
