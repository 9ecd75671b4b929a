// Generic netlink over a raw NETLINK_GENERIC socket: building messages with
// nested attributes, resolving a family by name, one request at a time (with
// its reply or dump), and many requests pipelined per send. No libnl: the wire
// format is small, and the runtime image needs no extra library for it.
// Nothing here touches N-API, so it runs on libuv's pool as well.
#pragma once
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace switchyard::netlink {

// One generic netlink request under construction: nlmsghdr, genlmsghdr, then
// attributes, each padded to 4 bytes as the kernel's nla_* helpers expect.
class Message {
 public:
  Message(uint16_t family, uint16_t flags, uint8_t cmd, uint8_t version);

  void PutU8(uint16_t type, uint8_t v) { Put(type, &v, sizeof v); }
  void PutU16(uint16_t type, uint16_t v) { Put(type, &v, sizeof v); }
  void PutU32(uint16_t type, uint32_t v) { Put(type, &v, sizeof v); }
  void PutString(uint16_t type, const std::string& s) { Put(type, s.c_str(), s.size() + 1); }
  void Put(uint16_t type, const void* data, size_t len);
  // Returns the offset EndNested needs; NLA_F_NESTED is set, which the
  // kernel's IPVS parser accepts as well as the unflagged form libnl sends.
  size_t BeginNested(uint16_t type);
  void EndNested(size_t start);

  void AddFlags(uint16_t flags);
  bool IsDump() const;
  size_t size() const { return buf_.size(); }
  // Stamps length and sequence number; the bytes are then ready to send.
  const std::vector<uint8_t>& Seal(uint32_t seq);

 private:
  std::vector<uint8_t> buf_;
};

// A parsed attribute stream: by_type[t] is the last attribute of type t
// (types above max are ignored, as the kernel ignores unknown ones).
struct Attrs {
  std::vector<const nlattr*> by_type;
  Attrs(const void* data, size_t len, uint16_t max);
  const nlattr* operator[](uint16_t t) const { return t < by_type.size() ? by_type[t] : nullptr; }
  static Attrs Nested(const nlattr* a, uint16_t max);
};

const void* Payload(const nlattr* a);
size_t PayloadLen(const nlattr* a);
uint16_t GetU16(const nlattr* a);
uint32_t GetU32(const nlattr* a);
uint64_t GetU64(const nlattr* a);
std::string GetString(const nlattr* a);

// What the kernel said about one request: 0 or a positive errno, and the
// extended-ack text when it gave one (NETLINK_EXT_ACK).
struct Status {
  int err = 0;
  std::string message;
};

// Each reply's attributes (after the genl header) and the command it carries.
using ReplyFn = std::function<void(uint8_t cmd, const void* attrs, size_t len)>;

class Socket {
 public:
  Socket() = default;
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Opens and binds a socket in the calling thread's network namespace.
  // Returns 0 or errno.
  int Open();
  // CTRL_CMD_GETFAMILY: ENOENT when no such family is registered.
  Status ResolveFamily(const std::string& name, uint16_t* id);
  // One request; with a dump flag, every reply until NLMSG_DONE, else the
  // replies and the ack. Returns the kernel's verdict.
  Status Request(Message& m, const ReplyFn& on_reply = nullptr);
  // Many requests, each acked: sent in chunks, one sendmsg per chunk, and the
  // acks matched back by sequence number. The kernel goes on after a failed
  // request, so every request gets its own status, in order.
  std::vector<Status> Pipeline(std::vector<Message>& msgs);

  int fd() const { return fd_; }
  void Close();

 private:
  uint32_t NextSeq() { return ++seq_; }
  // Receives one datagram (several netlink messages); returns bytes or -errno.
  ssize_t Receive();

  int fd_ = -1;
  uint32_t seq_ = 0;
  std::vector<uint8_t> rx_;
};

}  // namespace switchyard::netlink
