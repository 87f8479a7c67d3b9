#include "etcd_lock.hpp"

#include "mutx/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <set>

namespace mutx::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// How long reaching the cluster may take when no --timeout bounds it.
constexpr auto reach_budget = std::chrono::seconds(5);

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

std::string unbase64(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// The gateway writes int64 fields as strings and leaves zero ones out.
std::int64_t int_field(const json::value& v, std::string_view name) {
  const json::object* o = v.if_object();
  if (!o) return 0;
  auto it = o->find(name);
  if (it == o->end()) return 0;
  if (const json::string* s = it->value().if_string()) {
    std::int64_t n = 0;
    std::from_chars(s->data(), s->data() + s->size(), n);
    return n;
  }
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<std::int64_t>(it->value().as_uint64());
  return 0;
}

const json::value* field(const json::value& v, std::string_view name) {
  const json::object* o = v.if_object();
  if (!o) return nullptr;
  auto it = o->find(name);
  return it == o->end() ? nullptr : &it->value();
}

std::string string_field(const json::value& v, std::string_view name) {
  const json::value* f = field(v, name);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

std::string hex64(std::int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// What one request got back: an HTTP status and its JSON body.
struct reply {
  unsigned status = 0;
  json::value body;
  int grpc_code() const { return static_cast<int>(int_field(body, "code")); }
  std::string message() const {
    std::string m = string_field(body, "message");
    return m.empty() ? "HTTP " + std::to_string(status) : m;
  }
};

// No endpoint answered (refused, reset, timed out, no leader).
struct unreachable {
  std::string why;
};

}  // namespace

struct etcd_state {
  asio::any_io_executor ex;
  etcd_url url;
  std::size_t current = 0;  // the endpoint that answered last
  long ttl = 10;
  std::chrono::milliseconds margin{1000};
  std::int64_t lease = 0;
  std::string key;
  std::int64_t fence = 0;
  clock_type::time_point deadline{};
  bool lost = false;
  std::string lost_why;
  bool closed = false;
  bool released = false;
  asio::steady_timer keepalive_timer;
  std::set<std::shared_ptr<tcp::socket>> live;  // requests in flight
  std::shared_ptr<tcp::socket> waiting;         // the lock/lock long poll
  std::size_t waiting_on = 0;                   // its endpoint

  etcd_state(asio::any_io_executor e, etcd_url u, long t)
      : ex(e), url(std::move(u)), ttl(t), keepalive_timer(e) {}

  void close_sockets() {
    for (const auto& s : live) {
      error_code ignored;
      s->close(ignored);
    }
  }
  void mark_lost(std::string why) {
    if (lost) return;
    lost = true;
    lost_why = std::move(why);
    interrupt_wait();
  }
  void interrupt_wait() {
    if (!waiting) return;
    error_code ignored;
    waiting->close(ignored);
  }
  void set_deadline(clock_type::time_point sent, std::int64_t granted_ttl) {
    const auto d = sent + std::chrono::seconds(granted_ttl) - margin;
    if (d > deadline) deadline = d;
  }
};

namespace {

using state_ptr = std::shared_ptr<etcd_state>;

// One POST to one endpoint on a connection of its own. nullopt on a
// transport failure (`why` says which); `timeout` bounds the whole request.
// Connect to `ep` and send one POST /v3/PATH. False with `why` set when
// that failed.
asio::awaitable<bool> send_request(const state_ptr& st, const etcd_endpoint& ep, tcp::socket& sock,
                                   const std::string& path, std::string body,
                                   std::optional<clock_type::duration> grpc_timeout, std::string& why) {
  error_code ec;
  std::vector<tcp::endpoint> targets;
  const auto port = static_cast<unsigned short>(std::stoul(ep.port));
  asio::ip::address addr = asio::ip::make_address(ep.host, ec);
  if (!ec) {
    targets.emplace_back(addr, port);
  } else {
    tcp::resolver resolver(st->ex);
    auto [rec, results] = co_await resolver.async_resolve(ep.host, ep.port, use_tuple);
    if (rec) {
      why = "cannot resolve " + ep.host + ": " + rec.message();
      co_return false;
    }
    for (const auto& r : results) targets.push_back(r.endpoint());
  }
  auto [cec, connected] = co_await asio::async_connect(sock, targets, use_tuple);
  (void)connected;
  if (cec) {
    why = describe(cec);
    co_return false;
  }
  http::request<http::string_body> req{http::verb::post, "/v3/" + path, 11};
  req.set(http::field::host, ep.host + ":" + ep.port);
  req.set(http::field::content_type, "application/json");
  req.keep_alive(false);
  if (grpc_timeout) {
    const auto ms = std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(*grpc_timeout).count());
    req.set("Grpc-Timeout", std::to_string(ms) + "m");
  }
  req.body() = std::move(body);
  req.prepare_payload();
  auto [wec, written] = co_await http::async_write(sock, req, use_tuple);
  (void)written;
  if (wec) {
    why = describe(wec);
    co_return false;
  }
  co_return true;
}

// A request's socket: in the state's live set (closed on a stop), the one
// interrupt_wait() closes when it is a wait, and closed by its own timer
// after `timeout`.
struct request_socket {
  state_ptr st;
  std::shared_ptr<tcp::socket> sock;
  std::shared_ptr<bool> timed_out = std::make_shared<bool>(false);
  asio::steady_timer timer;

  request_socket(state_ptr s, std::size_t ep_index, clock_type::duration timeout, bool is_wait)
      : st(std::move(s)), sock(std::make_shared<tcp::socket>(st->ex)), timer(st->ex) {
    st->live.insert(sock);
    if (is_wait) {
      st->waiting = sock;
      st->waiting_on = ep_index;
    }
    timer.expires_after(timeout);
    timer.async_wait([sock = sock, timed_out = timed_out](error_code ec) {
      if (ec) return;
      *timed_out = true;
      error_code ignored;
      sock->close(ignored);
    });
  }
  ~request_socket() {
    timer.cancel();
    st->live.erase(sock);
    if (st->waiting == sock) st->waiting.reset();
  }
  request_socket(const request_socket&) = delete;
  request_socket& operator=(const request_socket&) = delete;
};

asio::awaitable<std::optional<reply>> post_one(state_ptr st, std::size_t ep_index, std::string path, std::string body,
                                               clock_type::duration timeout, bool is_wait,
                                               std::optional<clock_type::duration> grpc_timeout, std::string& why) {
  const etcd_endpoint ep = st->url.endpoints[ep_index];
  request_socket rs(st, ep_index, timeout, is_wait);
  auto& sock = rs.sock;
  auto& timed_out = rs.timed_out;
  auto fail = [&](const error_code& ec) {
    why = *timed_out ? std::string("no answer in time") : describe(ec);
    return std::optional<reply>();
  };
  if (!co_await send_request(st, ep, *sock, path, std::move(body), grpc_timeout, why)) {
    if (*timed_out) why = "no answer in time";
    co_return std::nullopt;
  }
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  auto [rec2, got] = co_await http::async_read(*sock, buf, res, use_tuple);
  (void)got;
  if (rec2) co_return fail(rec2);
  reply r;
  r.status = res.result_int();
  json::error_code jec;
  r.body = json::parse(res.body(), jec);
  if (jec) {
    why = "HTTP " + std::to_string(r.status) + " with a body that is not JSON";
    co_return std::nullopt;
  }
  // A streaming endpoint (lease/keepalive) wraps its message in "result".
  if (const json::value* inner = field(r.body, "result")) r.body = json::value(*inner);
  co_return r;
}

// One request, failing over between endpoints from the one that answered
// last: a transport failure or "unavailable" (no leader, no quorum, a
// node shutting down) moves on. Each endpoint gets at most `per_try`,
// the whole call ends by `until`. Throws unreachable.
asio::awaitable<reply> call(state_ptr st, std::string path, std::string body, clock_type::duration per_try,
                            clock_type::time_point until) {
  std::string why = "no answer in time";
  const std::size_t n = st->url.endpoints.size();
  for (std::size_t tried = 0; tried < n; ++tried) {
    const auto now = clock_type::now();
    if (now >= until || st->closed) break;
    const std::size_t ep = (st->current + tried) % n;
    auto r = co_await post_one(st, ep, path, body, std::min(per_try, until - now), false, std::nullopt, why);
    if (st->closed) break;
    if (!r) continue;
    const int code = r->grpc_code();
    if (r->status == 503 || r->status == 502 || code == 14) {
      why = r->message();
      continue;
    }
    st->current = ep;
    co_return std::move(*r);
  }
  throw unreachable{why};
}

std::string json_text(const json::object& o) { return json::serialize(o); }

std::string lease_body(std::int64_t lease) {
  json::object o;
  o["ID"] = std::to_string(lease);
  return json_text(o);
}

clock_type::duration keepalive_interval(const etcd_state& st) { return std::chrono::milliseconds(st.ttl * 1000 / 3); }

// One keepalive: on an answer with a TTL the deadline moves on; a lease
// etcd no longer has (HTTP 200 with no TTL, or not found) is lost. No
// endpoint answering is not yet a loss: the deadline decides.
asio::awaitable<void> keepalive_once(state_ptr st, clock_type::time_point until) {
  const auto sent = clock_type::now();
  const std::int64_t lease = st->lease;
  const std::size_t before = st->current;
  try {
    reply r = co_await call(st, "lease/keepalive", lease_body(lease), keepalive_interval(*st), until);
    if (st->closed || st->lease != lease) co_return;
    const std::int64_t ttl = int_field(r.body, "TTL");
    if (r.status == 200 && ttl > 0) {
      st->set_deadline(sent, ttl);
    } else if (r.status == 200 || r.grpc_code() == 5) {
      st->mark_lost("its lease " + hex64(lease) + " expired");
    }
  } catch (const unreachable&) {
  }
  // A waiter whose endpoint stopped answering queues again elsewhere: a
  // node cut off from the majority never sees the holder's key go.
  if (st->current != before && st->waiting && st->waiting_on != st->current) st->interrupt_wait();
  if (!st->lost && clock_type::now() >= st->deadline)
    st->mark_lost("no keepalive was answered before its lease's deadline");
}

// Our key as a linearizable range sees it: its create_revision when it
// exists and carries our lease, else 0 (gone, another lease, or no
// endpoint answered by `until`).
asio::awaitable<std::int64_t> own_key_revision(state_ptr st, clock_type::time_point until) {
  json::object rq;
  rq["key"] = base64(st->key);
  try {
    reply r = co_await call(st, "kv/range", json_text(rq), std::chrono::seconds(2), until);
    if (r.status == 200 && int_field(r.body, "count") == 1)
      if (const json::value* kvs = field(r.body, "kvs"); kvs && kvs->is_array() && !kvs->as_array().empty()) {
        const json::value& kv = kvs->as_array()[0];
        if (int_field(kv, "lease") == st->lease) co_return int_field(kv, "create_revision");
      }
  } catch (const unreachable&) {
  }
  co_return 0;
}

asio::awaitable<void> keepalive_loop(state_ptr st) {
  while (!st->closed && !st->lost) {
    st->keepalive_timer.expires_after(keepalive_interval(*st));
    co_await st->keepalive_timer.async_wait(use_tuple);
    if (st->closed) co_return;
    co_await keepalive_once(st, clock_type::now() + keepalive_interval(*st));
  }
}

// On a state of its own: the lock's is closed, so that its keepalives and
// requests end.
asio::awaitable<void> revoke(state_ptr held) {
  if (held->lease == 0) co_return;
  auto st = std::make_shared<etcd_state>(held->ex, held->url, held->ttl);
  st->current = held->current;
  try {
    co_await call(st, "lease/revoke", lease_body(held->lease), std::chrono::milliseconds(700),
                  clock_type::now() + std::chrono::milliseconds(1500));
  } catch (const unreachable&) {
    // The lease ends by itself after its TTL.
  }
}

// Ends the keepalives and requests, and revokes the lease on the loop.
void close_and_revoke(const state_ptr& st) {
  if (!st || st->released) return;
  st->released = true;
  st->closed = true;
  st->keepalive_timer.cancel();
  st->close_sockets();
  asio::co_spawn(st->ex, revoke(st), asio::detached);
}

[[noreturn]] void interrupted() { throw error(failure_kind::interrupted, "Interrupted"); }

}  // namespace

etcd_url parse_etcd_url(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return error(failure_kind::io, "invalid lock URL '" + url + "': " + why,
                 "Give etcd://HOST:PORT[,HOST:PORT...][/PREFIX], such as etcd://10.0.0.1:2379,10.0.0.2:2379/mutx.");
  };
  const std::string scheme = "etcd://";
  if (url.rfind(scheme, 0) != 0) throw bad("it does not start with etcd://");
  std::string rest = url.substr(scheme.size());
  etcd_url u;
  const std::size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string prefix = rest.substr(slash);
    rest.resize(slash);
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    if (prefix != "/") u.prefix = prefix;
  }
  if (rest.empty()) throw bad("no HOST:PORT");
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t comma = rest.find(',', start);
    std::string hp = rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? rest.size() + 1 : comma + 1;
    etcd_endpoint ep;
    std::size_t colon = hp.rfind(':');
    if (!hp.empty() && hp.front() == '[') {  // [IPv6]:PORT
      std::size_t close = hp.find(']');
      if (close == std::string::npos || close + 1 >= hp.size() || hp[close + 1] != ':') throw bad("'" + hp + "' is not [ADDRESS]:PORT");
      ep.host = hp.substr(1, close - 1);
      ep.port = hp.substr(close + 2);
    } else {
      if (colon == std::string::npos || colon == 0) throw bad("'" + hp + "' is not HOST:PORT");
      ep.host = hp.substr(0, colon);
      ep.port = hp.substr(colon + 1);
    }
    unsigned long port = 0;
    auto [p, ec] = std::from_chars(ep.port.data(), ep.port.data() + ep.port.size(), port);
    if (ep.port.empty() || ec != std::errc() || p != ep.port.data() + ep.port.size() || port == 0 || port > 65535)
      throw bad("'" + ep.port + "' is not a port number");
    if (!u.hosts.empty()) u.hosts += ",";
    u.hosts += hp;
    u.endpoints.push_back(std::move(ep));
  }
  return u;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw error(failure_kind::io, "cannot compute SHA-256 (OpenSSL)");
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += digits[md[i] >> 4];
    hex += digits[md[i] & 15];
  }
  return hex;
}

