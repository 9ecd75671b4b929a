#include "program.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "errors.h"
#include "netns.h"

namespace switchyard {

Napi::FunctionReference BpfProgram::constructor_;
Napi::FunctionReference BpfLink::constructor_;

namespace {

std::string OptString(const Napi::Object& o, const char* key) {
  return o.Has(key) && o.Get(key).IsString() ? o.Get(key).As<Napi::String>().Utf8Value() : std::string();
}
int64_t OptInt(const Napi::Object& o, const char* key, int64_t dflt) {
  return o.Has(key) && o.Get(key).IsNumber() ? o.Get(key).As<Napi::Number>().Int64Value() : dflt;
}

Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (info.Length() <= i || !info[i].IsObject())
    throw ArgumentError(info.Env(), {op, ""}, "expected an options object");
  return info[i].As<Napi::Object>();
}

// Enters opts.netns (a path such as /run/netns/NAME) for the scope's life.
void EnterOrThrow(Napi::Env env, const NetnsScope& ns, const char* op, const std::string& path) {
  if (ns.error()) throw SyscallError(env, {op, "netns " + path}, ns.error());
}

enum bpf_tc_attach_point TcPoint(Napi::Env env, const std::string& dir, const char* op) {
  if (dir == "ingress") return BPF_TC_INGRESS;
  if (dir == "egress") return BPF_TC_EGRESS;
  throw ArgumentError(env, {op, ""}, "direction must be \"ingress\" or \"egress\", not \"" + dir + "\"");
}

__u32 XdpFlags(Napi::Env env, const std::string& mode, const char* op) {
  if (mode == "driver" || mode == "native") return XDP_FLAGS_DRV_MODE;
  if (mode == "generic" || mode == "skb") return XDP_FLAGS_SKB_MODE;
  throw ArgumentError(env, {op, ""}, "mode must be \"driver\" or \"generic\", not \"" + mode + "\"");
}

int AttachTypeByName(const std::string& name) {
  for (int t = 0; t < __MAX_BPF_ATTACH_TYPE; t++) {
    const char* s = libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(t));
    if (s && name == s) return t;
  }
  return -1;
}

}  // namespace

Napi::Function BpfProgram::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "BpfProgram",
                                 {
                                     StaticMethod<&BpfProgram::OpenPinned>("openPinned"),
                                     StaticMethod<&BpfProgram::DetachTc>("detachTc"),
                                     StaticMethod<&BpfProgram::DetachXdp>("detachXdp"),
                                     StaticMethod<&BpfProgram::QueryXdp>("queryXdp"),
                                     StaticMethod<&BpfProgram::ProgramById>("programById"),
                                     InstanceMethod<&BpfProgram::Info>("info"),
                                     InstanceMethod<&BpfProgram::TestRun>("testRun"),
                                     InstanceMethod<&BpfProgram::AttachTc>("attachTc"),
                                     InstanceMethod<&BpfProgram::AttachXdp>("attachXdp"),
                                     InstanceMethod<&BpfProgram::AttachCgroup>("attachCgroup"),
                                     InstanceMethod<&BpfProgram::Pin>("pin"),
                                     InstanceMethod<&BpfProgram::Close>("close"),
                                     InstanceMethod<&BpfProgram::Fd>("fd"),
                                 });
  constructor_ = Napi::Persistent(f);
  constructor_.SuppressDestruct();
  return f;
}

Napi::Object BpfProgram::Wrap(Napi::Env env, int fd, int attach_type) {
  return constructor_.New(
      {Napi::Number::New(env, fd), Napi::Boolean::New(env, true), Napi::Number::New(env, attach_type)});
}

// new BpfProgram(fd, adopt = false, attachType = -1)
BpfProgram::BpfProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfProgram>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw ArgumentError(env, {"program.open", ""}, "expected a file descriptor");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (!(info.Length() > 1 && info[1].ToBoolean())) {
    fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) throw SyscallError(env, {"program.open", ""}, errno);
  }
  if (info.Length() > 2 && info[2].IsNumber()) attach_type_ = info[2].As<Napi::Number>().Int32Value();
  struct bpf_prog_info pi = {};
  __u32 len = sizeof pi;
  if (bpf_obj_get_info_by_fd(fd, &pi, &len) < 0) {
    int err = errno;
    close(fd);
    throw SyscallError(env, {"program.info", ""}, err);
  }
  fd_ = fd;
  name_ = pi.name;
  const char* t = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(pi.type));
  type_ = t ? t : "unknown";
}

