#include "ipvs.h"

#include <memory>
#include <vector>

#include "errors.h"
#include "ipvs_js.h"
#include "netns.h"

namespace switchyard {

namespace {

constexpr const char* kCode = "ERR_IPVS_NATIVE";

Napi::Error IpvsError(Napi::Env env, const char* op, const std::string& target, const netlink::Status& st) {
  ErrorContext ctx{op, target};
  ctx.detail = st.message;
  return SyscallError(env, ctx, st.err, kCode);
}

// Applies a list of changes on libuv's pool. Resolves with one entry per
// change, in order: { errno: 0 } or { errno, detail }. A failed change does
// not stop the ones after it (the kernel goes on, and so do we).
class ApplyWorker : public Napi::AsyncWorker {
 public:
  ApplyWorker(Napi::Env env, std::unique_ptr<ipvs::Client> client, std::vector<ipvs::Op> ops)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        client_(std::move(client)),
        ops_(std::move(ops)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { results_ = client_->ApplyAll(ops_); }
  void OnOK() override {
    Napi::Env env = Env();
    auto out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      auto r = Napi::Object::New(env);
      r.Set("errno", results_[i].err);
      if (!results_[i].message.empty()) r.Set("detail", results_[i].message);
      out.Set(static_cast<uint32_t>(i), r);
    }
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<ipvs::Client> client_;
  std::vector<ipvs::Op> ops_;
  std::vector<netlink::Status> results_;
};

// Reads every service with its destinations on libuv's pool.
class ReadAllWorker : public Napi::AsyncWorker {
 public:
  ReadAllWorker(Napi::Env env, std::unique_ptr<ipvs::Client> client)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), client_(std::move(client)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { status_ = client_->ListAll(&all_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (status_.err) {
      deferred_.Reject(IpvsError(env, "ipvs.readAll", "", status_).Value());
      return;
    }
    auto out = Napi::Array::New(env, all_.size());
    for (size_t i = 0; i < all_.size(); i++) {
      auto entry = Napi::Object::New(env);
      entry.Set("service", ipvs::ToJs(env, all_[i].service));
      entry.Set("dests", ipvs::ToJsArray(env, all_[i].dests));
      out.Set(static_cast<uint32_t>(i), entry);
    }
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<ipvs::Client> client_;
  netlink::Status status_;
  std::vector<ipvs::ServiceWithDests> all_;
};

const char* OpName(ipvs::Op::Kind k) {
  using K = ipvs::Op::Kind;
  switch (k) {
    case K::kAddService: return "ipvs.addService";
    case K::kEditService: return "ipvs.editService";
    case K::kDeleteService: return "ipvs.deleteService";
    case K::kAddDest: return "ipvs.addDest";
    case K::kEditDest: return "ipvs.editDest";
    case K::kDeleteDest: return "ipvs.deleteDest";
    case K::kFlush: return "ipvs.flush";
  }
  return "ipvs.apply";
}

}  // namespace

Napi::Function IpvsSocket::Init(Napi::Env env) {
  return DefineClass(env, "IpvsSocket",
                     {
                         InstanceMethod<&IpvsSocket::Info>("info"),
                         InstanceMethod<&IpvsSocket::Timeouts>("timeouts"),
                         InstanceMethod<&IpvsSocket::SetTimeouts>("setTimeouts"),
                         InstanceMethod<&IpvsSocket::Services>("services"),
                         InstanceMethod<&IpvsSocket::Destinations>("destinations"),
                         InstanceMethod<&IpvsSocket::Apply>("apply"),
                         InstanceMethod<&IpvsSocket::ApplyBatch>("applyBatch"),
                         InstanceMethod<&IpvsSocket::ReadAll>("readAll"),
                         InstanceMethod<&IpvsSocket::Close>("close"),
                     });
}

Napi::Object IpvsSocket::Constants(Napi::Env env) {
  auto c = Napi::Object::New(env);
  c.Set("AF_INET", AF_INET);
  c.Set("AF_INET6", AF_INET6);
  c.Set("IPPROTO_TCP", static_cast<int>(IPPROTO_TCP));
  c.Set("IPPROTO_UDP", static_cast<int>(IPPROTO_UDP));
  c.Set("IPPROTO_SCTP", static_cast<int>(IPPROTO_SCTP));
  c.Set("SVC_F_PERSISTENT", IP_VS_SVC_F_PERSISTENT);
  c.Set("SVC_F_HASHED", IP_VS_SVC_F_HASHED);
  c.Set("SVC_F_ONEPACKET", IP_VS_SVC_F_ONEPACKET);
  c.Set("SVC_F_SCHED1", IP_VS_SVC_F_SCHED1);
  c.Set("SVC_F_SCHED2", IP_VS_SVC_F_SCHED2);
  c.Set("SVC_F_SCHED3", IP_VS_SVC_F_SCHED3);
  c.Set("CONN_F_MASQ", IP_VS_CONN_F_MASQ);
  c.Set("CONN_F_LOCALNODE", IP_VS_CONN_F_LOCALNODE);
  c.Set("CONN_F_TUNNEL", IP_VS_CONN_F_TUNNEL);
  c.Set("CONN_F_DROUTE", IP_VS_CONN_F_DROUTE);
  c.Set("SCHEDNAME_MAXLEN", IP_VS_SCHEDNAME_MAXLEN);
  return c;
}

IpvsSocket::IpvsSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IpvsSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsObject()) {
    auto v = info[0].As<Napi::Object>().Get("netns");
    if (v.IsString()) netns_ = v.As<Napi::String>().Utf8Value();
  }
  NetnsScope scope(netns_);
  if (scope.error()) throw SyscallError(env, {"ipvs.open", netns_}, scope.error(), kCode);
  if (auto st = client_.Open(); st.err) {
    client_.Close();
    throw IpvsError(env, "ipvs.open", IPVS_GENL_NAME, st);
  }
}

void IpvsSocket::CheckOpen(Napi::Env env, const char* op) const {
  if (!client_.open()) throw SyscallError(env, {op, "closed"}, EBADF, kCode);
}

ipvs::Client* IpvsSocket::OpenWorkerClient(Napi::Env env, const char* op) {
  auto c = std::make_unique<ipvs::Client>();
  NetnsScope scope(netns_);
  if (scope.error()) throw SyscallError(env, {op, netns_}, scope.error(), kCode);
  if (auto st = c->OpenLike(client_); st.err) throw IpvsError(env, op, "", st);
  return c.release();
}

Napi::Value IpvsSocket::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.info");
  ipvs::Info out;
  if (auto st = client_.GetInfo(&out); st.err) throw IpvsError(env, "ipvs.info", "", st);
  auto o = Napi::Object::New(env);
  o.Set("version", out.version);
  o.Set("connTableSize", out.conn_table_size);
  return o;
}

Napi::Value IpvsSocket::Timeouts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.timeouts");
  ipvs::Timeouts t;
  if (auto st = client_.GetTimeouts(&t); st.err) throw IpvsError(env, "ipvs.timeouts", "", st);
  auto o = Napi::Object::New(env);
  o.Set("tcp", t.tcp);
  o.Set("tcpFin", t.tcp_fin);
  o.Set("udp", t.udp);
  return o;
}

