// BpfObject: a compiled .bpf.o, opened, adjusted (pin paths, map sizes,
// load-time knobs) and loaded through libbpf. Maps and programs are handed out
// as BpfMap/BpfProgram with their own file descriptors, so they outlive close().
#pragma once
#include <bpf/libbpf.h>
#include <napi.h>

#include <string>

namespace switchyard {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

 private:
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Btf(const Napi::CallbackInfo& info);
  Napi::Value SetMapPinPath(const Napi::CallbackInfo& info);
  Napi::Value SetMapMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value SetProgramAutoload(const Napi::CallbackInfo& info);
  Napi::Value SetGlobal(const Napi::CallbackInfo& info);
  Napi::Value MapSpec(const Napi::CallbackInfo& info);
  Napi::Value CreateMap(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Map(const Napi::CallbackInfo& info);
  Napi::Value Program(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  struct bpf_map* FindMap(Napi::Env env, const char* op, const std::string& name) const;
  struct bpf_program* FindProgram(Napi::Env env, const char* op, const std::string& name) const;
  void CheckOpen(Napi::Env env, const char* op) const;

  struct bpf_object* obj_ = nullptr;
  std::string path_;
  bool loaded_ = false;
};

}  // namespace switchyard
