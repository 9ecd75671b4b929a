// libbpf writes its diagnostics (the verifier log among them) through one print
// callback. We keep what it says during an operation so the error can carry it,
// instead of letting it spill onto the daemon's stderr.
#pragma once
#include <string>

namespace switchyard {

void InstallLibbpfLogger();

// Collects libbpf's output for the lifetime of the scope (main thread only).
class LibbpfLogCapture {
 public:
  LibbpfLogCapture();
  ~LibbpfLogCapture();
  std::string Text() const;
};

}  // namespace switchyard
