// tz_shm: the few OS facilities that Node lacks and that cross-process shared memory needs.
//
//   map(path, size, flags) -> SharedArrayBuffer   open/ftruncate/mmap(MAP_SHARED); the SharedArrayBuffer's backing
//                                                   store IS the mapping (no copy), munmap runs when V8 frees it.
//   futexWait(sab, byteOffset, expected, timeoutMs) -> 0 woken | 1 value differed | 2 timed out | 3 interrupted
//   futexWake(sab, byteOffset, count) -> number of waiters woken
//   unlink(path)
//
// Kick sockets (AF_UNIX stream, one byte per kick, as OpenAMP's Linux machine), usable without Node's event loop:
//   kickListen(path) -> listening fd        kickAccept(listenFd) -> fd | -1 (none pending yet)
//   kickConnect(path) -> fd (throws ENOENT / ECONNREFUSED while the server is not up: retry)
//   pollKick(fd, timeoutMs) -> bytes drained (> 0) | 0 timed out or interrupted | -1 peer closed
//   sendKick(fd) -> 1 sent | 0 coalesced (socket buffer full: unread kicks are already queued) | -1 peer gone
//   closeFd(fd)
// Bulk copy between typed arrays (shared or not), at the C library's memmove speed:
//   copyBytes(dst, dstOffset, src, srcOffset, length)   every bound checked here; overlapping ranges are fine
// vhost-user back-ends (fd passing, mmap of a passed fd, eventfd, fd watchers on the event loop): native/vhost.cc.
// Every fd is non-blocking and close-on-exec; pollKick is the only call that sleeps (in ppoll).
//
// N-API cannot wrap foreign memory in a SharedArrayBuffer, hence node.h/v8.h. The futex calls use FUTEX_WAIT and
// FUTEX_WAKE *without* FUTEX_PRIVATE_FLAG: a private futex is keyed by (mm, address) and never reaches another
// process; a shared one is keyed by (inode/page, offset) and does, which is the point. V8's Atomics.wait keeps its own
// in-process waiter list and cannot be woken from another process.
//
// Errors become JS exceptions whose message carries the errno text and whose `code` is the errno name.
#include <node.h>
#include <v8.h>

#include "vhost.h"
#include "js-errors.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace tz_shm {

using v8::Context;
using v8::Exception;
using v8::FunctionCallbackInfo;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Object;
using v8::String;
using v8::Value;

// flags for map()
constexpr int kCreate = 1;    // create the file when missing (O_CREAT, mode 0600)
constexpr int kTruncate = 2;  // grow (never shrink) the file to `size` with ftruncate
constexpr int kExclusive = 4; // fail when the file exists (O_EXCL)

static void ThrowErrno(Isolate* isolate, int err, const std::string& what) {
  const char* name = nullptr;
  switch (err) {
    case ENOENT: name = "ENOENT"; break;
    case EACCES: name = "EACCES"; break;
    case EEXIST: name = "EEXIST"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case ENOSPC: name = "ENOSPC"; break;
    case EISDIR: name = "EISDIR"; break;
    case EPERM: name = "EPERM"; break;
    case ENODEV: name = "ENODEV"; break;
    case EBADF: name = "EBADF"; break;
    case ENOTSOCK: name = "ENOTSOCK"; break;
    case ECONNREFUSED: name = "ECONNREFUSED"; break;
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case ENAMETOOLONG: name = "ENAMETOOLONG"; break;
    case ENOTDIR: name = "ENOTDIR"; break;
    case EAGAIN: name = "EAGAIN"; break;
    case ENOTCONN: name = "ENOTCONN"; break;
    case EMFILE: name = "EMFILE"; break;
    default: name = "EUNKNOWN"; break;
  }
  isolate->ThrowException(tz_native::ErrnoError(isolate, err, what, name));
}

using tz_native::ThrowType;

static void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  if (data != nullptr && length > 0) munmap(data, length);
}

