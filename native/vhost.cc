// tz_shm, vhost-user part: what a vhost-user back-end needs and Node lacks.
//
//   socketPair() -> [fd, fd]                     AF_UNIX stream pair, non-blocking, close-on-exec (tests, fake front-ends)
//   recvMsg(fd, buf, maxFds) -> [n, ctrunc, ...fds]
//                                                recvmsg with SCM_RIGHTS: n > 0 bytes, 0 peer closed, -1 nothing yet;
//                                                ctrunc 1 when the kernel dropped fds (more than maxFds were sent)
//   sendMsg(fd, buf, fds) -> bytes sent | -1 peer gone
//                                                sendmsg with SCM_RIGHTS; waits (poll, <= 5 s) while the socket is full
//   mapFd(fd, offset, length) -> SharedArrayBuffer
//                                                mmap(MAP_SHARED) of [offset, offset+length) of a file passed by fd;
//                                                refuses a range past the end of the file (a later access would SIGBUS)
//   releaseMapping(sab) -> boolean              drops the file behind a mapFd() buffer now: the pages are replaced by
//                                                anonymous zero pages (stale views read zeros, never fault); the address
//                                                range itself is unmapped when V8 frees the buffer
//   eventFd() -> fd                              eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
//   writeU64(fd, value) -> 1 written | 0 would block | -1 peer gone
//                                                one 8-byte write (an eventfd signal, or a pipe/socket "call")
//   drainFd(fd) -> bytes read (> 0) | 0 nothing | -1 peer closed
//   watchFd(fd, callback) -> id                  libuv poll on the Node event loop: callback(1) when readable,
//                                                callback(2) on an error or hang-up. unwatchFd(id) stops and frees it.
#include "vhost.h"
#include "js-errors.h"

#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tz_vhost {

using v8::Array;
using v8::Context;
using v8::Exception;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Object;
using v8::String;
using v8::Value;

constexpr int kMaxFds = 32;

using tz_native::ThrowType;

// errno only (no `code`): the vhost-user calls' errors are wrapped by src/vhost-user as they are
static void ThrowErrno(Isolate* isolate, int err, const std::string& what) {
  isolate->ThrowException(tz_native::ErrnoError(isolate, err, what));
}

static bool IntArg(const FunctionCallbackInfo<Value>& args, int i, int* out) {
  if (args.Length() <= i || !args[i]->IsInt32() || args[i].As<v8::Int32>()->Value() < 0) return false;
  *out = args[i].As<v8::Int32>()->Value();
  return true;
}

static bool BytesArg(const FunctionCallbackInfo<Value>& args, int i, uint8_t** data, size_t* len) {
  if (args.Length() <= i || !args[i]->IsArrayBufferView()) return false;
  Local<v8::ArrayBufferView> v = args[i].As<v8::ArrayBufferView>();
  *data = static_cast<uint8_t*>(v->Buffer()->Data()) + v->ByteOffset();
  *len = v->ByteLength();
  return true;
}

static void SocketPair(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(isolate, errno, "socketpair");
  Local<Context> ctx = isolate->GetCurrentContext();
  Local<Array> a = Array::New(isolate, 2);
  a->Set(ctx, 0, Integer::New(isolate, sv[0])).Check();
  a->Set(ctx, 1, Integer::New(isolate, sv[1])).Check();
  args.GetReturnValue().Set(a);
}

