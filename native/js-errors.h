// The exceptions the addon throws (native/shm.cc, native/vhost.cc), built one way:
//   ErrnoError: an Error whose message is "<what>: <strerror(err)>", with `errno` = err and, when a name is given,
//               `code` = that errno name (ENOENT, ...);
//   ThrowType:  a TypeError for arguments of the wrong type or range;
//   ThrowRange: a RangeError with a stable `code`, for a well-typed argument outside what it may address.
#pragma once
#include <node.h>
#include <v8.h>

#include <cstring>
#include <string>

namespace tz_native {

inline v8::Local<v8::Value> ErrnoError(v8::Isolate* isolate, int err, const std::string& what, const char* code = nullptr) {
  std::string msg = what + ": " + std::strerror(err);
  v8::Local<v8::Value> e = v8::Exception::Error(v8::String::NewFromUtf8(isolate, msg.c_str()).ToLocalChecked());
  v8::Local<v8::Context> ctx = isolate->GetCurrentContext();
  v8::Local<v8::Object> o = e.As<v8::Object>();
  if (code != nullptr) {
    o->Set(ctx, v8::String::NewFromUtf8(isolate, "code").ToLocalChecked(), v8::String::NewFromUtf8(isolate, code).ToLocalChecked()).Check();
  }
  o->Set(ctx, v8::String::NewFromUtf8(isolate, "errno").ToLocalChecked(), v8::Integer::New(isolate, err)).Check();
  return e;
}

inline void ThrowType(v8::Isolate* isolate, const char* msg) {
  isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, msg).ToLocalChecked()));
}

inline void ThrowRange(v8::Isolate* isolate, const char* msg, const char* code) {
  v8::Local<v8::Value> e = v8::Exception::RangeError(v8::String::NewFromUtf8(isolate, msg).ToLocalChecked());
  e.As<v8::Object>()
      ->Set(isolate->GetCurrentContext(), v8::String::NewFromUtf8(isolate, "code").ToLocalChecked(), v8::String::NewFromUtf8(isolate, code).ToLocalChecked())
      .Check();
  isolate->ThrowException(e);
}

}  // namespace tz_native