// map(path: string, size: number, flags: number): SharedArrayBuffer
// size 0 maps the whole existing file.
static void Map(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 3 || !args[0]->IsString() || !args[1]->IsNumber() || !args[2]->IsInt32()) {
    return ThrowType(isolate, "map(path: string, size: number, flags: number)");
  }
  String::Utf8Value path(isolate, args[0]);
  double want = args[1].As<v8::Number>()->Value();
  int flags = args[2].As<v8::Int32>()->Value();
  if (!(want >= 0) || want > 4398046511104.0 || std::floor(want) != want) {
    return ThrowType(isolate, "map: size must be an integer >= 0");
  }
  int oflags = O_RDWR | O_CLOEXEC;
  if (flags & kCreate) oflags |= O_CREAT;
  if (flags & kExclusive) oflags |= O_EXCL;
  int fd = open(*path, oflags, 0600);
  if (fd < 0) return ThrowErrno(isolate, errno, std::string("open ") + *path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(isolate, err, std::string("fstat ") + *path);
  }
  size_t size = static_cast<size_t>(want);
  if (size == 0) size = static_cast<size_t>(st.st_size);
  if (static_cast<off_t>(size) > st.st_size) {
    if (!(flags & kTruncate)) {
      close(fd);
      return ThrowErrno(isolate, EINVAL, std::string("map ") + *path + ": file is smaller than the requested size");
    }
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int err = errno;
      close(fd);
      return ThrowErrno(isolate, err, std::string("ftruncate ") + *path);
    }
  }
  if (size == 0) {
    close(fd);
    return ThrowErrno(isolate, EINVAL, std::string("map ") + *path + ": empty file");
  }
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);  // the mapping keeps its own reference to the file
  if (mem == MAP_FAILED) return ThrowErrno(isolate, err, std::string("mmap ") + *path);
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(mem, size, Unmap, nullptr);
  Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  args.GetReturnValue().Set(sab);
}

// Resolves (sab, byteOffset) to a 4-aligned uint32_t* inside the buffer, or throws.
static uint32_t* WordAt(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 2 || !args[0]->IsSharedArrayBuffer() || !args[1]->IsUint32()) {
    ThrowType(isolate, "expected (sab: SharedArrayBuffer, byteOffset: number, ...)");
    return nullptr;
  }
  Local<v8::SharedArrayBuffer> sab = args[0].As<v8::SharedArrayBuffer>();
  uint32_t off = args[1].As<v8::Uint32>()->Value();
  size_t len = sab->ByteLength();
  if (off % 4 != 0 || static_cast<size_t>(off) + 4 > len) {
    ThrowType(isolate, "futex word: byteOffset must be 4-aligned and inside the buffer");
    return nullptr;
  }
  return reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(sab->Data()) + off);
}

// futexWait(sab, byteOffset, expected, timeoutMs): 0 woken, 1 not-equal, 2 timed-out, 3 interrupted.
// timeoutMs < 0 or Infinity waits without a limit.
static void FutexWait(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  uint32_t* word = WordAt(args);
  if (word == nullptr) return;
  if (args.Length() < 4 || !args[2]->IsNumber() || !args[3]->IsNumber()) {
    return ThrowType(isolate, "futexWait(sab, byteOffset, expected: number, timeoutMs: number)");
  }
  uint32_t expected = static_cast<uint32_t>(static_cast<int64_t>(args[2].As<v8::Number>()->Value()));
  double ms = args[3].As<v8::Number>()->Value();
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (ms >= 0 && std::isfinite(ms)) {
    ts.tv_sec = static_cast<time_t>(ms / 1000.0);
    ts.tv_nsec = static_cast<long>((ms - static_cast<double>(ts.tv_sec) * 1000.0) * 1e6);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    tsp = &ts;  // FUTEX_WAIT takes a relative timeout
  }
  long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, nullptr, 0);
  int code = 0;
  if (r != 0) {
    switch (errno) {
      case EAGAIN: code = 1; break;
      case ETIMEDOUT: code = 2; break;
      case EINTR: code = 3; break;
      default: return ThrowErrno(isolate, errno, "futex wait");
    }
  }
  args.GetReturnValue().Set(code);
}