// recvMsg(fd, buf, maxFds): [n, ctrunc, ...fds]
static void RecvMsg(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd, maxFds;
  uint8_t* data;
  size_t len;
  if (!IntArg(args, 0, &fd) || !BytesArg(args, 1, &data, &len) || !IntArg(args, 2, &maxFds)) {
    return ThrowType(isolate, "recvMsg(fd: number, buf: Uint8Array, maxFds: number)");
  }
  if (maxFds > kMaxFds) maxFds = kMaxFds;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  struct iovec iov = {data, len};
  struct msghdr m;
  std::memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = maxFds > 0 ? CMSG_SPACE(sizeof(int) * maxFds) : 0;
  ssize_t n;
  do {
    n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) n = -1;
    else if (errno == ECONNRESET) n = 0;
    else return ThrowErrno(isolate, errno, "recvmsg");
  }
  std::vector<int> fds;
  if (n > 0) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* p = reinterpret_cast<const int*>(CMSG_DATA(c));
      for (size_t i = 0; i < count; i++) {
        int f;
        std::memcpy(&f, p + i, sizeof f);
        fds.push_back(f);
      }
    }
  }
  Local<Context> ctx = isolate->GetCurrentContext();
  Local<Array> a = Array::New(isolate, static_cast<int>(2 + fds.size()));
  a->Set(ctx, 0, Integer::New(isolate, static_cast<int32_t>(n))).Check();
  a->Set(ctx, 1, Integer::New(isolate, (n > 0 && (m.msg_flags & MSG_CTRUNC)) ? 1 : 0)).Check();
  for (size_t i = 0; i < fds.size(); i++) a->Set(ctx, static_cast<uint32_t>(2 + i), Integer::New(isolate, fds[i])).Check();
  args.GetReturnValue().Set(a);
}

// sendMsg(fd, buf, fds: number[]): bytes sent, -1 when the peer is gone.
static void SendMsg(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  uint8_t* data;
  size_t len;
  if (!IntArg(args, 0, &fd) || !BytesArg(args, 1, &data, &len) || args.Length() < 3 || !args[2]->IsArray()) {
    return ThrowType(isolate, "sendMsg(fd: number, buf: Uint8Array, fds: number[])");
  }
  Local<Context> ctx = isolate->GetCurrentContext();
  Local<Array> list = args[2].As<Array>();
  uint32_t nfds = list->Length();
  if (nfds > kMaxFds) return ThrowType(isolate, "sendMsg: too many fds");
  int fds[kMaxFds];
  for (uint32_t i = 0; i < nfds; i++) {
    Local<Value> v = list->Get(ctx, i).ToLocalChecked();
    if (!v->IsInt32() || v.As<v8::Int32>()->Value() < 0) return ThrowType(isolate, "sendMsg: fds must be non-negative integers");
    fds[i] = v.As<v8::Int32>()->Value();
  }
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  size_t sent = 0;
  int waits = 0;
  while (sent < len || (len == 0 && sent == 0 && waits == 0)) {
    struct iovec iov = {data + sent, len - sent};
    struct msghdr m;
    std::memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (sent == 0 && nfds > 0) {  // fds travel with the first byte only
      m.msg_control = control;
      m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      struct cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      if (len == 0) break;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return args.GetReturnValue().Set(-1);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (++waits > 50) return ThrowErrno(isolate, ETIMEDOUT, "sendmsg (peer does not read)");
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, 100);
      continue;
    }
    return ThrowErrno(isolate, errno, "sendmsg");
  }
  args.GetReturnValue().Set(static_cast<double>(sent));
}

// Buffers made by mapFd, so that releaseMapping only ever touches our own mappings.
static std::mutex gMapLock;
static std::set<std::pair<void*, size_t>> gMappings;

static void UnmapOwned(void* data, size_t length, void* /*deleter_data*/) {
  {
    std::lock_guard<std::mutex> g(gMapLock);
    gMappings.erase({data, length});
  }
  if (data != nullptr && length > 0) munmap(data, length);
}

// mapFd(fd, offset, length): SharedArrayBuffer over the file's [offset, offset+length).
static void MapFd(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  if (!IntArg(args, 0, &fd) || args.Length() < 3 || !args[1]->IsNumber() || !args[2]->IsNumber()) {
    return ThrowType(isolate, "mapFd(fd: number, offset: number, length: number)");
  }
  double off = args[1].As<v8::Number>()->Value();
  double len = args[2].As<v8::Number>()->Value();
  const double kMax = 9007199254740992.0;
  if (!(off >= 0) || !(len > 0) || off + len > kMax || off != static_cast<double>(static_cast<int64_t>(off)) ||
      len != static_cast<double>(static_cast<int64_t>(len))) {
    return ThrowErrno(isolate, EINVAL, "mapFd: offset and length must be integers, length > 0");
  }
  long page = sysconf(_SC_PAGESIZE);
  if (static_cast<int64_t>(off) % page != 0) return ThrowErrno(isolate, EINVAL, "mapFd: offset must be page-aligned");
  struct stat st;
  if (fstat(fd, &st) != 0) return ThrowErrno(isolate, errno, "mapFd: fstat");
  if (!S_ISREG(st.st_mode)) return ThrowErrno(isolate, ENODEV, "mapFd: not a regular file");
  if (off + len > static_cast<double>(st.st_size)) {
    return ThrowErrno(isolate, ERANGE, "mapFd: range ends past the end of the file (" + std::to_string(st.st_size) + " bytes)");
  }
  size_t length = static_cast<size_t>(len);
  void* mem = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(off));
  if (mem == MAP_FAILED) return ThrowErrno(isolate, errno, "mapFd: mmap");
  {
    std::lock_guard<std::mutex> g(gMapLock);
    gMappings.insert({mem, length});
  }
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(mem, length, UnmapOwned, nullptr);
  args.GetReturnValue().Set(v8::SharedArrayBuffer::New(isolate, std::move(store)));
}

