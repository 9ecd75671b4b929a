#include "object.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "btf_describe.h"
#include "errors.h"
#include "libbpf_log.h"
#include "map.h"
#include "program.h"

namespace switchyard {

namespace {

// libbpf frames each rejected program's verifier output with these markers.
std::string VerifierLogOf(const std::string& text) {
  const std::string begin = "-- BEGIN PROG LOAD LOG --", end = "-- END PROG LOAD LOG --";
  size_t b = text.find(begin);
  if (b == std::string::npos) return text;
  b += begin.size();
  size_t e = text.find(end, b);
  std::string log = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
  while (!log.empty() && (log.front() == '\n')) log.erase(0, 1);
  return log;
}

int DupFd(int fd) { return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3); }

}  // namespace

Napi::Function BpfObject::Init(Napi::Env env) {
  return DefineClass(env, "BpfObject",
                     {
                         InstanceMethod<&BpfObject::Maps>("maps"),
                         InstanceMethod<&BpfObject::Programs>("programs"),
                         InstanceMethod<&BpfObject::Btf>("btf"),
                         InstanceMethod<&BpfObject::SetMapPinPath>("setMapPinPath"),
                         InstanceMethod<&BpfObject::SetMapMaxEntries>("setMapMaxEntries"),
                         InstanceMethod<&BpfObject::SetProgramAutoload>("setProgramAutoload"),
                         InstanceMethod<&BpfObject::SetGlobal>("setGlobal"),
                         InstanceMethod<&BpfObject::MapSpec>("mapSpec"),
                         InstanceMethod<&BpfObject::CreateMap>("createMap"),
                         InstanceMethod<&BpfObject::Load>("load"),
                         InstanceMethod<&BpfObject::Map>("map"),
                         InstanceMethod<&BpfObject::Program>("program"),
                         InstanceMethod<&BpfObject::Close>("close"),
                     });
}

// new BpfObject(path, { pinRoot? })
BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  path_ = info[0].ToString();
  std::string pin_root;
  if (info.Length() > 1 && info[1].IsObject()) {
    auto o = info[1].As<Napi::Object>();
    if (o.Has("pinRoot") && o.Get("pinRoot").IsString()) pin_root = o.Get("pinRoot").As<Napi::String>();
  }
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!pin_root.empty()) opts.pin_root_path = pin_root.c_str();
  LibbpfLogCapture capture;
  obj_ = bpf_object__open_file(path_.c_str(), &opts);
  if (!obj_) {
    int err = errno;
    ErrorContext ctx{"object.open", path_, ""};
    auto e = SyscallError(env, ctx, err);
    e.Set("libbpfLog", capture.Text());
    throw e;
  }
}

BpfObject::~BpfObject() {
  if (obj_) bpf_object__close(obj_);
}

void BpfObject::CheckOpen(Napi::Env env, const char* op) const {
  if (!obj_) throw SyscallError(env, {op, path_}, EBADF);
}

struct bpf_map* BpfObject::FindMap(Napi::Env env, const char* op, const std::string& name) const {
  CheckOpen(env, op);
  struct bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!m) throw SyscallError(env, {op, "map " + name + " in " + path_}, ENOENT);
  return m;
}

struct bpf_program* BpfObject::FindProgram(Napi::Env env, const char* op, const std::string& name) const {
  CheckOpen(env, op);
  struct bpf_program* p = bpf_object__find_program_by_name(obj_, name.c_str());
  if (!p) throw SyscallError(env, {op, "program " + name + " in " + path_}, ENOENT);
  return p;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "object.maps");
  auto arr = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    auto o = Napi::Object::New(env);
    const char* type = libbpf_bpf_map_type_str(bpf_map__type(m));
    o.Set("name", bpf_map__name(m));
    o.Set("type", type ? type : "unknown");
    o.Set("keySize", bpf_map__key_size(m));
    o.Set("valueSize", bpf_map__value_size(m));
    o.Set("maxEntries", bpf_map__max_entries(m));
    o.Set("internal", Napi::Boolean::New(env, bpf_map__is_internal(m)));
    const char* pin = bpf_map__pin_path(m);
    o.Set("pinPath", pin ? Napi::Value(Napi::String::New(env, pin)) : env.Null());
    o.Set("pinned", Napi::Boolean::New(env, bpf_map__is_pinned(m)));
    arr.Set(i++, o);
  }
  return arr;
}