void check_etcd_ttl(long ttl) {
  if (ttl < 2 || ttl > 86400)
    throw error(failure_kind::io, "invalid lock TTL " + std::to_string(ttl) + ": give 2 to 86400 seconds",
                "etcd keeps a lease at least about 2 seconds; 10 (the default) suits most clusters.");
}

namespace {

asio::awaitable<void> ask_lease(state_ptr st, std::int64_t id, std::optional<bool>* alive, std::string* why) {
  try {
    reply r = co_await call(st, "lease/timetolive", lease_body(id), std::chrono::seconds(2),
                            clock_type::now() + reach_budget);
    if (r.status != 200) {
      *why = "etcd answered " + r.message();
      co_return;
    }
    // Seen from etcd 3.4.23 (loopback cluster, the etcd suites' harness):
    // a lease that expired, one revoked and an ID never granted all answer
    // HTTP 200 {"ID":"...","TTL":"-1"}; a live one {"TTL":"1",
    // "grantedTTL":"2"}, and a TTL of 0 (about to expire) is left out.
    // Only -1 says gone.
    const json::value* ttl = field(r.body, "TTL");
    if (!field(r.body, "header")) {
      *why = "etcd answered without a header: " + json::serialize(r.body);
      co_return;
    }
    *alive = !(ttl && int_field(r.body, "TTL") == -1);
  } catch (const unreachable& u) {
    *why = u.why;
  }
}

}  // namespace

