#include "map.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "btf_describe.h"
#include "errors.h"

namespace switchyard {

Napi::FunctionReference BpfMap::constructor_;

namespace {

bool IsPerCpu(__u32 type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Kernels and map types without a batch command answer one of these; we then
// fall back to one syscall per element (still off the event loop).
bool BatchUnsupported(int err) { return err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == 524; }

constexpr size_t kBatchChunk = 4096;

// Batch work runs on libuv's pool so a large batch never blocks the event loop.
// Inputs are copied in on the main thread; outputs become Buffers in OnOK.
class BatchWorker : public Napi::AsyncWorker {
 public:
  enum class Kind { kUpdate, kDelete, kLookupAll };

  BatchWorker(Napi::Env env, Kind kind, int fd, std::string name, size_t key_size, size_t value_size,
              size_t max_entries, std::vector<uint8_t> keys, std::vector<uint8_t> values, __u64 flags)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        kind_(kind),
        fd_(dup(fd)),
        name_(std::move(name)),
        key_size_(key_size),
        value_size_(value_size),
        max_entries_(max_entries),
        keys_(std::move(keys)),
        values_(std::move(values)),
        flags_(flags) {}
  ~BatchWorker() override {
    if (fd_ >= 0) close(fd_);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (fd_ < 0) {
      err_ = errno;
      return;
    }
    switch (kind_) {
      case Kind::kUpdate: RunUpdate(); break;
      case Kind::kDelete: RunDelete(); break;
      case Kind::kLookupAll: RunLookupAll(); break;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      ErrorContext ctx{op_, name_, ""};
      auto e = SyscallError(env, ctx, err_);
      e.Set("processed", Napi::Number::New(env, static_cast<double>(count_)));
      deferred_.Reject(e.Value());
      return;
    }
    auto result = Napi::Object::New(env);
    result.Set("count", Napi::Number::New(env, static_cast<double>(count_)));
    result.Set("batched", Napi::Boolean::New(env, batched_));
    if (kind_ == Kind::kLookupAll) {
      result.Set("keys", Napi::Buffer<uint8_t>::Copy(env, out_keys_.data(), count_ * key_size_));
      result.Set("values", Napi::Buffer<uint8_t>::Copy(env, out_values_.data(), count_ * value_size_));
    }
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  size_t Count() const { return key_size_ ? keys_.size() / key_size_ : 0; }

  void RunUpdate() {
    op_ = "map.updateBatch";
    const size_t n = Count();
    size_t done = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags_);
    while (done < n) {
      __u32 chunk = static_cast<__u32>(std::min(kBatchChunk, n - done));
      int ret = bpf_map_update_batch(fd_, keys_.data() + done * key_size_, values_.data() + done * value_size_, &chunk,
                                     &opts);
      if (ret == 0) {
        done += chunk;
        continue;
      }
      int err = ErrnoOf(ret);
      if (done == 0 && BatchUnsupported(err)) break;  // fall back below
      count_ = done + chunk;
      err_ = err;
      return;
    }
    if (done == n) {
      count_ = n;
      batched_ = true;
      return;
    }
    for (size_t i = done; i < n; i++) {
      int ret = bpf_map_update_elem(fd_, keys_.data() + i * key_size_, values_.data() + i * value_size_, flags_);
      if (ret < 0) {
        err_ = ErrnoOf(ret);
        count_ = i;
        return;
      }
    }
    count_ = n;
  }

  void RunDelete() {
    op_ = "map.deleteBatch";
    const size_t n = Count();
    size_t done = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    // The kernel's batch delete stops at the first missing key (ENOENT). A
    // missing key is not an error for us: finish that chunk one by one.
    while (done < n) {
      __u32 chunk = static_cast<__u32>(std::min(kBatchChunk, n - done));
      int ret = bpf_map_delete_batch(fd_, keys_.data() + done * key_size_, &chunk, &opts);
      if (ret == 0) {
        count_ += chunk;
        done += chunk;
        batched_ = true;
        continue;
      }
      int err = ErrnoOf(ret);
      if (err != ENOENT && !BatchUnsupported(err)) {
        err_ = err;
        return;
      }
      // Without a batch command the kernel deleted nothing and left `chunk`
      // as we passed it in: every key of it is still to delete, one by one.
      if (BatchUnsupported(err)) chunk = 0;
      count_ += chunk;  // deleted before the kernel stopped
      size_t end = std::min(n, done + std::min(kBatchChunk, n - done));
      if (BatchUnsupported(err)) end = n;
      for (size_t i = done + chunk; i < end; i++) {
        int r = bpf_map_delete_elem(fd_, keys_.data() + i * key_size_);
        if (r == 0) {
          count_++;
        } else if (ErrnoOf(r) != ENOENT) {
          err_ = ErrnoOf(r);
          return;
        }
      }
      done = end;
    }
  }

  void RunLookupAll() {
    op_ = "map.lookupAll";
    if (TryLookupBatch()) return;
    // Fallback: walk the keys and look each up. Entries deleted while we walk
    // are skipped, as a concurrent reader of a live map must.
    out_keys_.clear();
    out_values_.clear();
    count_ = 0;
    std::vector<uint8_t> key(key_size_), next(key_size_), value(value_size_);
    const void* prev = nullptr;
    while (true) {
      int ret = bpf_map_get_next_key(fd_, prev, next.data());
      if (ret < 0) {
        int err = ErrnoOf(ret);
        if (err != ENOENT) err_ = err;
        return;
      }
      key = next;
      prev = key.data();
      if (bpf_map_lookup_elem(fd_, key.data(), value.data()) < 0) continue;
      out_keys_.insert(out_keys_.end(), key.begin(), key.end());
      out_values_.insert(out_values_.end(), value.begin(), value.end());
      count_++;
    }
  }

  bool TryLookupBatch() {
    // in/out batch tokens are opaque to us; hash maps use a bucket index,
    // arrays a key. Give them room for either.
    std::vector<uint8_t> in(std::max<size_t>(key_size_, 8)), out(in.size());
    size_t chunk = std::clamp<size_t>(max_entries_, 1, 1024);
    bool first = true;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    while (true) {
      out_keys_.resize((count_ + chunk) * key_size_);
      out_values_.resize((count_ + chunk) * value_size_);
      __u32 got = static_cast<__u32>(chunk);
      int ret =
          bpf_map_lookup_batch(fd_, first ? nullptr : in.data(), out.data(), out_keys_.data() + count_ * key_size_,
                               out_values_.data() + count_ * value_size_, &got, &opts);
      int err = ret < 0 ? ErrnoOf(ret) : 0;
      if (err == ENOSPC) {  // a hash bucket holds more than `chunk` entries
        chunk *= 2;
        continue;
      }
      if (err && err != ENOENT) {
        if (first && count_ == 0 && BatchUnsupported(err)) return false;
        err_ = err;
        return true;
      }
      count_ += got;
      first = false;
      batched_ = true;
      if (err == ENOENT) break;  // the end of the map
      in = out;
    }
    out_keys_.resize(count_ * key_size_);
    out_values_.resize(count_ * value_size_);
    return true;
  }

  Napi::Promise::Deferred deferred_;
  Kind kind_;
  int fd_;
  std::string name_;
  size_t key_size_, value_size_, max_entries_;
  std::vector<uint8_t> keys_, values_;
  __u64 flags_;
  const char* op_ = "map.batch";
  int err_ = 0;
  size_t count_ = 0;
  bool batched_ = false;
  std::vector<uint8_t> out_keys_, out_values_;
};

}  // namespace

Napi::Function BpfMap::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "BpfMap",
                                 {
                                     StaticMethod<&BpfMap::OpenPinned>("openPinned"),
                                     InstanceMethod<&BpfMap::Info>("info"),
                                     InstanceMethod<&BpfMap::Lookup>("lookup"),
                                     InstanceMethod<&BpfMap::Update>("update"),
                                     InstanceMethod<&BpfMap::Delete>("delete"),
                                     InstanceMethod<&BpfMap::NextKey>("nextKey"),
                                     InstanceMethod<&BpfMap::UpdateBatch>("updateBatch"),
                                     InstanceMethod<&BpfMap::DeleteBatch>("deleteBatch"),
                                     InstanceMethod<&BpfMap::LookupAll>("lookupAll"),
                                     InstanceMethod<&BpfMap::Pin>("pin"),
                                     InstanceMethod<&BpfMap::Btf>("btf"),
                                     InstanceMethod<&BpfMap::Close>("close"),
                                     InstanceMethod<&BpfMap::Fd>("fd"),
                                 });
  constructor_ = Napi::Persistent(f);
  constructor_.SuppressDestruct();
  return f;
}