BpfProgram::~BpfProgram() {
  if (fd_ >= 0) close(fd_);
}

void BpfProgram::CheckOpen(Napi::Env env, const char* op) const {
  if (fd_ < 0) throw SyscallError(env, {op, name_}, EBADF);
}

Napi::Value BpfProgram::OpenPinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) throw SyscallError(env, {"program.openPinned", path}, errno);
  int at = -1;
  if (info.Length() > 1 && info[1].IsString()) at = AttachTypeByName(info[1].As<Napi::String>());
  return Wrap(env, fd, at);
}

Napi::Value BpfProgram::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "program.info");
  struct bpf_prog_info pi = {};
  __u32 len = sizeof pi;
  if (bpf_obj_get_info_by_fd(fd_, &pi, &len) < 0) throw SyscallError(env, {"program.info", name_}, errno);
  auto o = Napi::Object::New(env);
  o.Set("name", name_);
  o.Set("id", pi.id);
  o.Set("type", type_);
  const char* at =
      attach_type_ >= 0 ? libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(attach_type_)) : nullptr;
  o.Set("attachType", at ? Napi::Value(Napi::String::New(env, at)) : env.Null());
  o.Set("xlatedSize", pi.xlated_prog_len);
  o.Set("jitedSize", pi.jited_prog_len);
  o.Set("runTimeNs", Napi::Number::New(env, static_cast<double>(pi.run_time_ns)));
  o.Set("runCount", Napi::Number::New(env, static_cast<double>(pi.run_cnt)));
  return o;
}

// testRun({ data, repeat?, ctx?, dataOutSize? }) -> { retval, data, durationNs }
// BPF_PROG_TEST_RUN runs the program on a copy of the packet in the kernel;
// durationNs is the kernel's own average per repetition.
Napi::Value BpfProgram::TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "program.testRun");
  auto o = OptionsArg(info, 0, "program.testRun");
  if (!o.Get("data").IsBuffer()) throw ArgumentError(env, {"program.testRun", name_}, "data must be a Buffer");
  auto data = o.Get("data").As<Napi::Buffer<uint8_t>>();
  // netns: the program runs in that namespace (its routes for bpf_fib_lookup,
  // its sockets for bpf_sk_lookup, its interfaces for a ctx ifindex).
  std::string netns = OptString(o, "netns");
  NetnsScope scope(netns);
  EnterOrThrow(env, scope, "program.testRun", netns);
  std::vector<uint8_t> out(static_cast<size_t>(OptInt(o, "dataOutSize", data.Length() + 256)));
  std::vector<uint8_t> ctx_out;
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = data.Data();
  opts.data_size_in = static_cast<__u32>(data.Length());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<__u32>(out.size());
  opts.repeat = static_cast<int>(OptInt(o, "repeat", 1));
  if (o.Has("ctx") && o.Get("ctx").IsBuffer()) {
    auto ctx = o.Get("ctx").As<Napi::Buffer<uint8_t>>();
    ctx_out.resize(ctx.Length());
    opts.ctx_in = ctx.Data();
    opts.ctx_size_in = static_cast<__u32>(ctx.Length());
    opts.ctx_out = ctx_out.data();
    opts.ctx_size_out = static_cast<__u32>(ctx_out.size());
  }
  // With repeat > 1 the kernel stops at a pending signal (the process's
  // SIGCHLD, a timer) with EINTR, having run the program part of the times:
  // run it again, from the same input, as an interrupted read is retried.
  // What the interrupted runs wrote to maps stays written.
  int rc;
  int attempts = 0;
  do {
    opts.data_size_out = static_cast<__u32>(out.size());
    opts.ctx_size_out = static_cast<__u32>(ctx_out.size());
    rc = bpf_prog_test_run_opts(fd_, &opts);
  } while (rc < 0 && errno == EINTR && ++attempts < 10);
  if (rc < 0) throw SyscallError(env, {"program.testRun", name_}, errno);
  auto r = Napi::Object::New(env);
  r.Set("retval", Napi::Number::New(env, static_cast<int32_t>(opts.retval)));
  r.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), std::min<size_t>(opts.data_size_out, out.size())));
  r.Set("durationNs", opts.duration);
  if (!ctx_out.empty()) r.Set("ctx", Napi::Buffer<uint8_t>::Copy(env, ctx_out.data(), opts.ctx_size_out));
  return r;
}