// The object file's own BTF, before load (no kernel needed): the key and value
// type of every map it declares, and every named enum. What scripts/gen-abi.ts
// generates TypeScript from.
Napi::Value BpfObject::Btf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "object.btf");
  const struct btf* btf = bpf_object__btf(obj_);
  if (!btf) throw SyscallError(env, {"object.btf", path_ + " (object has no BTF)"}, ENOENT);
  auto maps = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    if (bpf_map__is_internal(m)) continue;
    auto o = Napi::Object::New(env);
    const char* type = libbpf_bpf_map_type_str(bpf_map__type(m));
    o.Set("name", bpf_map__name(m));
    o.Set("type", type ? type : "unknown");
    o.Set("key", DescribeBtfType(env, btf, bpf_map__btf_key_type_id(m)));
    o.Set("value", DescribeBtfType(env, btf, bpf_map__btf_value_type_id(m)));
    maps.Set(i++, o);
  }
  auto enums = Napi::Array::New(env);
  uint32_t j = 0;
  const __u32 n = btf__type_cnt(btf);
  for (__u32 id = 1; id < n; id++) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (!btf_is_enum(t) || t->name_off == 0) continue;
    enums.Set(j++, DescribeBtfType(env, btf, id));
  }
  auto out = Napi::Object::New(env);
  out.Set("maps", maps);
  out.Set("enums", enums);
  return out;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "object.programs");
  auto arr = Napi::Array::New(env);
  uint32_t i = 0;
  struct bpf_program* p;
  bpf_object__for_each_program(p, obj_) {
    auto o = Napi::Object::New(env);
    const char* type = libbpf_bpf_prog_type_str(bpf_program__type(p));
    const char* at = libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(p));
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("type", type ? type : "unknown");
    o.Set("attachType", at ? at : "unknown");
    o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(p)));
    arr.Set(i++, o);
  }
  return arr;
}

Napi::Value BpfObject::SetMapPinPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_map* m = FindMap(env, "object.setMapPinPath", name);
  std::string path = info[1].ToString();
  int ret = bpf_map__set_pin_path(m, path.c_str());
  if (ret < 0) throw SyscallError(env, {"object.setMapPinPath", name}, ErrnoOf(ret));
  return env.Undefined();
}

Napi::Value BpfObject::SetMapMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_map* m = FindMap(env, "object.setMapMaxEntries", name);
  int ret = bpf_map__set_max_entries(m, info[1].As<Napi::Number>().Uint32Value());
  if (ret < 0) throw SyscallError(env, {"object.setMapMaxEntries", name}, ErrnoOf(ret));
  return env.Undefined();
}

Napi::Value BpfObject::SetProgramAutoload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_program* p = FindProgram(env, "object.setProgramAutoload", name);
  int ret = bpf_program__set_autoload(p, info[1].ToBoolean());
  if (ret < 0) throw SyscallError(env, {"object.setProgramAutoload", name}, ErrnoOf(ret));
  return env.Undefined();
}

// setGlobal(name, bytes): writes a global variable's initial value before
// load. For `const volatile` knobs in .rodata the verifier then sees them as
// constants and prunes the branches they switch off.
Napi::Value BpfObject::SetGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "object.setGlobal");
  std::string name = info[0].ToString();
  if (!info[1].IsBuffer()) throw ArgumentError(env, {"object.setGlobal", name}, "value must be a Buffer");
  auto value = info[1].As<Napi::Buffer<uint8_t>>();
  if (loaded_) throw ArgumentError(env, {"object.setGlobal", name}, "the object is loaded already");
  const struct btf* btf = bpf_object__btf(obj_);
  if (!btf) throw SyscallError(env, {"object.setGlobal", name + " (object has no BTF)"}, ENOENT);
  struct bpf_map* m;
  bpf_object__for_each_map(m, obj_) {
    if (!bpf_map__is_internal(m)) continue;
    // Internal maps are named "<obj>.rodata" etc.; the BTF datasec is ".rodata".
    const char* mname = bpf_map__name(m);
    const char* dot = strchr(mname, '.');
    if (!dot) continue;
    int sec_id = btf__find_by_name_kind(btf, dot, BTF_KIND_DATASEC);
    if (sec_id < 0) continue;
    const struct btf_type* sec = btf__type_by_id(btf, sec_id);
    const struct btf_var_secinfo* vi = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, vi++) {
      const struct btf_type* var = btf__type_by_id(btf, vi->type);
      if (name != btf__name_by_offset(btf, var->name_off)) continue;
      if (value.Length() != vi->size)
        throw ArgumentError(
            env, {"object.setGlobal", name},
            "value is " + std::to_string(value.Length()) + " bytes, the variable is " + std::to_string(vi->size));
      size_t size = 0;
      const void* data = bpf_map__initial_value(m, &size);
      if (!data || vi->offset + vi->size > size) throw SyscallError(env, {"object.setGlobal", name}, EINVAL);
      std::vector<uint8_t> section(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
      memcpy(section.data() + vi->offset, value.Data(), vi->size);
      int ret = bpf_map__set_initial_value(m, section.data(), section.size());
      if (ret < 0) throw SyscallError(env, {"object.setGlobal", name}, ErrnoOf(ret));
      return env.Undefined();
    }
  }
  throw SyscallError(env, {"object.setGlobal", "global " + name + " in " + path_}, ENOENT);
}