std::optional<bool> etcd_lease_alive(const etcd_url& url, std::int64_t id, std::string& why) {
  asio::io_context ctx;
  auto st = std::make_shared<etcd_state>(ctx.get_executor(), url, 10);
  std::optional<bool> alive;
  asio::co_spawn(ctx, ask_lease(st, id, &alive, &why), asio::detached);
  ctx.run();
  return alive;
}

void lost_etcd_lock(const std::string& display, const std::string& why) {
  throw error(failure_kind::locked, display + ": lost the etcd lock before the commit; nothing was changed",
              "The lock ended before this write could prove it still held it (" + why +
                  "); another writer may have the file now. Run again.")
      .with_reason(failure_reason::etcd_lock_lost);
}

etcd_lock& etcd_lock::operator=(etcd_lock&& other) noexcept {
  if (this != &other) {
    close_and_revoke(st_);
    st_ = std::move(other.st_);
  }
  return *this;
}

etcd_lock::~etcd_lock() { close_and_revoke(st_); }

std::int64_t etcd_lock::fence() const noexcept { return st_ ? st_->fence : 0; }
const std::string& etcd_lock::key() const noexcept {
  static const std::string none;
  return st_ ? st_->key : none;
}
std::string etcd_lock::lease_hex() const { return st_ ? hex64(st_->lease) : std::string(); }
std::int64_t etcd_lock::lease() const noexcept { return st_ ? st_->lease : 0; }