// attachTc({ ifindex, direction, priority?, handle?, netns? }) -> { ..., hookCreated }
// Adds a clsact qdisc when the interface has none (hookCreated tells the
// caller it is theirs to remove) and a direct-action cls_bpf filter.
Napi::Value BpfProgram::AttachTc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "program.attachTc");
  auto o = OptionsArg(info, 0, "program.attachTc");
  std::string netns = OptString(o, "netns");
  NetnsScope scope(netns);
  EnterOrThrow(env, scope, "program.attachTc", netns);
  LIBBPF_OPTS(bpf_tc_hook, hook);
  hook.ifindex = static_cast<int>(OptInt(o, "ifindex", 0));
  hook.attach_point = TcPoint(env, OptString(o, "direction"), "program.attachTc");
  bool created = true;
  int ret = bpf_tc_hook_create(&hook);
  if (ret == -EEXIST)
    created = false;
  else if (ret < 0)
    throw SyscallError(env, {"program.attachTc", name_ + " (clsact qdisc)"}, -ret);
  LIBBPF_OPTS(bpf_tc_opts, tco);
  tco.prog_fd = fd_;
  tco.handle = static_cast<__u32>(OptInt(o, "handle", 1));
  tco.priority = static_cast<__u32>(OptInt(o, "priority", 1));
  tco.flags = BPF_TC_F_REPLACE;
  ret = bpf_tc_attach(&hook, &tco);
  if (ret < 0) throw SyscallError(env, {"program.attachTc", name_}, -ret);
  auto r = Napi::Object::New(env);
  r.Set("ifindex", hook.ifindex);
  r.Set("direction", OptString(o, "direction"));
  r.Set("handle", tco.handle);
  r.Set("priority", tco.priority);
  r.Set("programId", tco.prog_id);
  r.Set("hookCreated", Napi::Boolean::New(env, created));
  return r;
}

// detachTc({ ifindex, direction, priority, handle, netns?, destroyHook? }) -> boolean
// False when the filter is already gone.
Napi::Value BpfProgram::DetachTc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = OptionsArg(info, 0, "program.detachTc");
  std::string netns = OptString(o, "netns");
  NetnsScope scope(netns);
  EnterOrThrow(env, scope, "program.detachTc", netns);
  LIBBPF_OPTS(bpf_tc_hook, hook);
  hook.ifindex = static_cast<int>(OptInt(o, "ifindex", 0));
  hook.attach_point = TcPoint(env, OptString(o, "direction"), "program.detachTc");
  LIBBPF_OPTS(bpf_tc_opts, tco);
  tco.handle = static_cast<__u32>(OptInt(o, "handle", 1));
  tco.priority = static_cast<__u32>(OptInt(o, "priority", 1));
  int ret = bpf_tc_detach(&hook, &tco);
  bool removed = ret == 0;
  if (ret < 0 && ret != -ENOENT && ret != -ENODEV && ret != -EINVAL)
    throw SyscallError(env, {"program.detachTc", "ifindex " + std::to_string(hook.ifindex)}, -ret);
  if (o.Has("destroyHook") && o.Get("destroyHook").ToBoolean()) {
    // Destroying one attach point of clsact removes the whole qdisc, both
    // directions; callers only ask for it when they created it.
    hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    bpf_tc_hook_destroy(&hook);
  }
  return Napi::Boolean::New(env, removed);
}