Napi::Object BpfMap::Wrap(Napi::Env env, int fd) {
  return constructor_.New({Napi::Number::New(env, fd), Napi::Boolean::New(env, true)});
}

// new BpfMap(fd, adopt = false): without adopt the fd is duplicated, so the
// caller keeps its own.
BpfMap::BpfMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfMap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw ArgumentError(env, {"map.open", ""}, "expected a file descriptor");
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool adopt = info.Length() > 1 && info[1].ToBoolean();
  if (!adopt) {
    fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) throw SyscallError(env, {"map.open", ""}, errno);
  }
  Adopt(fd);
  if (fd_ < 0) throw SyscallError(env, {"map.info", ""}, errno);
}

BpfMap::~BpfMap() {
  if (fd_ >= 0) close(fd_);
}

void BpfMap::Adopt(int fd) {
  __u32 len = sizeof info_;
  memset(&info_, 0, sizeof info_);
  if (bpf_obj_get_info_by_fd(fd, &info_, &len) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return;
  }
  fd_ = fd;
  name_ = info_.name;
  value_size_ = info_.value_size;
  if (IsPerCpu(info_.type)) value_size_ = ((info_.value_size + 7) & ~7u) * libbpf_num_possible_cpus();
}

Napi::Value BpfMap::OpenPinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) throw SyscallError(env, {"map.openPinned", path}, errno);
  return Wrap(env, fd);
}