namespace {

// 1. A lease of our own for this attempt, its deadline, our key
// NAME_KEY/<lease hex>. Throws unreachable, or mutx::error when refused.
asio::awaitable<void> grant_lease(state_ptr cur, const etcd_lock_settings& s, const std::string& name_key,
                                  clock_type::time_point until,
                                  const std::function<void(const std::string&)>& on_debug) {
  json::object grant;
  grant["TTL"] = s.ttl;
  const auto sent = clock_type::now();
  reply g = co_await call(cur, "lease/grant", json_text(grant), std::chrono::seconds(2), until);
  if (g.status != 200)
    throw error(failure_kind::io, "etcd at " + s.url.hosts + " refused a lease: " + g.message(),
                s.target + " was not touched.");
  cur->lease = int_field(g.body, "ID");
  const std::int64_t ttl = int_field(g.body, "TTL");
  if (cur->lease == 0 || ttl <= 0)
    throw error(failure_kind::io, "etcd at " + s.url.hosts + " granted no lease (" + json::serialize(g.body) + ")");
  cur->ttl = ttl;
  cur->margin = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(1000),
                                                    std::chrono::milliseconds(ttl * 1000 / 5));
  cur->set_deadline(sent, ttl);
  cur->key = name_key + "/" + hex64(cur->lease);
  if (on_debug) on_debug("etcd lease " + hex64(cur->lease) + " granted (TTL " + std::to_string(ttl) + "s)");
}

