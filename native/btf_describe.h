// Describes BTF types as plain JavaScript objects, so TypeScript can derive or
// check its codecs against the layout the compiler actually produced.
#pragma once
#include <bpf/btf.h>
#include <napi.h>

namespace switchyard {

// { kind, name, size, ... }: struct/union members carry name, offset (bytes),
// bitOffset and bitSize; arrays carry elem and length; ints carry signed/bool;
// typedefs are resolved but keep their name in `typedef` (e.g. "__be32");
// enums carry values: [{ name, value }].
Napi::Value DescribeBtfType(Napi::Env env, const struct btf* btf, __u32 type_id);

}  // namespace switchyard
