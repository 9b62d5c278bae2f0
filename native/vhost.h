// tz_shm, vhost-user part (native/vhost.cc): fd passing, mmap of a passed fd, eventfd, fd watchers.
#pragma once
#include <node.h>
#include <v8.h>

namespace tz_vhost {
void Register(v8::Local<v8::Object> exports, v8::Local<v8::Context> context);
}