void BpfMap::CheckOpen(Napi::Env env, const char* op) const {
  if (fd_ < 0) throw SyscallError(env, {op, name_}, EBADF);
}

void BpfMap::CheckSize(Napi::Env env, const char* op, const Napi::Value& v, size_t want, const char* what) const {
  if (!v.IsBuffer()) throw ArgumentError(env, {op, name_}, std::string(what) + " must be a Buffer");
  size_t got = v.As<Napi::Buffer<uint8_t>>().Length();
  if (got != want)
    throw ArgumentError(
        env, {op, name_},
        std::string(what) + " is " + std::to_string(got) + " bytes, the map wants " + std::to_string(want));
}

Napi::Value BpfMap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.info");
  auto o = Napi::Object::New(env);
  const char* type = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(info_.type));
  o.Set("name", name_);
  o.Set("id", info_.id);
  o.Set("type", type ? type : "unknown");
  o.Set("keySize", info_.key_size);
  o.Set("valueSize", info_.value_size);
  o.Set("userValueSize", Napi::Number::New(env, static_cast<double>(value_size_)));
  o.Set("maxEntries", info_.max_entries);
  o.Set("flags", info_.map_flags);
  o.Set("perCpu", Napi::Boolean::New(env, IsPerCpu(info_.type)));
  o.Set("btfId", info_.btf_id);
  return o;
}

Napi::Value BpfMap::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.lookup");
  CheckSize(env, "map.lookup", info[0], info_.key_size, "key");
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  auto value = Napi::Buffer<uint8_t>::New(env, value_size_);
  if (bpf_map_lookup_elem(fd_, key.Data(), value.Data()) < 0) {
    if (errno == ENOENT) return env.Undefined();
    throw SyscallError(env, {"map.lookup", name_}, errno);
  }
  return value;
}

Napi::Value BpfMap::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.update");
  CheckSize(env, "map.update", info[0], info_.key_size, "key");
  CheckSize(env, "map.update", info[1], value_size_, "value");
  __u64 flags =
      info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : static_cast<__u64>(BPF_ANY);
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  auto value = info[1].As<Napi::Buffer<uint8_t>>();
  if (bpf_map_update_elem(fd_, key.Data(), value.Data(), flags) < 0)
    throw SyscallError(env, {"map.update", name_}, errno);
  return env.Undefined();
}

