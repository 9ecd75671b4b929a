// IpvsSocket: the kernel's IPVS through generic netlink, for JavaScript.
// Small calls (info, timeouts, one change, one listing) are synchronous: each
// is one netlink round trip. A sync's many changes, and the read-back of
// everything programmed, run on libuv's pool with a socket of their own.
// Failures carry code ERR_IPVS_NATIVE, the operation, errno and the kernel's
// extended-ack text; control/ipvs/errors.ts gives them their stable codes.
#pragma once
#include <napi.h>

#include <string>

#include "ipvs_wire.h"

namespace switchyard {

class IpvsSocket : public Napi::ObjectWrap<IpvsSocket> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Constants from <linux/ip_vs.h> and <netinet/in.h>, so TypeScript never restates them.
  static Napi::Object Constants(Napi::Env env);

  // new IpvsSocket({ netns? }): opens a socket in that network namespace (a
  // path such as /run/netns/x; default: the process's) and resolves "IPVS".
  explicit IpvsSocket(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Timeouts(const Napi::CallbackInfo& info);
  Napi::Value SetTimeouts(const Napi::CallbackInfo& info);
  Napi::Value Services(const Napi::CallbackInfo& info);
  Napi::Value Destinations(const Napi::CallbackInfo& info);
  Napi::Value Apply(const Napi::CallbackInfo& info);
  Napi::Value ApplyBatch(const Napi::CallbackInfo& info);
  Napi::Value ReadAll(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void CheckOpen(Napi::Env env, const char* op) const;
  // A second socket in the same namespace, for a worker.
  ipvs::Client* OpenWorkerClient(Napi::Env env, const char* op);

  ipvs::Client client_;
  std::string netns_;
};

}  // namespace switchyard