// futexWake(sab, byteOffset, count): number of waiters woken.
static void FutexWake(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  uint32_t* word = WordAt(args);
  if (word == nullptr) return;
  int count = INT_MAX;
  if (args.Length() >= 3 && args[2]->IsNumber()) {
    double c = args[2].As<v8::Number>()->Value();
    if (c >= 0 && c < INT_MAX) count = static_cast<int>(c);
  }
  long r = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (r < 0) return ThrowErrno(isolate, errno, "futex wake");
  args.GetReturnValue().Set(static_cast<int32_t>(r));
}

static void Unlink(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) return ThrowType(isolate, "unlink(path: string)");
  String::Utf8Value path(isolate, args[0]);
  if (unlink(*path) != 0 && errno != ENOENT) return ThrowErrno(isolate, errno, std::string("unlink ") + *path);
}


// ---- kick sockets --------------------------------------------------------------------------------------------------

// Fills a sockaddr_un from args[0]; throws (and returns false) on a bad or too long path.
static bool SocketPath(const FunctionCallbackInfo<Value>& args, struct sockaddr_un* a, std::string* out) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) {
    ThrowType(isolate, "expected (path: string)");
    return false;
  }
  String::Utf8Value path(isolate, args[0]);
  *out = *path;
  std::memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (out->empty() || out->size() >= sizeof a->sun_path) {
    ThrowErrno(isolate, ENAMETOOLONG, "kick socket " + *out + " (1.." + std::to_string(sizeof a->sun_path - 1) + " bytes)");
    return false;
  }
  std::memcpy(a->sun_path, out->c_str(), out->size());
  return true;
}

static bool FdArg(const FunctionCallbackInfo<Value>& args, int* fd) {
  if (args.Length() < 1 || !args[0]->IsInt32() || args[0].As<v8::Int32>()->Value() < 0) {
    ThrowType(args.GetIsolate(), "expected (fd: non-negative integer, ...)");
    return false;
  }
  *fd = args[0].As<v8::Int32>()->Value();
  return true;
}

// kickListen(path): a non-blocking listening socket at path (the caller removes a stale file first).
static void KickListen(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  struct sockaddr_un a;
  std::string path;
  if (!SocketPath(args, &a, &path)) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(isolate, errno, "socket");
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(isolate, err, "listen on " + path);
  }
  args.GetReturnValue().Set(fd);
}

// kickAccept(listenFd): the connected peer's fd (non-blocking), or -1 when no peer is waiting yet.
static void KickAccept(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int lfd;
  if (!FdArg(args, &lfd)) return;
  int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return args.GetReturnValue().Set(-1);
    return ThrowErrno(isolate, errno, "accept");
  }
  args.GetReturnValue().Set(fd);
}

// kickConnect(path): a connected non-blocking fd. AF_UNIX connect completes at once or fails (ENOENT: no socket
// file yet, ECONNREFUSED: nobody listening, EAGAIN: backlog full); the caller retries those.
static void KickConnect(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  struct sockaddr_un a;
  std::string path;
  if (!SocketPath(args, &a, &path)) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(isolate, errno, "socket");
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(isolate, err, "connect to " + path);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(isolate, err, "fcntl O_NONBLOCK");
  }
  args.GetReturnValue().Set(fd);
}

// Reads every queued byte. Returns the count (>= 0), or -1 when the peer has closed and nothing was queued.
static int Drain(int fd, int* err) {
  char buf[256];
  int total = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      total += static_cast<int>(n);
      if (static_cast<size_t>(n) < sizeof buf) return total;  // short read: the queue is empty now
      continue;
    }
    if (n == 0) return total > 0 ? total : -1;  // EOF; reported on the next call when bytes came first
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return total;
    if (errno == ECONNRESET) return total > 0 ? total : -1;
    *err = errno;
    return -2;
  }
}