static void ReleaseMapping(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsSharedArrayBuffer()) return ThrowType(isolate, "releaseMapping(sab: SharedArrayBuffer)");
  Local<v8::SharedArrayBuffer> sab = args[0].As<v8::SharedArrayBuffer>();
  void* data = sab->Data();
  size_t len = sab->ByteLength();
  std::lock_guard<std::mutex> g(gMapLock);
  if (gMappings.count({data, len}) == 0) return args.GetReturnValue().Set(false);
  // MAP_FIXED over our own range: atomically swaps the file pages for private zero pages.
  void* r = mmap(data, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) return ThrowErrno(isolate, errno, "releaseMapping: mmap");
  args.GetReturnValue().Set(true);
}

static void EventFd(const FunctionCallbackInfo<Value>& args) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(args.GetIsolate(), errno, "eventfd");
  args.GetReturnValue().Set(fd);
}

static void WriteU64(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  if (!IntArg(args, 0, &fd)) return ThrowType(isolate, "writeU64(fd: number, value?: number)");
  uint64_t v = 1;
  if (args.Length() >= 2 && args[1]->IsNumber()) v = static_cast<uint64_t>(args[1].As<v8::Number>()->Value());
  for (;;) {
    ssize_t n = write(fd, &v, sizeof v);
    if (n == static_cast<ssize_t>(sizeof v)) return args.GetReturnValue().Set(1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return args.GetReturnValue().Set(0);
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)) return args.GetReturnValue().Set(-1);
    return ThrowErrno(isolate, n < 0 ? errno : EIO, "writeU64");
  }
}

static void DrainFd(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  if (!IntArg(args, 0, &fd)) return ThrowType(isolate, "drainFd(fd: number)");
  char buf[512];
  double total = 0;
  for (int i = 0; i < 1024; i++) {  // bounded: a writer that never stops cannot keep us here
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      total += static_cast<double>(n);
      continue;
    }
    if (n == 0) return args.GetReturnValue().Set(total > 0 ? total : -1);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == ECONNRESET) return args.GetReturnValue().Set(total > 0 ? total : -1);
    return ThrowErrno(isolate, errno, "drainFd");
  }
  args.GetReturnValue().Set(total);
}

// ---- fd watchers on the Node event loop -------------------------------------------------------------------------

struct Watch {
  uv_poll_t poll;
  Isolate* isolate;
  Global<Function> callback;
  Global<Context> context;
  int id;
};

// Per isolate (each worker thread has its own loop and its own watchers).
static std::mutex gWatchLock;
static std::map<int, Watch*> gWatches;
static int gNextWatch = 1;

// The JS handles are released while the isolate is alive (unwatchFd, or the environment's clean-up hook); the close
// callback may run later, during a worker's teardown after its isolate is gone, so it only frees the memory.
static void OnClose(uv_handle_t* h) {
  delete static_cast<Watch*>(h->data);
}

static void CloseWatch(Watch* w) {
  w->callback.Reset();
  w->context.Reset();
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClose);
}

// A worker (or the main thread) exiting with watchers still open: close its own, before its isolate goes.
static std::set<Isolate*> gHooked;  // isolates whose clean-up hook is registered (once each: Node refuses duplicates)