// attachXdp({ ifindex, mode: "driver"|"generic", netns?, replaceId? })
// Never replaces a program it was not told to: with replaceId 0 (the
// default) the attach fails with EBUSY if any program is there
// (XDP_FLAGS_UPDATE_IF_NOEXIST); with replaceId N it replaces exactly the
// program of id N, atomically, and fails with EEXIST if another is there.
Napi::Value BpfProgram::AttachXdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "program.attachXdp");
  auto o = OptionsArg(info, 0, "program.attachXdp");
  std::string netns = OptString(o, "netns");
  NetnsScope scope(netns);
  EnterOrThrow(env, scope, "program.attachXdp", netns);
  int ifindex = static_cast<int>(OptInt(o, "ifindex", 0));
  __u32 flags = XdpFlags(env, OptString(o, "mode"), "program.attachXdp");
  __u32 replace_id = static_cast<__u32>(OptInt(o, "replaceId", 0));
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  int old_fd = -1;
  if (replace_id != 0) {
    old_fd = bpf_prog_get_fd_by_id(replace_id);
    if (old_fd < 0) throw SyscallError(env, {"program.attachXdp", "program id " + std::to_string(replace_id)}, errno);
    opts.old_prog_fd = old_fd;
    flags |= XDP_FLAGS_REPLACE;
  } else {
    flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
  }
  int ret = bpf_xdp_attach(ifindex, fd_, flags, &opts);
  if (old_fd >= 0) close(old_fd);
  if (ret < 0) throw SyscallError(env, {"program.attachXdp", name_ + " on ifindex " + std::to_string(ifindex)}, -ret);
  return env.Undefined();
}

// programById(id) -> { id, name, type } of a loaded program, or null when none has that id
Napi::Value BpfProgram::ProgramById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw ArgumentError(env, {"program.byId", ""}, "expected a program id");
  __u32 id = info[0].As<Napi::Number>().Uint32Value();
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) {
    if (errno == ENOENT) return env.Null();
    throw SyscallError(env, {"program.byId", std::to_string(id)}, errno);
  }
  struct bpf_prog_info pi = {};
  __u32 len = sizeof pi;
  int ret = bpf_obj_get_info_by_fd(fd, &pi, &len);
  int err = errno;
  close(fd);
  if (ret < 0) throw SyscallError(env, {"program.byId", std::to_string(id)}, err);
  auto o = Napi::Object::New(env);
  o.Set("id", pi.id);
  o.Set("name", std::string(pi.name));
  const char* type = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(pi.type));
  o.Set("type", type ? type : "unknown");
  return o;
}

// detachXdp({ ifindex, mode, netns?, expectedId? }): with expectedId, only
// that program is detached (another owner's stays; EEXIST).
Napi::Value BpfProgram::DetachXdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = OptionsArg(info, 0, "program.detachXdp");
  std::string netns = OptString(o, "netns");
  NetnsScope scope(netns);
  EnterOrThrow(env, scope, "program.detachXdp", netns);
  int ifindex = static_cast<int>(OptInt(o, "ifindex", 0));
  __u32 flags = XdpFlags(env, OptString(o, "mode"), "program.detachXdp");
  __u32 expected_id = static_cast<__u32>(OptInt(o, "expectedId", 0));
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  int old_fd = -1;
  if (expected_id != 0) {
    old_fd = bpf_prog_get_fd_by_id(expected_id);
    if (old_fd < 0) return env.Undefined();  // that program is gone, and with it its attachment
    opts.old_prog_fd = old_fd;
    flags |= XDP_FLAGS_REPLACE;
  }
  int ret = bpf_xdp_detach(ifindex, flags, &opts);
  if (old_fd >= 0) close(old_fd);
  // EEXIST with expectedId: that program is not what the hook holds (gone
  // already, or another owner's there now): nothing of ours to detach.
  if (ret == -EEXIST && expected_id != 0) return env.Undefined();
  if (ret < 0 && ret != -ENODEV)
    throw SyscallError(env, {"program.detachXdp", "ifindex " + std::to_string(ifindex)}, -ret);
  return env.Undefined();
}

