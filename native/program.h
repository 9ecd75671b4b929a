// BpfProgram: one loaded program, by file descriptor: test runs and the
// attachments the dataplanes use (tc clsact, XDP, cgroup). BpfLink: a bpf_link
// (cgroup attachments), detached when closed unless pinned.
#pragma once
#include <bpf/bpf.h>
#include <napi.h>

#include <string>

namespace switchyard {

class BpfProgram : public Napi::ObjectWrap<BpfProgram> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Takes ownership of fd; attach_type is the object's expected attach type.
  static Napi::Object Wrap(Napi::Env env, int fd, int attach_type);

  explicit BpfProgram(const Napi::CallbackInfo& info);
  ~BpfProgram() override;

 private:
  static Napi::FunctionReference constructor_;

  static Napi::Value OpenPinned(const Napi::CallbackInfo& info);
  static Napi::Value DetachTc(const Napi::CallbackInfo& info);
  static Napi::Value DetachXdp(const Napi::CallbackInfo& info);
  static Napi::Value QueryXdp(const Napi::CallbackInfo& info);
  static Napi::Value ProgramById(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value TestRun(const Napi::CallbackInfo& info);
  Napi::Value AttachTc(const Napi::CallbackInfo& info);
  Napi::Value AttachXdp(const Napi::CallbackInfo& info);
  Napi::Value AttachCgroup(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);

  void CheckOpen(Napi::Env env, const char* op) const;

  int fd_ = -1;
  int attach_type_ = -1;
  std::string name_;
  std::string type_;
};

class BpfLink : public Napi::ObjectWrap<BpfLink> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, int fd, const std::string& name);

  explicit BpfLink(const Napi::CallbackInfo& info);
  ~BpfLink() override;

 private:
  static Napi::FunctionReference constructor_;

  static Napi::Value OpenPinned(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  int fd_ = -1;
  std::string name_;
};

}  // namespace switchyard