std::string holder_hint(const std::string& name_key) {
  return "Another writer holds the etcd lock " + name_key + "; see it with: etcdctl get --prefix " + name_key + "/";
}

error timeout_error(const etcd_lock_settings& s, const std::string& name_key) {
  return error(failure_kind::locked,
               s.target + ": Lock acquisition timeout after " + seconds_text(s.wait.timeout.count()) + "s",
               holder_hint(name_key))
      .with_reason(failure_reason::lock_timeout);
}

// The first key in NAME_KEY's queue (the oldest: the holder), and the
// create_revision of ours (its place in the queue).
struct queue_head {
  std::string key;
  std::int64_t lease = 0;
  std::int64_t revision = 0;
  std::int64_t mine = 0;
};

// --no-wait's one request: put our key if absent and read the head of the
// queue, in one linearizable txn. Nullopt on a stall or an error.
asio::awaitable<std::optional<queue_head>> put_and_read_head(state_ptr cur, const std::string& name_key,
                                                             clock_type::time_point until) {
  auto head_range = [&] {
    json::object range;
    range["key"] = base64(name_key + "/");
    range["range_end"] = base64(name_key + "0");  // '/' + 1: every KEY/<lease>
    range["sort_order"] = "ASCEND";
    range["sort_target"] = "CREATE";
    range["limit"] = "1";
    json::object op;
    op["request_range"] = std::move(range);
    return op;
  };
  json::object cmp;
  cmp["target"] = "CREATE";
  cmp["key"] = base64(cur->key);
  cmp["create_revision"] = "0";
  json::object put;
  put["key"] = base64(cur->key);
  put["lease"] = std::to_string(cur->lease);
  json::object put_op;
  put_op["request_put"] = std::move(put);
  json::object txn;
  txn["compare"] = json::array{std::move(cmp)};
  txn["success"] = json::array{std::move(put_op), head_range()};
  txn["failure"] = json::array{head_range()};
  try {
    reply t = co_await call(cur, "kv/txn", json_text(txn), std::chrono::seconds(2), until);
    // A txn whose put succeeded happened at the revision our key was
    // created at; with a new lease per attempt the put always succeeds.
    const json::value* header = field(t.body, "header");
    const json::value* succeeded = field(t.body, "succeeded");
    if (t.status != 200 || !header || !succeeded || !succeeded->is_bool() || !succeeded->as_bool())
      co_return std::nullopt;
    if (const json::value* resp = field(t.body, "responses"); resp && resp->is_array())
      for (const json::value& one : resp->as_array())
        if (const json::value* rr = field(one, "response_range"))
          if (const json::value* kvs = field(*rr, "kvs"); kvs && kvs->is_array() && !kvs->as_array().empty()) {
            const json::value& kv = kvs->as_array()[0];
            co_return queue_head{unbase64(string_field(kv, "key")), int_field(kv, "lease"),
                                 int_field(kv, "create_revision"), int_field(*header, "revision")};
          }
  } catch (const unreachable&) {
  }
  co_return std::nullopt;
}

