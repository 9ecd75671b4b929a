#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace switchyard {

namespace {
std::string* g_capture = nullptr;
bool g_debug = false;

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_debug) return 0;
  char buf[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if (static_cast<size_t>(n) >= sizeof buf) {
    // A verifier log line can be long; format it again at full length.
    std::string big(n + 1, '\0');
    vsnprintf(big.data(), big.size(), fmt, args);
    big.resize(n);
    if (g_capture) *g_capture += big;
    if (g_debug) fputs(big.c_str(), stderr);
    return n;
  }
  if (g_capture) *g_capture += buf;
  if (g_debug) fputs(buf, stderr);
  return n;
}
}  // namespace

void InstallLibbpfLogger() {
  const char* d = getenv("SWITCHYARD_LIBBPF_DEBUG");
  g_debug = d && *d && *d != '0';
  libbpf_set_print(Print);
}

LibbpfLogCapture::LibbpfLogCapture() { g_capture = new std::string(); }
LibbpfLogCapture::~LibbpfLogCapture() {
  delete g_capture;
  g_capture = nullptr;
}
std::string LibbpfLogCapture::Text() const { return g_capture ? *g_capture : std::string(); }

}  // namespace switchyard
