#include "ipvs_wire.h"

#include <arpa/inet.h>

#include <cstring>

namespace switchyard::ipvs {

using netlink::Attrs;
using netlink::Message;
using netlink::Status;

namespace {

// The wire's netmask: an IPv4 mask in network order, but an IPv6 prefix
// length as a plain number (ip_vs_add_service reads it so).
uint32_t NetmaskToWire(uint16_t af, uint32_t prefix) {
  if (af == AF_INET6) return prefix;
  return htonl(prefix == 0 ? 0 : ~0u << (32 - std::min<uint32_t>(prefix, 32)));
}

uint32_t NetmaskFromWire(uint16_t af, uint32_t wire) {
  if (af == AF_INET6) return wire;
  return static_cast<uint32_t>(__builtin_popcount(ntohl(wire)));
}

void PutAddress(Message& m, uint16_t type, const Address& a) { m.Put(type, a.bytes, sizeof a.bytes); }

Address GetAddress(const nlattr* attr, uint16_t af) {
  Address a;
  a.af = af;
  if (attr) memcpy(a.bytes, netlink::Payload(attr), std::min(sizeof a.bytes, netlink::PayloadLen(attr)));
  return a;
}

// What identifies a service: the kernel looks it up by these alone.
void PutServiceKey(Message& m, const Service& s) {
  m.PutU16(IPVS_SVC_ATTR_AF, s.addr.af);
  if (s.fwmark) {
    m.PutU32(IPVS_SVC_ATTR_FWMARK, s.fwmark);
    return;
  }
  m.PutU16(IPVS_SVC_ATTR_PROTOCOL, s.protocol);
  PutAddress(m, IPVS_SVC_ATTR_ADDR, s.addr);
  m.PutU16(IPVS_SVC_ATTR_PORT, htons(s.port));
}

void PutService(Message& m, const Service& s, bool full) {
  size_t nest = m.BeginNested(IPVS_CMD_ATTR_SERVICE);
  PutServiceKey(m, s);
  if (full) {
    // An add or an edit must carry all four; the mask makes the flags we
    // send replace the service's (the kernel keeps HASHED to itself).
    m.PutString(IPVS_SVC_ATTR_SCHED_NAME, s.scheduler);
    if (!s.pe_name.empty()) m.PutString(IPVS_SVC_ATTR_PE_NAME, s.pe_name);
    ip_vs_flags flags = {s.flags, ~0u};
    m.Put(IPVS_SVC_ATTR_FLAGS, &flags, sizeof flags);
    m.PutU32(IPVS_SVC_ATTR_TIMEOUT, s.timeout);
    m.PutU32(IPVS_SVC_ATTR_NETMASK, NetmaskToWire(s.addr.af, s.netmask));
  }
  m.EndNested(nest);
}

void PutDest(Message& m, const Dest& d, bool full) {
  size_t nest = m.BeginNested(IPVS_CMD_ATTR_DEST);
  PutAddress(m, IPVS_DEST_ATTR_ADDR, d.addr);
  m.PutU16(IPVS_DEST_ATTR_PORT, htons(d.port));
  m.PutU16(IPVS_DEST_ATTR_ADDR_FAMILY, d.addr.af);
  if (full) {
    m.PutU32(IPVS_DEST_ATTR_FWD_METHOD, d.fwd_method & IP_VS_CONN_F_FWD_MASK);
    m.PutU32(IPVS_DEST_ATTR_WEIGHT, static_cast<uint32_t>(d.weight));
    m.PutU32(IPVS_DEST_ATTR_U_THRESH, d.u_threshold);
    m.PutU32(IPVS_DEST_ATTR_L_THRESH, d.l_threshold);
  }
  m.EndNested(nest);
}

Stats DecodeStats(const nlattr* nest, bool wide) {
  Attrs a = Attrs::Nested(nest, IPVS_STATS_ATTR_MAX);
  auto get = [&](uint16_t t) -> uint64_t {
    if (!a[t]) return 0;
    return wide ? netlink::GetU64(a[t]) : netlink::GetU32(a[t]);
  };
  Stats s;
  s.conns = get(IPVS_STATS_ATTR_CONNS);
  s.in_pkts = get(IPVS_STATS_ATTR_INPKTS);
  s.out_pkts = get(IPVS_STATS_ATTR_OUTPKTS);
  // Byte counters are 64-bit in both nests.
  s.in_bytes = a[IPVS_STATS_ATTR_INBYTES] ? netlink::GetU64(a[IPVS_STATS_ATTR_INBYTES]) : 0;
  s.out_bytes = a[IPVS_STATS_ATTR_OUTBYTES] ? netlink::GetU64(a[IPVS_STATS_ATTR_OUTBYTES]) : 0;
  s.cps = get(IPVS_STATS_ATTR_CPS);
  s.in_pps = get(IPVS_STATS_ATTR_INPPS);
  s.out_pps = get(IPVS_STATS_ATTR_OUTPPS);
  s.in_bps = get(IPVS_STATS_ATTR_INBPS);
  s.out_bps = get(IPVS_STATS_ATTR_OUTBPS);
  return s;
}

bool DecodeService(const void* attrs, size_t len, Service* out) {
  Attrs top(attrs, len, IPVS_CMD_ATTR_MAX);
  if (!top[IPVS_CMD_ATTR_SERVICE]) return false;
  Attrs a = Attrs::Nested(top[IPVS_CMD_ATTR_SERVICE], IPVS_SVC_ATTR_MAX);
  if (!a[IPVS_SVC_ATTR_AF]) return false;
  Service s;
  uint16_t af = netlink::GetU16(a[IPVS_SVC_ATTR_AF]);
  s.addr = GetAddress(a[IPVS_SVC_ATTR_ADDR], af);
  if (a[IPVS_SVC_ATTR_PROTOCOL]) s.protocol = netlink::GetU16(a[IPVS_SVC_ATTR_PROTOCOL]);
  if (a[IPVS_SVC_ATTR_PORT]) s.port = ntohs(netlink::GetU16(a[IPVS_SVC_ATTR_PORT]));
  if (a[IPVS_SVC_ATTR_FWMARK]) s.fwmark = netlink::GetU32(a[IPVS_SVC_ATTR_FWMARK]);
  if (a[IPVS_SVC_ATTR_SCHED_NAME]) s.scheduler = netlink::GetString(a[IPVS_SVC_ATTR_SCHED_NAME]);
  if (a[IPVS_SVC_ATTR_PE_NAME]) s.pe_name = netlink::GetString(a[IPVS_SVC_ATTR_PE_NAME]);
  if (a[IPVS_SVC_ATTR_FLAGS] && netlink::PayloadLen(a[IPVS_SVC_ATTR_FLAGS]) >= sizeof(ip_vs_flags)) {
    ip_vs_flags f;
    memcpy(&f, netlink::Payload(a[IPVS_SVC_ATTR_FLAGS]), sizeof f);
    s.flags = f.flags;
  }
  if (a[IPVS_SVC_ATTR_TIMEOUT]) s.timeout = netlink::GetU32(a[IPVS_SVC_ATTR_TIMEOUT]);
  if (a[IPVS_SVC_ATTR_NETMASK]) s.netmask = NetmaskFromWire(af, netlink::GetU32(a[IPVS_SVC_ATTR_NETMASK]));
  if (a[IPVS_SVC_ATTR_STATS64] || a[IPVS_SVC_ATTR_STATS]) {
    s.has_stats = true;
    s.stats = a[IPVS_SVC_ATTR_STATS64] ? DecodeStats(a[IPVS_SVC_ATTR_STATS64], true)
                                       : DecodeStats(a[IPVS_SVC_ATTR_STATS], false);
  }
  *out = std::move(s);
  return true;
}

bool DecodeDest(const void* attrs, size_t len, uint16_t service_af, Dest* out) {
  Attrs top(attrs, len, IPVS_CMD_ATTR_MAX);
  if (!top[IPVS_CMD_ATTR_DEST]) return false;
  Attrs a = Attrs::Nested(top[IPVS_CMD_ATTR_DEST], IPVS_DEST_ATTR_MAX);
  Dest d;
  // Kernels before 4.4 name no family: the destination's is the service's.
  uint16_t af = a[IPVS_DEST_ATTR_ADDR_FAMILY] ? netlink::GetU16(a[IPVS_DEST_ATTR_ADDR_FAMILY]) : service_af;
  d.addr = GetAddress(a[IPVS_DEST_ATTR_ADDR], af);
  if (a[IPVS_DEST_ATTR_PORT]) d.port = ntohs(netlink::GetU16(a[IPVS_DEST_ATTR_PORT]));
  if (a[IPVS_DEST_ATTR_FWD_METHOD])
    d.fwd_method = netlink::GetU32(a[IPVS_DEST_ATTR_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK;
  if (a[IPVS_DEST_ATTR_WEIGHT]) d.weight = static_cast<int32_t>(netlink::GetU32(a[IPVS_DEST_ATTR_WEIGHT]));
  if (a[IPVS_DEST_ATTR_U_THRESH]) d.u_threshold = netlink::GetU32(a[IPVS_DEST_ATTR_U_THRESH]);
  if (a[IPVS_DEST_ATTR_L_THRESH]) d.l_threshold = netlink::GetU32(a[IPVS_DEST_ATTR_L_THRESH]);
  if (a[IPVS_DEST_ATTR_ACTIVE_CONNS]) d.active_conns = netlink::GetU32(a[IPVS_DEST_ATTR_ACTIVE_CONNS]);
  if (a[IPVS_DEST_ATTR_INACT_CONNS]) d.inact_conns = netlink::GetU32(a[IPVS_DEST_ATTR_INACT_CONNS]);
  if (a[IPVS_DEST_ATTR_PERSIST_CONNS]) d.persist_conns = netlink::GetU32(a[IPVS_DEST_ATTR_PERSIST_CONNS]);
  if (a[IPVS_DEST_ATTR_STATS64] || a[IPVS_DEST_ATTR_STATS]) {
    d.has_stats = true;
    d.stats = a[IPVS_DEST_ATTR_STATS64] ? DecodeStats(a[IPVS_DEST_ATTR_STATS64], true)
                                        : DecodeStats(a[IPVS_DEST_ATTR_STATS], false);
  }
  *out = std::move(d);
  return true;
}

}  // namespace

Status Client::Open() {
  if (int err = sock_.Open()) return {err, ""};
  return sock_.ResolveFamily(IPVS_GENL_NAME, &family_);
}

Status Client::OpenLike(const Client& other) {
  family_ = other.family_;
  return {sock_.Open(), ""};
}

Status Client::GetInfo(Info* out) {
  Message m(family_, 0, IPVS_CMD_GET_INFO, IPVS_GENL_VERSION);
  return sock_.Request(m, [&](uint8_t, const void* attrs, size_t len) {
    Attrs a(attrs, len, IPVS_INFO_ATTR_MAX);
    if (a[IPVS_INFO_ATTR_VERSION]) out->version = netlink::GetU32(a[IPVS_INFO_ATTR_VERSION]);
    if (a[IPVS_INFO_ATTR_CONN_TAB_SIZE]) out->conn_table_size = netlink::GetU32(a[IPVS_INFO_ATTR_CONN_TAB_SIZE]);
  });
}

Status Client::GetTimeouts(Timeouts* out) {
  Message m(family_, 0, IPVS_CMD_GET_CONFIG, IPVS_GENL_VERSION);
  return sock_.Request(m, [&](uint8_t, const void* attrs, size_t len) {
    Attrs a(attrs, len, IPVS_CMD_ATTR_MAX);
    if (a[IPVS_CMD_ATTR_TIMEOUT_TCP]) out->tcp = netlink::GetU32(a[IPVS_CMD_ATTR_TIMEOUT_TCP]);
    if (a[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]) out->tcp_fin = netlink::GetU32(a[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]);
    if (a[IPVS_CMD_ATTR_TIMEOUT_UDP]) out->udp = netlink::GetU32(a[IPVS_CMD_ATTR_TIMEOUT_UDP]);
  });
}

Status Client::SetTimeouts(const Timeouts& t) {
  Message m(family_, 0, IPVS_CMD_SET_CONFIG, IPVS_GENL_VERSION);
  m.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp);
  m.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin);
  m.PutU32(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp);
  return sock_.Request(m);
}

Status Client::ListServices(std::vector<Service>* out) {
  Message m(family_, NLM_F_DUMP, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION);
  return sock_.Request(m, [&](uint8_t, const void* attrs, size_t len) {
    Service s;
    if (DecodeService(attrs, len, &s)) out->push_back(std::move(s));
  });
}

Status Client::ListDests(const Service& key, std::vector<Dest>* out) {
  Message m(family_, NLM_F_DUMP, IPVS_CMD_GET_DEST, IPVS_GENL_VERSION);
  PutService(m, key, false);
  return sock_.Request(m, [&](uint8_t, const void* attrs, size_t len) {
    Dest d;
    if (DecodeDest(attrs, len, key.addr.af, &d)) out->push_back(std::move(d));
  });
}

Status Client::ListAll(std::vector<ServiceWithDests>* out) {
  std::vector<Service> services;
  if (Status st = ListServices(&services); st.err) return st;
  out->reserve(services.size());
  for (auto& s : services) {
    ServiceWithDests entry{std::move(s), {}};
    // A service deleted between the two dumps has no destinations to list
    // (the kernel answers an empty dump), which is what it now has.
    if (Status st = ListDests(entry.service, &entry.dests); st.err) return st;
    out->push_back(std::move(entry));
  }
  return {};
}

Message Client::Build(const Op& op) const {
  using K = Op::Kind;
  switch (op.kind) {
    case K::kAddService:
    case K::kEditService:
    case K::kDeleteService: {
      uint8_t cmd = op.kind == K::kAddService    ? IPVS_CMD_NEW_SERVICE
                    : op.kind == K::kEditService ? IPVS_CMD_SET_SERVICE
                                                 : IPVS_CMD_DEL_SERVICE;
      Message m(family_, 0, cmd, IPVS_GENL_VERSION);
      PutService(m, op.service, op.kind != K::kDeleteService);
      return m;
    }
    case K::kAddDest:
    case K::kEditDest:
    case K::kDeleteDest: {
      uint8_t cmd = op.kind == K::kAddDest    ? IPVS_CMD_NEW_DEST
                    : op.kind == K::kEditDest ? IPVS_CMD_SET_DEST
                                              : IPVS_CMD_DEL_DEST;
      Message m(family_, 0, cmd, IPVS_GENL_VERSION);
      PutService(m, op.service, false);
      PutDest(m, op.dest, op.kind != K::kDeleteDest);
      return m;
    }
    case K::kFlush: break;
  }
  return Message(family_, 0, IPVS_CMD_FLUSH, IPVS_GENL_VERSION);
}

Status Client::Apply(const Op& op) {
  Message m = Build(op);
  return sock_.Request(m);
}

std::vector<Status> Client::ApplyAll(const std::vector<Op>& ops) {
  std::vector<Message> msgs;
  msgs.reserve(ops.size());
  for (const auto& op : ops) msgs.push_back(Build(op));
  return sock_.Pipeline(msgs);
}

std::string Describe(const Address& a, uint16_t port) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(a.af, a.bytes, text, sizeof text);
  std::string out;
  if (a.af == AF_INET6)
    out.append("[").append(text).append("]");
  else
    out.append(text);
  return out.append(":").append(std::to_string(port));
}

std::string Describe(const Service& s) {
  if (s.fwmark) return "fwmark " + std::to_string(s.fwmark) + (s.addr.af == AF_INET6 ? " (IPv6)" : "");
  const char* proto = s.protocol == IPPROTO_TCP    ? "TCP"
                      : s.protocol == IPPROTO_UDP  ? "UDP"
                      : s.protocol == IPPROTO_SCTP ? "SCTP"
                                                   : "proto";
  return std::string(proto) + " " + Describe(s.addr, s.port);
}

}  // namespace switchyard::ipvs