// mapSpec(name): the map as the object defines it (after setMapMaxEntries),
// with the BTF of key and value described like BpfMap.btf() describes a
// pinned map's, so TypeScript compares the two with one vocabulary.
Napi::Value BpfObject::MapSpec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_map* m = FindMap(env, "object.mapSpec", name);
  const struct btf* btf = bpf_object__btf(obj_);
  auto o = Napi::Object::New(env);
  const char* type = libbpf_bpf_map_type_str(bpf_map__type(m));
  o.Set("name", bpf_map__name(m));
  o.Set("type", type ? type : "unknown");
  o.Set("keySize", bpf_map__key_size(m));
  o.Set("valueSize", bpf_map__value_size(m));
  o.Set("maxEntries", bpf_map__max_entries(m));
  o.Set("flags", bpf_map__map_flags(m));
  o.Set("key", DescribeBtfType(env, btf, bpf_map__btf_key_type_id(m)));
  o.Set("value", DescribeBtfType(env, btf, bpf_map__btf_value_type_id(m)));
  return o;
}

// createMap(name): a new, unpinned map of the object's definition (type,
// sizes, flags, current max_entries) carrying the object's BTF for key and
// value, as libbpf would create it at load. Used to migrate a pinned map to
// a new size: the caller fills it and pins it before load() reuses the pin.
Napi::Value BpfObject::CreateMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_map* m = FindMap(env, "object.createMap", name);
  if (loaded_) throw ArgumentError(env, {"object.createMap", name}, "the object is loaded already");
  const struct btf* obj_btf = bpf_object__btf(obj_);
  int btf_fd = -1;
  struct btf* copy = nullptr;
  if (obj_btf && bpf_map__btf_key_type_id(m) && bpf_map__btf_value_type_id(m)) {
    // A copy, so libbpf's own (sanitised) load of the object's BTF is untouched.
    __u32 size = 0;
    const void* raw = btf__raw_data(obj_btf, &size);
    copy = raw ? btf__new(raw, size) : nullptr;
    if (!copy || btf__load_into_kernel(copy) < 0) {
      int err = copy ? errno : EINVAL;
      btf__free(copy);
      throw SyscallError(env, {"object.createMap", name + " (loading the object's BTF)"}, err);
    }
    btf_fd = btf__fd(copy);
  }
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = bpf_map__map_flags(m));
  if (btf_fd >= 0) {
    opts.btf_fd = btf_fd;
    opts.btf_key_type_id = bpf_map__btf_key_type_id(m);
    opts.btf_value_type_id = bpf_map__btf_value_type_id(m);
  }
  int fd = bpf_map_create(bpf_map__type(m), bpf_map__name(m), bpf_map__key_size(m), bpf_map__value_size(m),
                          bpf_map__max_entries(m), &opts);
  int err = errno;
  btf__free(copy);  // the map holds its own reference to the kernel's BTF
  if (fd < 0) throw SyscallError(env, {"object.createMap", name}, err);
  return BpfMap::Wrap(env, fd);
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "object.load");
  LibbpfLogCapture capture;
  int ret = bpf_object__load(obj_);
  if (ret < 0) {
    std::string text = capture.Text();
    ErrorContext ctx{"object.load", path_, VerifierLogOf(text)};
    auto e = SyscallError(env, ctx, ErrnoOf(ret));
    e.Set("libbpfLog", text);
    throw e;
  }
  loaded_ = true;
  return env.Undefined();
}

Napi::Value BpfObject::Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_map* m = FindMap(env, "object.map", name);
  int fd = DupFd(bpf_map__fd(m));
  if (fd < 0) throw SyscallError(env, {"object.map", name + " (not loaded)"}, EBADF);
  return BpfMap::Wrap(env, fd);
}

Napi::Value BpfObject::Program(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString();
  struct bpf_program* p = FindProgram(env, "object.program", name);
  int fd = DupFd(bpf_program__fd(p));
  if (fd < 0) throw SyscallError(env, {"object.program", name + " (not loaded)"}, EBADF);
  return BpfProgram::Wrap(env, fd, bpf_program__expected_attach_type(p));
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  if (obj_) bpf_object__close(obj_);
  obj_ = nullptr;
  return info.Env().Undefined();
}

}  // namespace switchyard