// Where we stand, in one read-only txn (linearizable, and no raft write):
// the newest key queued before ours (created before `mine`; "" when there
// is none: our turn), and our key's create_revision if it still exists
// with our lease (the proof; 0: gone). Nullopt when no endpoint answered.
struct place_in_line {
  std::string before;
  std::int64_t ours = 0;
};

asio::awaitable<std::optional<place_in_line>> look_ahead(state_ptr cur, const std::string& name_key, std::int64_t mine,
                                                         clock_type::time_point until) {
  json::object pred;
  pred["key"] = base64(name_key + "/");
  pred["range_end"] = base64(name_key + "0");
  pred["max_create_revision"] = std::to_string(mine - 1);
  pred["sort_order"] = "DESCEND";
  pred["sort_target"] = "CREATE";
  pred["limit"] = "1";
  pred["keys_only"] = true;
  json::object own;
  own["key"] = base64(cur->key);
  json::object op1, op2;
  op1["request_range"] = std::move(pred);
  op2["request_range"] = std::move(own);
  json::object txn;
  txn["success"] = json::array{std::move(op1), std::move(op2)};
  try {
    reply r = co_await call(cur, "kv/txn", json_text(txn), std::chrono::seconds(2), until);
    const json::value* resp = field(r.body, "responses");
    if (r.status != 200 || !resp || !resp->is_array() || resp->as_array().size() != 2) co_return std::nullopt;
    auto first_kv = [](const json::value& one) -> const json::value* {
      const json::value* rr = field(one, "response_range");
      const json::value* kvs = rr ? field(*rr, "kvs") : nullptr;
      return kvs && kvs->is_array() && !kvs->as_array().empty() ? &kvs->as_array()[0] : nullptr;
    };
    place_in_line p;
    if (const json::value* kv = first_kv(resp->as_array()[0])) p.before = unbase64(string_field(*kv, "key"));
    if (const json::value* kv = first_kv(resp->as_array()[1]); kv && int_field(*kv, "lease") == cur->lease)
      p.ours = int_field(*kv, "create_revision");
    co_return p;
  } catch (const unreachable&) {
  }
  co_return std::nullopt;
}

// Whether `key` exists now (a linearizable read); nullopt: no answer.
asio::awaitable<std::optional<bool>> key_exists(state_ptr cur, const std::string& key, clock_type::time_point until) {
  json::object range;
  range["key"] = base64(key);
  range["count_only"] = true;
  try {
    reply r = co_await call(cur, "kv/range", json_text(range), std::chrono::seconds(2), until);
    if (r.status == 200) co_return int_field(r.body, "count") > 0;
  } catch (const unreachable&) {
  }
  co_return std::nullopt;
}

