#include "netlink.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace switchyard::netlink {

namespace {

constexpr size_t kAlign = 4;
size_t Align(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// A dump's datagrams are at most 32 KiB (the kernel caps its dump skbs there);
// twice that leaves room, and MSG_TRUNC tells us if it ever did not.
constexpr size_t kReceiveBuffer = 64 * 1024;

// A pipelined chunk: its acks must all fit in the socket's receive queue,
// where each costs about a kilobyte of accounting (skb truesize).
constexpr size_t kChunkMessages = 64;
constexpr size_t kChunkBytes = 32 * 1024;

nlmsghdr* Header(std::vector<uint8_t>& buf) { return reinterpret_cast<nlmsghdr*>(buf.data()); }

// The text of an extended ack, after the echoed request (capped: header only).
std::string ExtAckMessage(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  size_t echoed = (h->nlmsg_flags & NLM_F_CAPPED) ? sizeof(nlmsghdr) : e->msg.nlmsg_len;
  size_t off = NLMSG_HDRLEN + sizeof(int) + echoed;
  if (off >= h->nlmsg_len) return "";
  Attrs tlvs(reinterpret_cast<const uint8_t*>(h) + off, h->nlmsg_len - off, NLMSGERR_ATTR_MAX);
  return tlvs[NLMSGERR_ATTR_MSG] ? GetString(tlvs[NLMSGERR_ATTR_MSG]) : "";
}

Status AckStatus(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) return {EBADMSG, "short netlink error message"};
  int error = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
  return {error < 0 ? -error : 0, error < 0 ? ExtAckMessage(h) : ""};
}

}  // namespace

Message::Message(uint16_t family, uint16_t flags, uint8_t cmd, uint8_t version) : buf_(NLMSG_HDRLEN + GENL_HDRLEN, 0) {
  Header(buf_)->nlmsg_type = family;
  Header(buf_)->nlmsg_flags = NLM_F_REQUEST | flags;
  auto* g = reinterpret_cast<genlmsghdr*>(buf_.data() + NLMSG_HDRLEN);
  g->cmd = cmd;
  g->version = version;
}

void Message::Put(uint16_t type, const void* data, size_t len) {
  size_t at = buf_.size();
  buf_.resize(at + Align(NLA_HDRLEN + len), 0);
  auto* a = reinterpret_cast<nlattr*>(buf_.data() + at);
  a->nla_type = type;
  a->nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  if (len) memcpy(buf_.data() + at + NLA_HDRLEN, data, len);
}

size_t Message::BeginNested(uint16_t type) {
  size_t at = buf_.size();
  Put(type | NLA_F_NESTED, nullptr, 0);
  return at;
}

void Message::EndNested(size_t start) {
  reinterpret_cast<nlattr*>(buf_.data() + start)->nla_len = static_cast<uint16_t>(buf_.size() - start);
}

const std::vector<uint8_t>& Message::Seal(uint32_t seq) {
  Header(buf_)->nlmsg_len = static_cast<uint32_t>(buf_.size());
  Header(buf_)->nlmsg_seq = seq;
  return buf_;
}

void Message::AddFlags(uint16_t flags) { Header(buf_)->nlmsg_flags |= flags; }

bool Message::IsDump() const {
  return (reinterpret_cast<const nlmsghdr*>(buf_.data())->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
}

Attrs::Attrs(const void* data, size_t len, uint16_t max) : by_type(max + 1, nullptr) {
  auto* p = static_cast<const uint8_t*>(data);
  while (len >= NLA_HDRLEN) {
    auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len) break;
    uint16_t t = a->nla_type & NLA_TYPE_MASK;
    if (t <= max) by_type[t] = a;
    size_t step = std::min(len, Align(a->nla_len));
    p += step;
    len -= step;
  }
}

Attrs Attrs::Nested(const nlattr* a, uint16_t max) {
  if (!a) return Attrs(nullptr, 0, max);
  return Attrs(Payload(a), PayloadLen(a), max);
}

const void* Payload(const nlattr* a) { return reinterpret_cast<const uint8_t*>(a) + NLA_HDRLEN; }
size_t PayloadLen(const nlattr* a) { return a->nla_len - NLA_HDRLEN; }

namespace {
template <typename T>
T Get(const nlattr* a) {
  T v = 0;
  memcpy(&v, Payload(a), std::min(sizeof v, PayloadLen(a)));
  return v;
}
}  // namespace

uint16_t GetU16(const nlattr* a) { return Get<uint16_t>(a); }
uint32_t GetU32(const nlattr* a) { return Get<uint32_t>(a); }
uint64_t GetU64(const nlattr* a) { return Get<uint64_t>(a); }
std::string GetString(const nlattr* a) {
  auto* s = static_cast<const char*>(Payload(a));
  return std::string(s, strnlen(s, PayloadLen(a)));
}

