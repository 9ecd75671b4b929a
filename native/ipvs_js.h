// IPVS structs to and from JavaScript objects. Addresses travel as text
// ("10.96.0.1", "fd00::1") with their family; ports in host order.
#pragma once
#include <napi.h>

#include <vector>

#include "ipvs_wire.h"

namespace switchyard::ipvs {

// Throw an ERR_IPVS_NATIVE_ARGUMENT TypeError naming `op` on a bad field.
Service ServiceFromJs(Napi::Env env, const char* op, const Napi::Value& v);
Dest DestFromJs(Napi::Env env, const char* op, const Napi::Value& v);
Op OpFromJs(Napi::Env env, const char* op, const Napi::Value& v);

Napi::Object ToJs(Napi::Env env, const Service& s);
Napi::Object ToJs(Napi::Env env, const Dest& d);
Napi::Object ToJs(Napi::Env env, const Stats& s);

// A JavaScript array of ToJs(item) for each item.
template <typename T>
Napi::Array ToJsArray(Napi::Env env, const std::vector<T>& items) {
  auto out = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) out.Set(static_cast<uint32_t>(i), ToJs(env, items[i]));
  return out;
}

}  // namespace switchyard::ipvs