// Wait until `key` is deleted: a watch from now (no start revision, so
// etcd counts it synced at once and sends the delete as it happens; a watch
// from an older revision, as lock/lock's own, is unsynced until etcd's
// syncWatchersLoop runs, every 100 ms (mvcc/watchable_store.go): measured,
// 50 ms per hand-off), then a read in case it went before the watch began. The gateway streams the watch's messages
// as lines of JSON. False with `why` on a stall, an error or `until`.
asio::awaitable<bool> watch_until_gone(state_ptr cur, const std::string& key, clock_type::time_point until,
                                       std::string& why) {
  const std::size_t ep_index = cur->current;
  // A wait with no --timeout is renewed daily (a timer cannot be set to
  // time_point::max).
  request_socket rs(cur, ep_index, std::min<clock_type::duration>(until - clock_type::now(), std::chrono::hours(24)),
                    true);
  json::object create;
  create["key"] = base64(key);
  json::object rq;
  rq["create_request"] = std::move(create);
  if (!co_await send_request(cur, cur->url.endpoints[ep_index], *rs.sock, "watch", json_text(rq), std::nullopt, why))
    co_return false;
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  std::size_t seen = 0;
  bool created = false;
  for (;;) {
    auto [ec, n] = co_await http::async_read_some(*rs.sock, buf, parser, use_tuple);
    (void)n;
    if (ec) {
      why = *rs.timed_out ? std::string("no answer in time") : describe(ec);
      co_return false;
    }
    if (parser.is_header_done() && parser.get().result_int() != 200) {
      why = "watch refused: HTTP " + std::to_string(parser.get().result_int());
      co_return false;
    }
    const std::string& body = parser.get().body();
    for (std::size_t nl; (nl = body.find('\n', seen)) != std::string::npos; seen = nl + 1) {
      json::error_code jec;
      json::value msg = json::parse(std::string_view(body).substr(seen, nl - seen), jec);
      const json::value* result = jec ? nullptr : field(msg, "result");
      if (!result) continue;
      if (const json::value* c = field(*result, "canceled"); c && c->is_bool() && c->as_bool()) {
        why = "the watch was cancelled";
        co_return false;
      }
      if (const json::value* events = field(*result, "events"); events && events->is_array())
        for (const json::value& ev : events->as_array())
          if (string_field(ev, "type") == "DELETE") co_return true;
      if (const json::value* c = field(*result, "created"); !created && c && c->is_bool() && c->as_bool()) {
        created = true;
        const std::optional<bool> there = co_await key_exists(cur, key, until);
        if (!there) {
          why = "no endpoint answered";
          co_return false;
        }
        if (!*there) co_return true;
      }
    }
    if (parser.is_done()) {
      why = "the watch ended";
      co_return false;
    }
  }
}

// Our turn comes when no key created before ours (`mine`) is left and
// ours is still there with our lease: returns its create_revision (the
// token). 0 when the wait must start again with a new lease: a stall, an
// error, our key gone, a lost lease (interrupt_wait closes the watch), or
// `until`.
asio::awaitable<std::int64_t> wait_turn(state_ptr cur, const std::string& name_key, std::int64_t mine,
                                        clock_type::time_point until,
                                        const std::function<void(const std::string&)>& on_debug) {
  auto give_up = [&](const std::string& why) -> std::int64_t {
    if (on_debug && !cur->closed)
      on_debug("etcd lock wait ended (" + (cur->lost ? cur->lost_why : why) + "); queueing again with a new lease");
    return 0;
  };
  for (;;) {
    const auto reach = std::min(until, clock_type::now() + reach_budget);
    const std::optional<place_in_line> at = co_await look_ahead(cur, name_key, mine, reach);
    if (!at || cur->lost || cur->closed) co_return give_up("no endpoint said who is before us");
    // A lease that expired while we waited took our key with it.
    if (at->ours == 0) co_return give_up("our key " + cur->key + " is gone");
    if (at->before.empty()) co_return at->ours;
    std::string why;
    if (!co_await watch_until_gone(cur, at->before, until, why) || cur->lost) co_return give_up(why);
  }
}

}  // namespace

