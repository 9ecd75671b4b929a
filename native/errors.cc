#include "errors.h"

#include <cstring>

namespace switchyard {

namespace {
Napi::Error Decorate(Napi::Error e, const ErrorContext& ctx) {
  e.Set("op", ctx.op);
  e.Set("target", ctx.target);
  if (!ctx.verifier_log.empty()) e.Set("verifierLog", ctx.verifier_log);
  return e;
}
}  // namespace

Napi::Error SyscallError(Napi::Env env, const ErrorContext& ctx, int err) {
  std::string msg = ctx.op;
  if (!ctx.target.empty()) msg += " " + ctx.target;
  msg += ": ";
  msg += strerror(err);
  auto e = Decorate(Napi::Error::New(env, msg), ctx);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", "ERR_BPF_NATIVE");
  return e;
}

Napi::Error ArgumentError(Napi::Env env, const ErrorContext& ctx, const std::string& message) {
  auto e = Decorate(Napi::TypeError::New(env, ctx.op + ": " + message), ctx);
  e.Set("errno", Napi::Number::New(env, EINVAL));
  e.Set("code", "ERR_BPF_NATIVE_ARGUMENT");
  return e;
}

}  // namespace switchyard