// queryXdp({ ifindex, mode, netns? }) -> program id attached in that mode, or 0
Napi::Value BpfProgram::QueryXdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = OptionsArg(info, 0, "program.queryXdp");
  std::string netns = OptString(o, "netns");
  NetnsScope scope(netns);
  EnterOrThrow(env, scope, "program.queryXdp", netns);
  __u32 id = 0;
  int ret = bpf_xdp_query_id(static_cast<int>(OptInt(o, "ifindex", 0)),
                             XdpFlags(env, OptString(o, "mode"), "program.queryXdp"), &id);
  if (ret < 0) throw SyscallError(env, {"program.queryXdp", ""}, -ret);
  return Napi::Number::New(env, id);
}

// attachCgroup({ cgroup: path, attachType? }) -> BpfLink
Napi::Value BpfProgram::AttachCgroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "program.attachCgroup");
  auto o = OptionsArg(info, 0, "program.attachCgroup");
  std::string path = OptString(o, "cgroup");
  int at = attach_type_;
  std::string at_name = OptString(o, "attachType");
  if (!at_name.empty()) {
    at = AttachTypeByName(at_name);
    if (at < 0) throw ArgumentError(env, {"program.attachCgroup", name_}, "unknown attach type \"" + at_name + "\"");
  }
  if (at < 0) throw ArgumentError(env, {"program.attachCgroup", name_}, "the program has no attach type; name one");
  int cg = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) throw SyscallError(env, {"program.attachCgroup", path}, errno);
  int link = bpf_link_create(fd_, cg, static_cast<enum bpf_attach_type>(at), nullptr);
  int err = errno;
  close(cg);
  if (link < 0) throw SyscallError(env, {"program.attachCgroup", name_ + " to " + path}, err);
  return BpfLink::Wrap(env, link, name_);
}

Napi::Value BpfProgram::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "program.pin");
  std::string path = info[0].ToString();
  if (bpf_obj_pin(fd_, path.c_str()) < 0) throw SyscallError(env, {"program.pin", name_ + " at " + path}, errno);
  return env.Undefined();
}

Napi::Value BpfProgram::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return info.Env().Undefined();
}

Napi::Value BpfProgram::Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

// ---- BpfLink ----

Napi::Function BpfLink::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "BpfLink",
                                 {
                                     StaticMethod<&BpfLink::OpenPinned>("openPinned"),
                                     InstanceMethod<&BpfLink::Pin>("pin"),
                                     InstanceMethod<&BpfLink::Detach>("detach"),
                                     InstanceMethod<&BpfLink::Close>("close"),
                                 });
  constructor_ = Napi::Persistent(f);
  constructor_.SuppressDestruct();
  return f;
}

Napi::Object BpfLink::Wrap(Napi::Env env, int fd, const std::string& name) {
  return constructor_.New({Napi::Number::New(env, fd), Napi::String::New(env, name)});
}

BpfLink::BpfLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfLink>(info) {
  fd_ = info[0].As<Napi::Number>().Int32Value();
  if (info.Length() > 1 && info[1].IsString()) name_ = info[1].As<Napi::String>();
}

BpfLink::~BpfLink() {
  if (fd_ >= 0) close(fd_);
}

Napi::Value BpfLink::OpenPinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) throw SyscallError(env, {"link.openPinned", path}, errno);
  return Wrap(env, fd, path);
}

Napi::Value BpfLink::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString();
  if (fd_ < 0) throw SyscallError(env, {"link.pin", name_}, EBADF);
  if (bpf_obj_pin(fd_, path.c_str()) < 0) throw SyscallError(env, {"link.pin", name_ + " at " + path}, errno);
  return env.Undefined();
}

// Detaches the program even if the link is pinned elsewhere, then closes.
Napi::Value BpfLink::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) return env.Undefined();
  int ret = bpf_link_detach(fd_);
  int err = errno;
  close(fd_);
  fd_ = -1;
  if (ret < 0 && err != ENOENT) throw SyscallError(env, {"link.detach", name_}, err);
  return env.Undefined();
}

Napi::Value BpfLink::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return info.Env().Undefined();
}

}  // namespace switchyard
