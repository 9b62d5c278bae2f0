// tz_shm: the few OS facilities that Node lacks and that cross-process shared memory needs.
//
//   map(path, size, flags) -> SharedArrayBuffer   open/ftruncate/mmap(MAP_SHARED); the SharedArrayBuffer's backing
//                                                   store IS the mapping (no copy), munmap runs when V8 frees it.
//   futexWait(sab, byteOffset, expected, timeoutMs) -> 0 woken | 1 value differed | 2 timed out | 3 interrupted
//   futexWake(sab, byteOffset, count) -> number of waiters woken
//   unlink(path)
//
// N-API cannot wrap foreign memory in a SharedArrayBuffer, hence node.h/v8.h. The futex calls use FUTEX_WAIT and
// FUTEX_WAKE *without* FUTEX_PRIVATE_FLAG: a private futex is keyed by (mm, address) and never reaches another
// process; a shared one is keyed by (inode/page, offset) and does, which is the point. V8's Atomics.wait keeps its own
// in-process waiter list and cannot be woken from another process.
//
// Errors become JS exceptions whose message carries the errno text and whose `code` is the errno name.
#include <node.h>
#include <v8.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <fcntl.h>
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
  std::string msg = what + ": " + std::strerror(err);
  Local<Value> e = Exception::Error(String::NewFromUtf8(isolate, msg.c_str()).ToLocalChecked());
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
    default: name = "EUNKNOWN"; break;
  }
  Local<Context> ctx = isolate->GetCurrentContext();
  e.As<Object>()->Set(ctx, String::NewFromUtf8(isolate, "code").ToLocalChecked(),
                      String::NewFromUtf8(isolate, name).ToLocalChecked()).Check();
  e.As<Object>()->Set(ctx, String::NewFromUtf8(isolate, "errno").ToLocalChecked(), Integer::New(isolate, err)).Check();
  isolate->ThrowException(e);
}

static void ThrowType(Isolate* isolate, const char* msg) {
  isolate->ThrowException(Exception::TypeError(String::NewFromUtf8(isolate, msg).ToLocalChecked()));
}

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

}  // namespace tz_shm

// Context-aware, so that every worker_thread may load it.
NODE_MODULE_INIT(/* exports, module, context */) {
  NODE_SET_METHOD(exports, "map", tz_shm::Map);
  NODE_SET_METHOD(exports, "futexWait", tz_shm::FutexWait);
  NODE_SET_METHOD(exports, "futexWake", tz_shm::FutexWake);
  NODE_SET_METHOD(exports, "unlink", tz_shm::Unlink);
  v8::Isolate* isolate = context->GetIsolate();
  exports
      ->Set(context, v8::String::NewFromUtf8(isolate, "abiVersion").ToLocalChecked(), v8::Integer::New(isolate, 1))
      .Check();
}