// pollKick(fd, timeoutMs): waits until kick bytes arrive (or timeoutMs passes; < 0 or Infinity = no limit), then
// drains them all. Several kicks merge into one return: a kick only says "rescan the rings".
static void PollKick(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  if (!FdArg(args, &fd)) return;
  if (args.Length() < 2 || !args[1]->IsNumber()) return ThrowType(isolate, "pollKick(fd, timeoutMs: number)");
  double ms = args[1].As<v8::Number>()->Value();
  int err = 0;
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (ms >= 0 && std::isfinite(ms)) {
    ts.tv_sec = static_cast<time_t>(ms / 1000.0);
    ts.tv_nsec = static_cast<long>((ms - static_cast<double>(ts.tv_sec) * 1000.0) * 1e6);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    tsp = &ts;
  }
  // Bytes already queued make ppoll return at once (no separate recv before it: one syscall less per wait).
  struct pollfd p = {fd, POLLIN, 0};
  int r = ppoll(&p, 1, tsp, nullptr);
  if (r < 0) {
    if (errno == EINTR) return args.GetReturnValue().Set(0);
    return ThrowErrno(isolate, errno, "poll kick socket");
  }
  if (r == 0) return args.GetReturnValue().Set(0);
  if (p.revents & POLLNVAL) return ThrowErrno(isolate, EBADF, "poll kick socket");
  int got = Drain(fd, &err);
  if (got == -2) return ThrowErrno(isolate, err, "recv kick");
  args.GetReturnValue().Set(got);
}

// sendKick(fd): one byte, never blocking, never raising SIGPIPE.
static void SendKick(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  if (!FdArg(args, &fd)) return;
  const char b = 1;
  for (;;) {
    ssize_t n = send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == 1) return args.GetReturnValue().Set(1);
    if (n < 0 && errno == EINTR) continue;
    // Full: the peer has unread kicks, and it rescans every ring when it reads them, so this one adds nothing.
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return args.GetReturnValue().Set(0);
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)) return args.GetReturnValue().Set(-1);
    return ThrowErrno(isolate, n < 0 ? errno : EIO, "send kick");
  }
}

static void CloseFd(const FunctionCallbackInfo<Value>& args) {
  int fd;
  if (!FdArg(args, &fd)) return;
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(args.GetIsolate(), errno, "close");
}

// ---- bulk copy ------------------------------------------------------------------------------------------------------

// A byte offset or length argument: an integer number in [0, 2^53). False when it is anything else.
static bool ByteCount(Local<Value> v, size_t* out) {
  if (v->IsUint32()) {  // the common case (Smi), no double conversion
    *out = v.As<v8::Uint32>()->Value();
    return true;
  }
  if (!v->IsNumber()) return false;
  double d = v.As<v8::Number>()->Value();
  if (!(d >= 0) || d >= 9007199254740992.0 || std::floor(d) != d) return false;
  *out = static_cast<size_t>(d);
  return true;
}

// The bytes a typed array or DataView sees: its buffer's data plus its byte offset, and its byte length (0 when the
// buffer is detached, so every non-empty range is then out of bounds).
static uint8_t* ViewBytes(Local<Value> v, size_t* length) {
  Local<v8::ArrayBufferView> view = v.As<v8::ArrayBufferView>();
  *length = view->ByteLength();
  if (*length == 0) return nullptr;
  return static_cast<uint8_t*>(view->Buffer()->Data()) + view->ByteOffset();
}

