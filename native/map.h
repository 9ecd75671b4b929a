// BpfMap: one BPF map, by file descriptor. Made from an object's map, a pinned
// path, or a raw fd; the operations are the kernel's, with sizes checked first.
#pragma once
#include <bpf/bpf.h>
#include <napi.h>

#include <string>

namespace switchyard {

class BpfMap : public Napi::ObjectWrap<BpfMap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Takes ownership of fd.
  static Napi::Object Wrap(Napi::Env env, int fd);

  explicit BpfMap(const Napi::CallbackInfo& info);
  ~BpfMap() override;

 private:
  static Napi::FunctionReference constructor_;

  static Napi::Value OpenPinned(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value Update(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value NextKey(const Napi::CallbackInfo& info);
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info);
  Napi::Value DeleteBatch(const Napi::CallbackInfo& info);
  Napi::Value LookupAll(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Btf(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);

  void Adopt(int fd);
  void CheckOpen(Napi::Env env, const char* op) const;
  void CheckSize(Napi::Env env, const char* op, const Napi::Value& v, size_t want, const char* what) const;

  int fd_ = -1;
  struct bpf_map_info info_ = {};
  // What user space reads and writes per value: per-CPU maps hold one
  // 8-byte-aligned copy per possible CPU.
  size_t value_size_ = 0;
  std::string name_;
};

}  // namespace switchyard
