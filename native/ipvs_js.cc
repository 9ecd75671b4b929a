#include "ipvs_js.h"

#include <arpa/inet.h>

#include <string>

#include "errors.h"

namespace switchyard::ipvs {

namespace {

constexpr const char* kArgumentCode = "ERR_IPVS_NATIVE_ARGUMENT";

[[noreturn]] void Refuse(Napi::Env env, const char* op, const std::string& message) {
  throw ArgumentError(env, {op, ""}, message, kArgumentCode);
}

Napi::Object AsObject(Napi::Env env, const char* op, const Napi::Value& v, const char* what) {
  if (!v.IsObject()) Refuse(env, op, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

// An optional unsigned field; absent means `fallback`.
uint32_t U32(Napi::Env env, const char* op, const Napi::Object& o, const char* key, uint32_t fallback,
             uint32_t max = UINT32_MAX) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) Refuse(env, op, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != static_cast<double>(static_cast<uint64_t>(d)))
    Refuse(env, op,
           std::string(key) + " must be an integer within [0, " + std::to_string(max) + "], not " + std::to_string(d));
  return static_cast<uint32_t>(d);
}

std::string Str(Napi::Env env, const char* op, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return "";
  if (!v.IsString()) Refuse(env, op, std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Address AddressFromJs(Napi::Env env, const char* op, const Napi::Object& o, bool required) {
  Address a;
  a.af = static_cast<uint16_t>(U32(env, op, o, "af", AF_INET, UINT16_MAX));
  if (a.af != AF_INET && a.af != AF_INET6) Refuse(env, op, "af must be AF_INET or AF_INET6");
  std::string text = Str(env, op, o, "addr");
  if (text.empty()) {
    if (required) Refuse(env, op, "addr is required");
    return a;
  }
  if (inet_pton(a.af, text.c_str(), a.bytes) != 1)
    Refuse(env, op, "addr " + text + " is not an IPv" + (a.af == AF_INET ? "4" : "6") + " address");
  return a;
}

std::string AddressText(const Address& a) {
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(a.af, a.bytes, text, sizeof text);
  return text;
}

}  // namespace

Service ServiceFromJs(Napi::Env env, const char* op, const Napi::Value& v) {
  auto o = AsObject(env, op, v, "service");
  Service s;
  s.fwmark = U32(env, op, o, "fwmark", 0);
  s.addr = AddressFromJs(env, op, o, s.fwmark == 0);
  if (!s.fwmark) {
    s.protocol = static_cast<uint16_t>(U32(env, op, o, "protocol", 0, UINT16_MAX));
    s.port = static_cast<uint16_t>(U32(env, op, o, "port", 0, UINT16_MAX));
  }
  s.scheduler = Str(env, op, o, "scheduler");
  if (s.scheduler.size() >= IP_VS_SCHEDNAME_MAXLEN) Refuse(env, op, "scheduler name " + s.scheduler + " is too long");
  s.pe_name = Str(env, op, o, "peName");
  if (s.pe_name.size() >= IP_VS_PENAME_MAXLEN) Refuse(env, op, "peName " + s.pe_name + " is too long");
  s.flags = U32(env, op, o, "flags", 0);
  s.timeout = U32(env, op, o, "timeout", 0);
  s.netmask = U32(env, op, o, "netmask", s.addr.af == AF_INET6 ? 128 : 32, s.addr.af == AF_INET6 ? 128 : 32);
  return s;
}

Dest DestFromJs(Napi::Env env, const char* op, const Napi::Value& v) {
  auto o = AsObject(env, op, v, "dest");
  Dest d;
  d.addr = AddressFromJs(env, op, o, true);
  d.port = static_cast<uint16_t>(U32(env, op, o, "port", 0, UINT16_MAX));
  d.fwd_method = U32(env, op, o, "fwdMethod", IP_VS_CONN_F_MASQ, IP_VS_CONN_F_FWD_MASK);
  d.weight = static_cast<int32_t>(U32(env, op, o, "weight", 1, INT32_MAX));
  d.u_threshold = U32(env, op, o, "upperThreshold", 0);
  d.l_threshold = U32(env, op, o, "lowerThreshold", 0);
  return d;
}

Op OpFromJs(Napi::Env env, const char* op, const Napi::Value& v) {
  auto o = AsObject(env, op, v, "operation");
  std::string kind = Str(env, op, o, "op");
  using K = Op::Kind;
  Op out;
  if (kind == "addService")
    out.kind = K::kAddService;
  else if (kind == "editService")
    out.kind = K::kEditService;
  else if (kind == "deleteService")
    out.kind = K::kDeleteService;
  else if (kind == "addDest")
    out.kind = K::kAddDest;
  else if (kind == "editDest")
    out.kind = K::kEditDest;
  else if (kind == "deleteDest")
    out.kind = K::kDeleteDest;
  else if (kind == "flush")
    return out;
  else
    Refuse(env, op, "unknown operation '" + kind + "'");
  out.service = ServiceFromJs(env, op, o.Get("service"));
  if (out.kind == K::kAddDest || out.kind == K::kEditDest || out.kind == K::kDeleteDest)
    out.dest = DestFromJs(env, op, o.Get("dest"));
  return out;
}

Napi::Object ToJs(Napi::Env env, const Stats& s) {
  auto o = Napi::Object::New(env);
  auto n = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  o.Set("conns", n(s.conns));
  o.Set("inPkts", n(s.in_pkts));
  o.Set("outPkts", n(s.out_pkts));
  o.Set("inBytes", n(s.in_bytes));
  o.Set("outBytes", n(s.out_bytes));
  o.Set("cps", n(s.cps));
  o.Set("inPps", n(s.in_pps));
  o.Set("outPps", n(s.out_pps));
  o.Set("inBps", n(s.in_bps));
  o.Set("outBps", n(s.out_bps));
  return o;
}

Napi::Object ToJs(Napi::Env env, const Service& s) {
  auto o = Napi::Object::New(env);
  o.Set("af", s.addr.af);
  o.Set("protocol", s.protocol);
  o.Set("addr", s.fwmark ? "" : AddressText(s.addr));
  o.Set("port", s.port);
  o.Set("fwmark", s.fwmark);
  o.Set("scheduler", s.scheduler);
  o.Set("peName", s.pe_name);
  o.Set("flags", s.flags);
  o.Set("timeout", s.timeout);
  o.Set("netmask", s.netmask);
  if (s.has_stats) o.Set("stats", ToJs(env, s.stats));
  return o;
}

Napi::Object ToJs(Napi::Env env, const Dest& d) {
  auto o = Napi::Object::New(env);
  o.Set("af", d.addr.af);
  o.Set("addr", AddressText(d.addr));
  o.Set("port", d.port);
  o.Set("fwdMethod", d.fwd_method);
  o.Set("weight", d.weight);
  o.Set("upperThreshold", d.u_threshold);
  o.Set("lowerThreshold", d.l_threshold);
  o.Set("activeConns", d.active_conns);
  o.Set("inactConns", d.inact_conns);
  o.Set("persistConns", d.persist_conns);
  if (d.has_stats) o.Set("stats", ToJs(env, d.stats));
  return o;
}

}  // namespace switchyard::ipvs