// copyBytes(dst, dstOffset, src, srcOffset, length): memmove of `length` bytes from src[srcOffset..] to
// dst[dstOffset..]. dst and src are typed arrays or DataViews over an ArrayBuffer or a SharedArrayBuffer, possibly
// the same one, with overlapping ranges (memmove, not memcpy). A range past either view's end throws a RangeError
// with code ERR_TZ_COPY_OUT_OF_RANGE and copies nothing; a wrong argument type throws a TypeError.
//
// Shared memory: the payload is published by the other side with an Atomics store of a ring index, which this thread
// has read with Atomics.load before calling; the copy itself is plain loads and stores, exactly as V8's own copy of a
// SharedArrayBuffer (which uses relaxed word accesses) is.
static void CopyBytes(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 5 || !args[0]->IsArrayBufferView() || !args[2]->IsArrayBufferView()) {
    return ThrowType(isolate, "copyBytes(dst: ArrayBufferView, dstOffset: number, src: ArrayBufferView, srcOffset: number, length: number)");
  }
  size_t dstOff, srcOff, n;
  if (!ByteCount(args[1], &dstOff) || !ByteCount(args[3], &srcOff) || !ByteCount(args[4], &n)) {
    return ThrowType(isolate, "copyBytes: offsets and length must be integers >= 0");
  }
  size_t dstLen, srcLen;
  uint8_t* dst = ViewBytes(args[0], &dstLen);
  uint8_t* src = ViewBytes(args[2], &srcLen);
  // written so that no sum can overflow: off <= len, then n <= len - off
  if (dstOff > dstLen || n > dstLen - dstOff || srcOff > srcLen || n > srcLen - srcOff) {
    return tz_native::ThrowRange(isolate, "copyBytes: range out of bounds", "ERR_TZ_COPY_OUT_OF_RANGE");
  }
  if (n > 0) std::memmove(dst + dstOff, src + srcOff, n);
}

// Pins this shared object in the process for good. Node dlcloses an addon when the last environment that loaded it
// goes away, e.g. when a worker_thread that loaded it exits. But a SharedArrayBuffer made by map()/mapFd() can outlive
// that worker (posted to another thread, or simply freed by a later GC) and its deleter (Unmap, UnmapOwned) is code in
// this object: run after the unload it jumps into unmapped text and the whole process dies with SIGSEGV. A second
// dlopen of our own path with RTLD_NODELETE marks the object never-unloadable (glibc keeps it past every dlclose).
// Done once per process; a failure leaves the old behaviour (the addon still works) and is not fatal.
static void PinInProcess() {
  static std::atomic<bool> pinned{false};  // workers may load the addon concurrently; a second pin is harmless
  if (pinned.load()) return;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&PinInProcess), &info) == 0 || info.dli_fname == nullptr) return;
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr) pinned.store(true);
}

}  // namespace tz_shm

// Context-aware, so that every worker_thread may load it.
NODE_MODULE_INIT(/* exports, module, context */) {
  tz_shm::PinInProcess();
  NODE_SET_METHOD(exports, "map", tz_shm::Map);
  NODE_SET_METHOD(exports, "futexWait", tz_shm::FutexWait);
  NODE_SET_METHOD(exports, "futexWake", tz_shm::FutexWake);
  NODE_SET_METHOD(exports, "unlink", tz_shm::Unlink);
  NODE_SET_METHOD(exports, "kickListen", tz_shm::KickListen);
  NODE_SET_METHOD(exports, "kickAccept", tz_shm::KickAccept);
  NODE_SET_METHOD(exports, "kickConnect", tz_shm::KickConnect);
  NODE_SET_METHOD(exports, "pollKick", tz_shm::PollKick);
  NODE_SET_METHOD(exports, "sendKick", tz_shm::SendKick);
  NODE_SET_METHOD(exports, "closeFd", tz_shm::CloseFd);
  NODE_SET_METHOD(exports, "copyBytes", tz_shm::CopyBytes);  // ABI 4
  tz_vhost::Register(exports, context);  // ABI 3: the vhost-user calls (native/vhost.cc)
  v8::Isolate* isolate = context->GetIsolate();
  exports
      ->Set(context, v8::String::NewFromUtf8(isolate, "abiVersion").ToLocalChecked(), v8::Integer::New(isolate, 4))
      .Check();
}