Napi::Value BpfMap::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.delete");
  CheckSize(env, "map.delete", info[0], info_.key_size, "key");
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  if (bpf_map_delete_elem(fd_, key.Data()) < 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    throw SyscallError(env, {"map.delete", name_}, errno);
  }
  return Napi::Boolean::New(env, true);
}

// nextKey(undefined) is the first key; nextKey(last) is undefined.
Napi::Value BpfMap::NextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.nextKey");
  const void* prev = nullptr;
  if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsNull()) {
    CheckSize(env, "map.nextKey", info[0], info_.key_size, "key");
    prev = info[0].As<Napi::Buffer<uint8_t>>().Data();
  }
  auto next = Napi::Buffer<uint8_t>::New(env, info_.key_size);
  if (bpf_map_get_next_key(fd_, prev, next.Data()) < 0) {
    if (errno == ENOENT) return env.Undefined();
    throw SyscallError(env, {"map.nextKey", name_}, errno);
  }
  return next;
}

// updateBatch(keys, values, flags): keys and values are packed back to back.
Napi::Value BpfMap::UpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.updateBatch");
  if (!info[0].IsBuffer() || !info[1].IsBuffer())
    throw ArgumentError(env, {"map.updateBatch", name_}, "keys and values must be Buffers");
  auto keys = info[0].As<Napi::Buffer<uint8_t>>();
  auto values = info[1].As<Napi::Buffer<uint8_t>>();
  if (keys.Length() % info_.key_size != 0 || values.Length() % value_size_ != 0 ||
      keys.Length() / info_.key_size != values.Length() / value_size_)
    throw ArgumentError(env, {"map.updateBatch", name_},
                        "keys must be a multiple of " + std::to_string(info_.key_size) +
                            " bytes and values the same count of " + std::to_string(value_size_) + " bytes");
  __u64 flags =
      info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : static_cast<__u64>(BPF_ANY);
  auto* w = new BatchWorker(env, BatchWorker::Kind::kUpdate, fd_, name_, info_.key_size, value_size_, info_.max_entries,
                            std::vector<uint8_t>(keys.Data(), keys.Data() + keys.Length()),
                            std::vector<uint8_t>(values.Data(), values.Data() + values.Length()), flags);
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value BpfMap::DeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.deleteBatch");
  if (!info[0].IsBuffer()) throw ArgumentError(env, {"map.deleteBatch", name_}, "keys must be a Buffer");
  auto keys = info[0].As<Napi::Buffer<uint8_t>>();
  if (keys.Length() % info_.key_size != 0)
    throw ArgumentError(env, {"map.deleteBatch", name_},
                        "keys must be a multiple of " + std::to_string(info_.key_size) + " bytes");
  auto* w = new BatchWorker(env, BatchWorker::Kind::kDelete, fd_, name_, info_.key_size, value_size_, info_.max_entries,
                            std::vector<uint8_t>(keys.Data(), keys.Data() + keys.Length()), {}, 0);
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value BpfMap::LookupAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.lookupAll");
  auto* w = new BatchWorker(env, BatchWorker::Kind::kLookupAll, fd_, name_, info_.key_size, value_size_,
                            info_.max_entries, {}, {}, 0);
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value BpfMap::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.pin");
  std::string path = info[0].ToString();
  if (bpf_obj_pin(fd_, path.c_str()) < 0) throw SyscallError(env, {"map.pin", name_ + " at " + path}, errno);
  return env.Undefined();
}

// The BTF of key and value, loaded from the kernel by the map's BTF id: this
// works for a map from our object and for one another process pinned alike.
Napi::Value BpfMap::Btf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "map.btf");
  if (info_.btf_id == 0) return env.Null();
  struct btf* btf = btf__load_from_kernel_by_id(info_.btf_id);
  if (!btf) throw SyscallError(env, {"map.btf", name_}, errno);
  auto o = Napi::Object::New(env);
  o.Set("key", DescribeBtfType(env, btf, info_.btf_key_type_id));
  o.Set("value", DescribeBtfType(env, btf, info_.btf_value_type_id));
  btf__free(btf);
  return o;
}

Napi::Value BpfMap::Close(const Napi::CallbackInfo& info) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return info.Env().Undefined();
}

Napi::Value BpfMap::Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

}  // namespace switchyard
