// Errors thrown to JavaScript. The native side reports what happened (the
// operation, errno, the map or program) and leaves the stable error codes and
// hints to control/bpf/errors.ts, the one catalogue of BPF errors (and
// control/ipvs/errors.ts for IPVS, whose native errors say ERR_IPVS_NATIVE).
#pragma once
#include <napi.h>
#include <string>

namespace switchyard {

struct ErrorContext {
  std::string op;            // e.g. "map.update", "object.load"
  std::string target;        // map or program name, or a path
  std::string verifier_log;  // set by object.load when the verifier said no
  std::string detail;        // the kernel's own words (a netlink extended ack)
};

// Builds an Error with .op, .errno (positive), .target, .verifierLog and .detail.
Napi::Error SyscallError(Napi::Env env, const ErrorContext& ctx, int err, const char* code = "ERR_BPF_NATIVE");

// For arguments the native side refuses before any syscall (sizes, types).
Napi::Error ArgumentError(Napi::Env env, const ErrorContext& ctx, const std::string& message,
                          const char* code = "ERR_BPF_NATIVE_ARGUMENT");

// libbpf returns -errno; older calls return -1 with errno set.
inline int ErrnoOf(int ret) { return ret < 0 ? (ret == -1 ? errno : -ret) : 0; }

}  // namespace switchyard