Napi::Value IpvsSocket::SetTimeouts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.setTimeouts");
  if (!info[0].IsObject())
    throw ArgumentError(env, {"ipvs.setTimeouts", ""}, "expected { tcp, tcpFin, udp }", "ERR_IPVS_NATIVE_ARGUMENT");
  auto o = info[0].As<Napi::Object>();
  auto seconds = [&](const char* key) -> uint32_t {
    auto v = o.Get(key);
    return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : 0;
  };
  ipvs::Timeouts t{seconds("tcp"), seconds("tcpFin"), seconds("udp")};
  if (auto st = client_.SetTimeouts(t); st.err) throw IpvsError(env, "ipvs.setTimeouts", "", st);
  return env.Undefined();
}

Napi::Value IpvsSocket::Services(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.services");
  std::vector<ipvs::Service> all;
  if (auto st = client_.ListServices(&all); st.err) throw IpvsError(env, "ipvs.services", "", st);
  return ipvs::ToJsArray(env, all);
}

Napi::Value IpvsSocket::Destinations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.destinations");
  ipvs::Service key = ipvs::ServiceFromJs(env, "ipvs.destinations", info[0]);
  std::vector<ipvs::Dest> all;
  if (auto st = client_.ListDests(key, &all); st.err)
    throw IpvsError(env, "ipvs.destinations", ipvs::Describe(key), st);
  return ipvs::ToJsArray(env, all);
}

// apply(op): one change, now; throws what the kernel said.
Napi::Value IpvsSocket::Apply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.apply");
  ipvs::Op op = ipvs::OpFromJs(env, "ipvs.apply", info[0]);
  if (auto st = client_.Apply(op); st.err) {
    std::string target = op.kind == ipvs::Op::Kind::kFlush ? "" : ipvs::Describe(op.service);
    if (op.kind == ipvs::Op::Kind::kAddDest || op.kind == ipvs::Op::Kind::kEditDest ||
        op.kind == ipvs::Op::Kind::kDeleteDest)
      target += " -> " + ipvs::Describe(op.dest.addr, op.dest.port);
    throw IpvsError(env, OpName(op.kind), target, st);
  }
  return env.Undefined();
}

// applyBatch(ops): many changes on the pool; see ApplyWorker.
Napi::Value IpvsSocket::ApplyBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.applyBatch");
  if (!info[0].IsArray())
    throw ArgumentError(env, {"ipvs.applyBatch", ""}, "expected an array of operations", "ERR_IPVS_NATIVE_ARGUMENT");
  auto arr = info[0].As<Napi::Array>();
  std::vector<ipvs::Op> ops;
  ops.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) ops.push_back(ipvs::OpFromJs(env, "ipvs.applyBatch", arr.Get(i)));
  std::unique_ptr<ipvs::Client> c(OpenWorkerClient(env, "ipvs.applyBatch"));
  auto* w = new ApplyWorker(env, std::move(c), std::move(ops));
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value IpvsSocket::ReadAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "ipvs.readAll");
  std::unique_ptr<ipvs::Client> c(OpenWorkerClient(env, "ipvs.readAll"));
  auto* w = new ReadAllWorker(env, std::move(c));
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value IpvsSocket::Close(const Napi::CallbackInfo& info) {
  client_.Close();
  return info.Env().Undefined();
}

}  // namespace switchyard