Socket::~Socket() { Close(); }

void Socket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

int Socket::Open() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd_ < 0) return errno;
  sockaddr_nl local = {};
  local.nl_family = AF_NETLINK;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    int err = errno;
    Close();
    return err;
  }
  int on = 1;
  // Best effort: the kernel's reason in text, and acks without our request echoed.
  setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  rx_.resize(kReceiveBuffer);
  return 0;
}

ssize_t Socket::Receive() {
  while (true) {
    ssize_t n = recv(fd_, rx_.data(), rx_.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) > rx_.size()) return -EMSGSIZE;
    return n;
  }
}

Status Socket::ResolveFamily(const std::string& name, uint16_t* id) {
  Message m(GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
  m.PutString(CTRL_ATTR_FAMILY_NAME, name);
  bool found = false;
  Status st = Request(m, [&](uint8_t, const void* attrs, size_t len) {
    Attrs a(attrs, len, CTRL_ATTR_MAX);
    if (a[CTRL_ATTR_FAMILY_ID]) {
      *id = GetU16(a[CTRL_ATTR_FAMILY_ID]);
      found = true;
    }
  });
  if (st.err == 0 && !found) st.err = ENOENT;
  return st;
}

Status Socket::Request(Message& m, const ReplyFn& on_reply) {
  // A dump ends with NLMSG_DONE (the kernel never acks one); anything else
  // ends with its ack, so ask for it.
  const bool dump = m.IsDump();
  if (!dump) m.AddFlags(NLM_F_ACK);
  const uint32_t seq = NextSeq();
  auto& bytes = m.Seal(seq);
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return {errno, ""};
  while (true) {
    ssize_t n = Receive();
    if (n < 0) return {static_cast<int>(-n), ""};
    size_t left = static_cast<size_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;  // a late answer to an earlier request
      if (h->nlmsg_type == NLMSG_ERROR) {
        Status st = AckStatus(h);
        if (st.err || !dump) return st;
        continue;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        int error = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ? *static_cast<int*>(NLMSG_DATA(h)) : 0;
        return {error < 0 ? -error : 0, ""};
      }
      if (h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) continue;
      auto* g = static_cast<const genlmsghdr*>(NLMSG_DATA(h));
      if (on_reply)
        on_reply(g->cmd, reinterpret_cast<const uint8_t*>(g) + GENL_HDRLEN, h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN));
    }
  }
}

std::vector<Status> Socket::Pipeline(std::vector<Message>& msgs) {
  std::vector<Status> out(msgs.size());
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  size_t next = 0;
  while (next < msgs.size()) {
    // One chunk: consecutive sequence numbers, so an ack finds its request by subtraction.
    const size_t first = next;
    const uint32_t first_seq = seq_ + 1;
    std::vector<iovec> iov;
    size_t bytes = 0;
    while (next < msgs.size() && iov.size() < kChunkMessages) {
      auto& m = msgs[next];
      if (!iov.empty() && bytes + m.size() > kChunkBytes) break;  // starts the next chunk
      m.AddFlags(NLM_F_ACK);
      auto& b = m.Seal(NextSeq());
      iov.push_back({const_cast<uint8_t*>(b.data()), b.size()});
      bytes += b.size();
      next++;
    }
    const size_t count = next - first;
    msghdr mh = {};
    mh.msg_name = &kernel;
    mh.msg_namelen = sizeof kernel;
    mh.msg_iov = iov.data();
    mh.msg_iovlen = iov.size();
    std::vector<bool> acked(count, false);
    size_t pending = count;
    if (sendmsg(fd_, &mh, 0) < 0) {
      int err = errno;
      for (size_t i = 0; i < count; i++) out[first + i] = {err, "not sent"};
      continue;
    }
    // The kernel handles a generic netlink send in the sender's context, so
    // every ack is queued by now; a short wait covers anything slower, and an
    // overflowing queue (ENOBUFS) loses acks, whose requests then say so.
    int lost = 0;
    while (pending) {
      pollfd p = {fd_, POLLIN, 0};
      int ready = poll(&p, 1, lost ? 0 : 1000);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        if (!lost) lost = ETIMEDOUT;
        break;
      }
      ssize_t n = Receive();
      if (n == -ENOBUFS) {
        lost = ENOBUFS;
        continue;  // drain what did make it
      }
      if (n < 0) {
        lost = static_cast<int>(-n);
        break;
      }
      size_t left = static_cast<size_t>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        uint32_t i = h->nlmsg_seq - first_seq;
        if (i >= count || acked[i]) continue;
        acked[i] = true;
        pending--;
        out[first + i] = AckStatus(h);
      }
    }
    for (size_t i = 0; i < count; i++)
      if (!acked[i]) out[first + i] = {lost ? lost : EIO, "no acknowledgement from the kernel: the outcome is unknown"};
  }
  return out;
}

}  // namespace switchyard::netlink
