// The switchyard native addon: a thin, typed layer over libbpf, and over the
// kernel's IPVS by generic netlink. Policy lives in TypeScript (control/bpf/,
// control/ipvs/); this side only opens, loads, attaches, runs, reads and
// writes, and reports failures with the operation and errno.
#include <bpf/bpf.h>
#include <napi.h>

#include "ipvs.h"
#include "libbpf_log.h"
#include "map.h"
#include "object.h"
#include "program.h"

namespace switchyard {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogger();
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("BpfMap", BpfMap::Init(env));
  exports.Set("BpfProgram", BpfProgram::Init(env));
  exports.Set("BpfLink", BpfLink::Init(env));
  exports.Set("IpvsSocket", IpvsSocket::Init(env));
  exports.Set("ipvsConstants", IpvsSocket::Constants(env));
  // Update flags, from the kernel's UAPI header rather than restated in TS.
  auto flags = Napi::Object::New(env);
  flags.Set("ANY", Napi::Number::New(env, BPF_ANY));
  flags.Set("NOEXIST", Napi::Number::New(env, BPF_NOEXIST));
  flags.Set("EXIST", Napi::Number::New(env, BPF_EXIST));
  flags.Set("F_LOCK", Napi::Number::New(env, BPF_F_LOCK));
  exports.Set("updateFlags", flags);
  return exports;
}

}  // namespace switchyard

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return switchyard::Init(env, exports); }

NODE_API_MODULE(switchyard, InitModule)
