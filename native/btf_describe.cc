#include "btf_describe.h"

#include <string>

namespace switchyard {

namespace {

const char* KindName(int kind) {
  switch (kind) {
    case BTF_KIND_INT: return "int";
    case BTF_KIND_PTR: return "ptr";
    case BTF_KIND_ARRAY: return "array";
    case BTF_KIND_STRUCT: return "struct";
    case BTF_KIND_UNION: return "union";
    case BTF_KIND_ENUM: return "enum";
    case BTF_KIND_FWD: return "fwd";
    case BTF_KIND_FLOAT: return "float";
    default: return "other";
  }
}

Napi::Value Describe(Napi::Env env, const struct btf* btf, __u32 id, int depth) {
  auto out = Napi::Object::New(env);
  if (depth > 16) {  // BTF cannot loop through values, but guard anyway.
    out.Set("kind", "other");
    return out;
  }
  // Peel typedefs and qualifiers, remembering the outermost typedef name:
  // "__be32" versus "__u32" is how a field says it holds network byte order.
  std::string typedef_name;
  const struct btf_type* t = btf__type_by_id(btf, id);
  while (t && (btf_is_typedef(t) || btf_is_mod(t))) {
    if (btf_is_typedef(t) && typedef_name.empty()) typedef_name = btf__name_by_offset(btf, t->name_off);
    id = t->type;
    t = btf__type_by_id(btf, id);
  }
  if (!t) {
    out.Set("kind", "void");
    out.Set("size", 0);
    return out;
  }
  const int kind = btf_kind(t);
  out.Set("kind", KindName(kind));
  out.Set("name", btf__name_by_offset(btf, t->name_off));
  if (!typedef_name.empty()) out.Set("typedef", typedef_name);
  __s64 size = btf__resolve_size(btf, id);
  out.Set("size", Napi::Number::New(env, size < 0 ? 0 : static_cast<double>(size)));

  if (kind == BTF_KIND_INT) {
    __u8 enc = btf_int_encoding(t);
    out.Set("signed", Napi::Boolean::New(env, enc & BTF_INT_SIGNED));
    out.Set("bool", Napi::Boolean::New(env, enc & BTF_INT_BOOL));
  } else if (kind == BTF_KIND_ARRAY) {
    const struct btf_array* a = btf_array(t);
    out.Set("length", a->nelems);
    out.Set("elem", Describe(env, btf, a->type, depth + 1));
  } else if (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION) {
    const struct btf_member* m = btf_members(t);
    const int n = btf_vlen(t);
    auto members = Napi::Array::New(env, n);
    for (int i = 0; i < n; i++, m++) {
      auto mo = Napi::Object::New(env);
      const __u32 bit_off = btf_member_bit_offset(t, i);
      const __u32 bit_size = btf_member_bitfield_size(t, i);
      mo.Set("name", btf__name_by_offset(btf, m->name_off));
      mo.Set("offset", bit_off / 8);
      mo.Set("bitOffset", bit_off);
      mo.Set("bitSize", bit_size);
      mo.Set("type", Describe(env, btf, m->type, depth + 1));
      members.Set(i, mo);
    }
    out.Set("members", members);
  } else if (kind == BTF_KIND_ENUM) {
    const bool is_signed = btf_kflag(t);
    out.Set("signed", Napi::Boolean::New(env, is_signed));
    const struct btf_enum* e = btf_enum(t);
    const int n = btf_vlen(t);
    auto values = Napi::Array::New(env, n);
    for (int i = 0; i < n; i++, e++) {
      auto vo = Napi::Object::New(env);
      vo.Set("name", btf__name_by_offset(btf, e->name_off));
      vo.Set("value", Napi::Number::New(env, is_signed ? static_cast<double>(static_cast<__s32>(e->val))
                                                       : static_cast<double>(static_cast<__u32>(e->val))));
      values.Set(i, vo);
    }
    out.Set("values", values);
  }
  return out;
}

}  // namespace

Napi::Value DescribeBtfType(Napi::Env env, const struct btf* btf, __u32 type_id) {
  if (!btf || type_id == 0) return env.Null();
  return Describe(env, btf, type_id, 0);
}

}  // namespace switchyard
