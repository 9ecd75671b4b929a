// The IPVS generic netlink protocol (family "IPVS", <linux/ip_vs.h>): virtual
// services and destinations as plain structs, the requests that add, edit,
// delete and list them, and the decoding of the kernel's answers. Attribute
// numbers and flags come from the UAPI header only. No N-API here: this code
// runs on libuv's pool too.
#pragma once
#include <linux/ip_vs.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

#include "netlink.h"

namespace switchyard::ipvs {

struct Stats {
  uint64_t conns = 0, in_pkts = 0, out_pkts = 0, in_bytes = 0, out_bytes = 0;
  uint64_t cps = 0, in_pps = 0, out_pps = 0, in_bps = 0, out_bps = 0;
};

// An address of either family, as the kernel's union nf_inet_addr holds it.
struct Address {
  uint16_t af = AF_INET;
  uint8_t bytes[16] = {};
};

// A virtual service. It is identified by (af, protocol, addr, port), or by
// (af, fwmark) when fwmark is not 0.
struct Service {
  Address addr;
  uint16_t protocol = 0;
  uint16_t port = 0;  // host order
  uint32_t fwmark = 0;
  std::string scheduler;
  std::string pe_name;   // persistence engine ("sip"), usually empty
  uint32_t flags = 0;    // IP_VS_SVC_F_*
  uint32_t timeout = 0;  // persistence, seconds
  // Persistence granularity as a prefix length: clients in one /netmask
  // share a real server. The wire holds an IPv4 mask, or an IPv6 length.
  uint32_t netmask = 32;
  // Read back only.
  bool has_stats = false;
  Stats stats;
};

// A destination (real server) of one service.
struct Dest {
  Address addr;
  uint16_t port = 0;  // host order
  uint32_t fwd_method = IP_VS_CONN_F_MASQ;
  int32_t weight = 1;
  uint32_t u_threshold = 0, l_threshold = 0;
  // Read back only.
  uint32_t active_conns = 0, inact_conns = 0, persist_conns = 0;
  bool has_stats = false;
  Stats stats;
};

// One change, as the batch call applies it.
struct Op {
  enum class Kind { kAddService, kEditService, kDeleteService, kAddDest, kEditDest, kDeleteDest, kFlush };
  Kind kind = Kind::kFlush;
  Service service;
  Dest dest;
};

struct Timeouts {
  uint32_t tcp = 0, tcp_fin = 0, udp = 0;  // seconds; 0 in a set leaves the kernel's value
};

struct Info {
  uint32_t version = 0;
  uint32_t conn_table_size = 0;
};

struct ServiceWithDests {
  Service service;
  std::vector<Dest> dests;
};

// A socket bound to the IPVS family of the namespace it was opened in.
class Client {
 public:
  // Opens a socket in the calling thread's namespace and resolves "IPVS";
  // ENOENT means the kernel has no IPVS (the module is not loaded).
  netlink::Status Open();
  // A second socket to the same family (for work on another thread).
  netlink::Status OpenLike(const Client& other);

  netlink::Status GetInfo(Info* out);
  netlink::Status GetTimeouts(Timeouts* out);
  netlink::Status SetTimeouts(const Timeouts& t);
  netlink::Status ListServices(std::vector<Service>* out);
  netlink::Status ListDests(const Service& key, std::vector<Dest>* out);
  // Every service with its destinations: one dump, then one per service.
  netlink::Status ListAll(std::vector<ServiceWithDests>* out);
  netlink::Status Apply(const Op& op);
  std::vector<netlink::Status> ApplyAll(const std::vector<Op>& ops);

  uint16_t family() const { return family_; }
  bool open() const { return sock_.fd() >= 0; }
  void Close() { sock_.Close(); }

 private:
  netlink::Message Build(const Op& op) const;

  netlink::Socket sock_;
  uint16_t family_ = 0;
};

// "TCP 10.96.0.1:80", "fwmark 7 (IPv6)", "[fd00::1]:53": for error messages.
std::string Describe(const Service& s);
std::string Describe(const Address& a, uint16_t port);

}  // namespace switchyard::ipvs