static void CleanupIsolate(void* arg) {
  Isolate* isolate = static_cast<Isolate*>(arg);
  std::vector<Watch*> mine;
  {
    std::lock_guard<std::mutex> g(gWatchLock);
    gHooked.erase(isolate);
    for (auto it = gWatches.begin(); it != gWatches.end();) {
      if (it->second->isolate == isolate) {
        mine.push_back(it->second);
        it = gWatches.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Watch* w : mine) CloseWatch(w);
}

static void OnPoll(uv_poll_t* h, int status, int events) {
  Watch* w = static_cast<Watch*>(h->data);
  Isolate* isolate = w->isolate;
  HandleScope scope(isolate);
  Local<Context> ctx = w->context.Get(isolate);
  Local<Function> cb = w->callback.Get(isolate);
  int what = status < 0 ? 2 : ((events & UV_READABLE) ? 1 : 2);
  Local<Value> argv[1] = {Integer::New(isolate, what)};
  // MakeCallback runs microtasks afterwards and reports an exception as uncaught, as Node's own callbacks do.
  node::MakeCallback(isolate, ctx->Global(), cb, 1, argv, node::async_context{0, 0});
}

static void WatchFd(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int fd;
  if (!IntArg(args, 0, &fd) || args.Length() < 2 || !args[1]->IsFunction()) return ThrowType(isolate, "watchFd(fd: number, callback: (what: number) => void)");
  uv_loop_t* loop = node::GetCurrentEventLoop(isolate);
  if (loop == nullptr) return ThrowErrno(isolate, EINVAL, "watchFd: no event loop");
  Watch* w = new Watch();
  w->isolate = isolate;
  w->callback.Reset(isolate, args[1].As<Function>());
  w->context.Reset(isolate, isolate->GetCurrentContext());
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    w->callback.Reset();
    w->context.Reset();
    delete w;
    return ThrowErrno(isolate, -r, "watchFd: uv_poll_init");
  }
  w->poll.data = w;
  r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnPoll);
  if (r != 0) {
    CloseWatch(w);
    return ThrowErrno(isolate, -r, "watchFd: uv_poll_start");
  }
  std::lock_guard<std::mutex> g(gWatchLock);
  w->id = gNextWatch++;
  gWatches[w->id] = w;
  args.GetReturnValue().Set(w->id);
}

static void UnwatchFd(const FunctionCallbackInfo<Value>& args) {
  int id;
  if (!IntArg(args, 0, &id)) return ThrowType(args.GetIsolate(), "unwatchFd(id: number)");
  Watch* w = nullptr;
  {
    std::lock_guard<std::mutex> g(gWatchLock);
    auto it = gWatches.find(id);
    if (it == gWatches.end() || it->second->isolate != args.GetIsolate()) return args.GetReturnValue().Set(false);
    w = it->second;
    gWatches.erase(it);
  }
  CloseWatch(w);
  args.GetReturnValue().Set(true);
}

// Keeps this library loaded for the life of the process. Node unloads an addon when the worker that loaded it exits,
// before that worker's heap is torn down; a SharedArrayBuffer made by mapFd would then call a deleter (UnmapOwned)
// that is no longer mapped. RTLD_NODELETE on the already-loaded library (RTLD_NOLOAD) pins it.
static void PinLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&UnmapOwned), &info) != 0 && info.dli_fname != nullptr) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  });
}

void Register(Local<Object> exports, Local<Context> context) {
  PinLibrary();
  Isolate* isolate = context->GetIsolate();
  bool hook;
  {
    std::lock_guard<std::mutex> g(gWatchLock);
    hook = gHooked.insert(isolate).second;
  }
  if (hook) node::AddEnvironmentCleanupHook(isolate, CleanupIsolate, isolate);
  auto set = [&](const char* name, v8::FunctionCallback fn) {
    exports->Set(context, String::NewFromUtf8(isolate, name).ToLocalChecked(), v8::Function::New(context, fn).ToLocalChecked()).Check();
  };
  set("socketPair", SocketPair);
  set("recvMsg", RecvMsg);
  set("sendMsg", SendMsg);
  set("mapFd", MapFd);
  set("releaseMapping", ReleaseMapping);
  set("eventFd", EventFd);
  set("writeU64", WriteU64);
  set("drainFd", DrainFd);
  set("watchFd", WatchFd);
  set("unwatchFd", UnwatchFd);
}

}  // namespace tz_vhost
