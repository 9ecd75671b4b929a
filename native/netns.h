// Runs a piece of work in another network namespace, on this thread only.
// setns(2) with CLONE_NEWNET moves just the calling thread; netlink sockets it
// opens meanwhile (libbpf's tc and XDP attach) belong to the target namespace,
// and ifindexes are read there. The destructor moves the thread back; if that
// fails, the process would keep running in the wrong namespace, so it aborts.
#pragma once
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace switchyard {

class NetnsScope {
 public:
  // An empty path means "stay where we are".
  explicit NetnsScope(const std::string& path) {
    if (path.empty()) return;
    home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ < 0) {
      error_ = errno;
      return;
    }
    int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      error_ = errno;
      close(home_);
      home_ = -1;
      return;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
      error_ = errno;
      close(home_);
      home_ = -1;
    }
    close(target);
  }
  ~NetnsScope() {
    if (home_ < 0) return;
    if (setns(home_, CLONE_NEWNET) < 0) {
      perror("switchyard: cannot return to the original network namespace");
      abort();
    }
    close(home_);
  }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

  int error() const { return error_; }

 private:
  int home_ = -1;
  int error_ = 0;
};

}  // namespace switchyard
