// IPVS structs to and from JavaScript objects. Addresses travel as text
// ("10.96.0.1", "fd00::1") with their family; ports in host order.
#pragma once
#include <napi.h>

#include "ipvs_wire.h"

namespace switchyard::ipvs {

// Throw an ERR_IPVS_NATIVE_ARGUMENT TypeError naming `op` on a bad field.
Service ServiceFromJs(Napi::Env env, const char* op, const Napi::Value& v);
Dest DestFromJs(Napi::Env env, const char* op, const Napi::Value& v);
Op OpFromJs(Napi::Env env, const char* op, const Napi::Value& v);

Napi::Object ToJs(Napi::Env env, const Service& s);
Napi::Object ToJs(Napi::Env env, const Dest& d);
Napi::Object ToJs(Napi::Env env, const Stats& s);

}  // namespace switchyard::ipvs
