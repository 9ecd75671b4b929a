#include "errors.h"

#include <cstring>

namespace switchyard {

namespace {
Napi::Error Decorate(Napi::Error e, const ErrorContext& ctx) {
  e.Set("op", ctx.op);
  e.Set("target", ctx.target);
  if (!ctx.verifier_log.empty()) e.Set("verifierLog", ctx.verifier_log);
  if (!ctx.detail.empty()) e.Set("detail", ctx.detail);
  return e;
}
}  // namespace

Napi::Error SyscallError(Napi::Env env, const ErrorContext& ctx, int err, const char* code) {
  std::string msg = ctx.op;
  if (!ctx.target.empty()) msg += " " + ctx.target;
  msg += ": ";
  msg += strerror(err);
  if (!ctx.detail.empty()) msg += " (" + ctx.detail + ")";
  auto e = Decorate(Napi::Error::New(env, msg), ctx);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", code);
  return e;
}

Napi::Error ArgumentError(Napi::Env env, const ErrorContext& ctx, const std::string& message, const char* code) {
  auto e = Decorate(Napi::TypeError::New(env, ctx.op + ": " + message), ctx);
  e.Set("errno", Napi::Number::New(env, EINVAL));
  e.Set("code", code);
  return e;
}

}  // namespace switchyard