asio::awaitable<etcd_lock> etcd_lock::acquire(etcd_lock_settings s, stop_source& stop, std::function<void()> on_wait,
                                               std::function<void(const std::string&)> on_debug) {
  auto ex = co_await asio::this_coro::executor;
  const auto start = clock_type::now();
  const bool limited = s.wait.how == lock_wait::policy::timeout;
  const bool no_wait = s.wait.how == lock_wait::policy::no_wait || (limited && s.wait.timeout.count() <= 0);
  const auto wait_deadline =
      limited ? start + std::chrono::duration_cast<clock_type::duration>(s.wait.timeout) : clock_type::time_point::max();
  const std::string name_key = s.url.prefix + "/" + sha256_hex(s.name);
  std::size_t preferred = 0;
  bool said_waiting = false;
  state_ptr cur;
  auto on_stop = stop.on_stop([&] {
    if (cur) cur->close_sockets();
  });

  auto timed_out = [&] { return timeout_error(s, name_key); };
  auto pause = [&](std::chrono::milliseconds d) -> asio::awaitable<void> {
    asio::steady_timer t(ex);
    t.expires_after(d);
    auto reg = stop.on_stop([&] { t.cancel(); });
    co_await t.async_wait(use_tuple);
  };

  for (;;) {
    if (stop.stop_requested()) interrupted();
    if (limited && !no_wait && clock_type::now() >= wait_deadline) throw timed_out();
    etcd_lock held;
    held.st_ = cur = std::make_shared<etcd_state>(ex, s.url, s.ttl);
    cur->current = preferred;
    const auto reach_until =
        std::min(limited && !no_wait ? wait_deadline : clock_type::time_point::max(), clock_type::now() + reach_budget);
    try {
      co_await grant_lease(cur, s, name_key, reach_until, on_debug);
    } catch (const unreachable& u) {
      if (stop.stop_requested()) interrupted();
      if (limited && !no_wait && clock_type::now() >= wait_deadline) throw timed_out();
      throw error(failure_kind::io, "cannot reach etcd at " + s.url.hosts + ": " + u.why,
                  "Check that the etcd cluster is running and that this host can reach it; " + s.target +
                      " was not touched.");
    }
    asio::co_spawn(ex, keepalive_loop(cur), asio::detached);

    // 2. Our key and the head of the queue, in one txn: ours is the lock.
    const std::optional<queue_head> head = co_await put_and_read_head(cur, name_key, reach_until);
    if (stop.stop_requested()) interrupted();
    preferred = cur->current;
    if (!head) {  // a stall or an error: queue again with a new lease
      co_await pause(std::chrono::milliseconds(50));
      continue;
    }
    if (head->key == cur->key && head->lease == cur->lease && head->revision > 0 && !cur->lost &&
        clock_type::now() < cur->deadline) {
      cur->fence = head->revision;
      co_return held;
    }
    if (no_wait)
      throw error(failure_kind::locked, s.target + ": File locked by another writer (etcd)", holder_hint(name_key))
          .with_reason(failure_reason::lock_busy);

    // 3. Wait in line as etcd's own lock does (etcdctl lock queues in the
    // same line): until every key queued before ours is gone, watching the
    // newest of them; bounded by --timeout.
    // Its end is proven by a linearizable read showing our key, with our
    // lease, first in line.
    if (!said_waiting && on_wait) on_wait();
    said_waiting = true;
    cur->fence =
        co_await wait_turn(cur, name_key, head->mine, limited ? wait_deadline : clock_type::time_point::max(), on_debug);
    if (stop.stop_requested()) interrupted();
    if (cur->fence > 0 && !cur->lost && clock_type::now() < cur->deadline) co_return held;
    if (limited && clock_type::now() >= wait_deadline) throw timed_out();
    preferred = cur->current;
    co_await pause(std::chrono::milliseconds(50));
  }
}

asio::awaitable<void> etcd_lock::confirm(const std::string& display, stop_source& stop) {
  state_ptr st = st_;
  if (!st) co_return;
  auto on_stop = stop.on_stop([st] { st->close_sockets(); });
  if (st->lost) lost_etcd_lock(display, st->lost_why);
  check_deadline(display);
  // A keepalive answered now, and a linearizable read of our key (same
  // create_revision, our lease), both at once.
  using namespace asio::experimental::awaitable_operators;
  const std::int64_t revision = co_await (keepalive_once(st, st->deadline) && own_key_revision(st, st->deadline));
  if (stop.stop_requested()) interrupted();
  if (st->lost) lost_etcd_lock(display, st->lost_why);
  if (revision != st->fence)
    lost_etcd_lock(display, revision == 0 && clock_type::now() < st->deadline
                                ? "its key " + st->key + " is gone, or no etcd endpoint confirmed it"
                                : "no etcd endpoint confirmed its key before the lease's deadline");
  check_deadline(display);
}

void etcd_lock::check_deadline(const std::string& display) const {
  if (st_ && clock_type::now() >= st_->deadline)
    lost_etcd_lock(display, "its lease's deadline passed: no keepalive was answered in time");
}

}  // namespace mutx::detail
