/*
 * LD_PRELOAD shim for Debian's user-mode Linux 6.1 (linux.uml) on hosts with a large XSAVE area (AVX-512, AMX).
 *
 * UML 6.1 saves and restores its processes' FPU state with PTRACE_GETREGSET/SETREGSET(NT_X86_XSTATE) into a buffer
 * of sizeof(struct _xstate); host kernels refuse a SETREGSET shorter than their own XSAVE size with EFAULT, and UML
 * dies in init ("ptrace set fp regs failed, errno = 14"). Failing both requests here makes UML's start-up probe
 * decide the host has no XSTATE support, and it then uses PTRACE_GETFPREGS/SETFPREGS (x87 + SSE state) instead.
 * Every other ptrace request goes through unchanged. Compiled at run time (src/host/uml.ts), never shipped built.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#define TZ_NT_X86_XSTATE 0x202

long ptrace(enum __ptrace_request req, ...) {
  va_list ap;
  va_start(ap, req);
  pid_t pid = va_arg(ap, pid_t);
  void *addr = va_arg(ap, void *);
  void *data = va_arg(ap, void *);
  va_end(ap);
  if ((req == PTRACE_GETREGSET || req == PTRACE_SETREGSET) && (long)addr == TZ_NT_X86_XSTATE) {
    errno = EIO;
    return -1;
  }
  static long (*real)(enum __ptrace_request, pid_t, void *, void *);
  if (real == 0) real = (long (*)(enum __ptrace_request, pid_t, void *, void *))dlsym(RTLD_NEXT, "ptrace");
  return real(req, pid, addr, data);
}
