// HttpClient: k6 request semantics on top of the loop's curl multi handle.
//
// Each in-flight request owns a Slot: a reusable easy handle plus the state of its current hop.
// Redirects are followed here rather than by curl, so every hop is a transfer of its own with
// its own timings and byte counts, as k6 reports them. Completion callbacks run on the loop (not
// on the fiber); they only record the result and unpark the waiting fiber, which then reads the
// transfer's info, decides about redirects and starts the next hop or request.
#include "agent/loop/http.h"

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <tuple>

#include "absl/container/inlined_vector.h"
#include "agent/loop/loop.h"
#include "agent/loop/loop_impl.h"
#include "common/logging.h"

namespace volley::loop {
namespace {

// RFC 9110 token characters, the only ones Go canonicalizes header names over.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

// Canonicalizes in place; returns false (leaving `name` as it was) if it is not a token.
bool CanonicalizeInPlace(std::string& name) {
  for (char c : name) {
    if (!kTokenChars[static_cast<unsigned char>(c)]) return false;
  }
  bool upper = true;
  for (char& c : name) {
    if (upper && c >= 'a' && c <= 'z') {
      c -= 'a' - 'A';
    } else if (!upper && c >= 'A' && c <= 'Z') {
      c += 'a' - 'A';
    }
    upper = c == '-';
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
    if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

struct UrlParts {
  std::string_view scheme;
  std::string_view authority;  // host[:port], without userinfo
  std::string_view host;       // without port (and without IPv6 brackets' port)
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts parts;
  std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) return parts;
  parts.scheme = url.substr(0, colon);
  std::string_view rest = url.substr(colon + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  parts.authority = authority;
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (std::size_t c = host.rfind(':'); c != std::string_view::npos) {
    host = host.substr(0, c);
  }
  parts.host = host;
  return parts;
}

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  }
  return out;
}

// k6 `hosts` entry → one CURLOPT_CONNECT_TO line ("HOST:PORT:CONNECT-HOST:CONNECT-PORT", empty
// parts meaning "any" / "same"). The Host header and SNI keep the name from the URL.
// "name:port" or "[v6]:port", not a bare name or a bare IPv6 address.
bool HasPort(std::string_view name) {
  if (name.starts_with("[")) return name.find("]:") != std::string_view::npos;
  return std::count(name.begin(), name.end(), ':') == 1;
}

std::string ConnectToLine(std::string_view name, std::string_view target) {
  auto split = [](std::string_view s, std::string_view* host, std::string_view* port) {
    if (!s.empty() && s.front() == '[') {  // [v6]:port
      std::size_t close = s.find(']');
      *host = s.substr(0, close + 1);
      std::string_view rest = s.substr(close + 1);
      *port = rest.starts_with(":") ? rest.substr(1) : std::string_view();
      return;
    }
    std::size_t first = s.find(':');
    if (first != std::string_view::npos && s.find(':', first + 1) != std::string_view::npos) {
      *host = s;  // bare IPv6 address, no port
      *port = {};
      return;
    }
    *host = s.substr(0, first);
    *port = first == std::string_view::npos ? std::string_view() : s.substr(first + 1);
  };
  std::string_view name_host, name_port, to_host, to_port;
  split(name, &name_host, &name_port);
  split(target, &to_host, &to_port);
  std::string line;
  line.append(name_host).append(":").append(name_port).append(":");
  bool bare_v6 = to_host.find(':') != std::string_view::npos && !to_host.starts_with("[");
  if (bare_v6) line.append("[");
  line.append(to_host);
  if (bare_v6) line.append("]");
  line.append(":").append(to_port);
  return line;
}

bool IsRedirectStatus(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool SendsBody(const std::string& method, const std::string& body) {
  return !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
}

double UsToMs(curl_off_t us) { return static_cast<double>(us) / 1000.0; }

struct Batch;

// One easy handle and the state of the request hop it currently carries.
struct Slot : CurlWaiter {
  Loop* loop = nullptr;
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  bool in_use = false;
  bool in_multi = false;
  Batch* batch = nullptr;

  // The request being carried and where its result goes.
  const HttpRequest* request = nullptr;
  HttpResponse* out = nullptr;
  std::size_t host_index = 0;  // into the batch's per-host counters

  // The current hop.
  std::string method;
  std::string url;
  bool send_body = false;
  bool body_with_headers = false;  // CURLOPT_POSTFIELDS: the body leaves with the headers
  bool drop_content_headers = false;    // after a 301/302/303 turned the request into a GET
  bool drop_sensitive_headers = false;  // after a redirect to another host
  std::string referer;
  int hops = 0;
  std::size_t body_pos = 0;
  bool body_done = false;
  // The hop's points on the loop's clock, for k6's timing phases (see FinishHop).
  Clock::time_point added_at;         // handed to curl
  Clock::time_point conn_ready_at;    // a connection in hand, the request about to go out
  Clock::time_point body_done_at;     // the last body byte handed to curl
  Clock::time_point first_header_at;  // the first response header line
  Clock::time_point last_data_at;     // the last response bytes
  Clock::time_point finished_at;
  bool https = false;
  bool saw_body = false;
  std::string tls_version;
  CURLcode result = CURLE_OK;

  // Request header storage, reused across requests to avoid allocations.
  std::vector<std::string> header_lines;
  std::vector<curl_slist> header_nodes;

  // Cookies of the hop beyond the jar's: the user's Cookie header and params.cookies, which
  // curl appends to the jar's cookies in one Cookie header (CURLOPT_COOKIE).
  std::string cookie_line;
  bool cookie_opt_set = false;
  // Jar cookies taken out of the jar while the hop runs because a request cookie has their
  // name (see HideJarCookies); they go back when it ends.
  std::vector<JarCookie> hidden_cookies;
};

// Small vectors of a batch live on the fiber's stack: a single request (the common case)
// allocates nothing for its bookkeeping.
template <typename T>
using SmallVector = absl::InlinedVector<T, 4>;

struct Batch {
  Fiber* fiber = nullptr;
  SmallVector<Slot*> completed;
};

void OnTransferDone(CurlWaiter* waiter, CURLcode result) {
  auto* slot = static_cast<Slot*>(waiter);
  slot->in_multi = false;
  slot->result = result;
  slot->finished_at = Clock::now();
  slot->batch->completed.push_back(slot);
  slot->loop->Unpark(slot->batch->fiber);
}

size_t WriteBody(char* data, size_t size, size_t count, void* userp) {
  auto* slot = static_cast<Slot*>(userp);
  slot->last_data_at = Clock::now();
  std::size_t len = size * count;
  if (slot->request->discard_body) return len;
  if (!slot->saw_body) {
    slot->saw_body = true;
    curl_off_t length = -1;
    curl_easy_getinfo(slot->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length > 0 && length < (64 << 20)) slot->out->body.reserve(length);
  }
  slot->out->body.append(data, len);
  return len;
}

const char* TlsVersionTag(int version) {
  switch (version) {
    case TLS1_3_VERSION:
      return "tls1.3";
    case TLS1_2_VERSION:
      return "tls1.2";
    case TLS1_1_VERSION:
      return "tls1.1";
    case TLS1_VERSION:
      return "tls1.0";
    default:
      return "";
  }
}

// curl calls it once the connection (new or reused) is ready, right before the request goes out.
int ConnectionReady(void* userp, char*, char*, int, int) {
  static_cast<Slot*>(userp)->conn_ready_at = Clock::now();
  return CURL_PREREQFUNC_OK;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* userp) {
  auto* slot = static_cast<Slot*>(userp);
  slot->last_data_at = Clock::now();
  std::size_t len = size * count;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    if (slot->first_header_at == Clock::time_point{}) slot->first_header_at = slot->last_data_at;
    // A new header block (an interim 1xx response came before): keep only the last one.
    slot->out->raw_headers.clear();
    if (slot->https && slot->tls_version.empty()) {
      curl_tlssessioninfo* info = nullptr;
      if (curl_easy_getinfo(slot->easy, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK &&
          info != nullptr && info->backend == CURLSSLBACKEND_OPENSSL &&
          info->internals != nullptr) {
        slot->tls_version = TlsVersionTag(SSL_version(static_cast<SSL*>(info->internals)));
      }
    }
    return len;
  }
  if (slot->saw_body) return len;  // trailers: k6 does not list them with the headers
  if (line.find(':') == std::string_view::npos) return len;  // the blank line, or garbage
  // One append per line; the fields are parsed only if the script reads them (ParseHeaders).
  std::string& raw = slot->out->raw_headers;
  if (raw.capacity() < 512) raw.reserve(512);
  raw.append(line);
  if (!line.ends_with('\n')) raw.append("\r\n");
  return len;
}

// Whether any variable that curl (and Go, hence k6) takes a proxy from is set. Read once: the
// environment does not change under a running test.
bool ProxyFromEnvironment() {
  static const bool any = [] {
    for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                             "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
      const char* value = std::getenv(name);
      if (value != nullptr && value[0] != '\0') return true;
    }
    return false;
  }();
  return any;
}

size_t ReadBody(char* buffer, size_t size, size_t count, void* userp) {
  auto* slot = static_cast<Slot*>(userp);
  const std::string& body = slot->request->body;
  std::size_t n = std::min(body.size() - slot->body_pos, size * count);
  std::memcpy(buffer, body.data() + slot->body_pos, n);
  slot->body_pos += n;
  if (slot->body_pos == body.size() && !slot->body_done) {
    slot->body_done = true;
    slot->body_done_at = Clock::now();
  }
  return n;
}

int SeekBody(void* userp, curl_off_t offset, int origin) {
  auto* slot = static_cast<Slot*>(userp);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<std::size_t>(offset) > slot->request->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  slot->body_pos = static_cast<std::size_t>(offset);
  slot->body_done = false;
  return CURL_SEEKFUNC_OK;
}

// Fills error_code/error from a failed transfer, with k6's codes.
void SetTransportError(Slot* slot, HttpResponse* r) {
  CURL* e = slot->easy;
  long os_errno = 0;
  curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
  const char* detail = slot->error[0] != '\0' ? slot->error : curl_easy_strerror(slot->result);
  auto set = [r](int code, std::string text) {
    r->error_code = code;
    r->error = std::move(text);
  };

  switch (slot->result) {
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connected_us = 0;
      curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connected_us);
      long new_connections = 0;
      curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &new_connections);
      curl_off_t pretransfer_us = 0;
      curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
      if (connected_us == 0 && pretransfer_us == 0) {
        set(1211, "dial: i/o timeout");
      } else {
        set(1050, "request timeout");
      }
      break;
    }
    case CURLE_COULDNT_CONNECT:
      if (os_errno == ECONNREFUSED) {
        set(1212, "dial: connection refused");
      } else if (os_errno == ETIMEDOUT) {
        set(1211, "dial: i/o timeout");
      } else if (os_errno != 0) {
        set(1213, "dial: errno " + std::to_string(os_errno) + ": " + std::strerror(os_errno));
      } else {
        set(1210, std::string("dial: ") + detail);
      }
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
      set(1101, "lookup " + std::string(SplitUrl(slot->url).host) + ": no such host");
      break;
    case CURLE_COULDNT_RESOLVE_PROXY:
      set(1100, std::string("lookup: ") + detail);
      break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: {
      const char* op = slot->result == CURLE_SEND_ERROR ? "write" : "read";
      if (os_errno == ECONNRESET) {
        set(1220, std::string(op) + ": connection reset by peer");
      } else if (os_errno == EPIPE) {
        set(1201, std::string(op) + ": broken pipe");
      } else {
        set(1200, std::string(op) + ": " + detail);
      }
      break;
    }
    case CURLE_GOT_NOTHING:
      set(1000, "EOF");
      break;
    case CURLE_PEER_FAILED_VERIFICATION: {
      long verify = 0;
      curl_easy_getinfo(e, CURLINFO_SSL_VERIFYRESULT, &verify);
      // curl checks the host name itself after OpenSSL accepted the chain, so a clean verify
      // result with this error means the name did not match.
      if (verify == 0 || verify == 62 /* X509_V_ERR_HOSTNAME_MISMATCH */) {
        set(1311, "x509: certificate is not valid for this host name");
      } else if (verify == 2 || (verify >= 18 && verify <= 21)) {
        set(1310, "x509: certificate signed by unknown authority");
      } else {
        set(1300, std::string("tls: ") + detail);
      }
      break;
    }
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
      set(1300, std::string("tls: ") + detail);
      break;
    case CURLE_HTTP2:
      set(1600, std::string("http2: ") + detail);
      break;
    case CURLE_HTTP2_STREAM:
      set(1630, std::string("http2: ") + detail);
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      set(1020, "invalid URL: " + slot->url);
      break;
    case CURLE_BAD_CONTENT_ENCODING:
      set(1701, std::string("decompression: ") + detail);
      break;
    default:
      set(1000, detail);
      break;
  }
}

}  // namespace

std::string CanonicalHeaderKey(std::string_view name) {
  std::string out(name);
  CanonicalizeInPlace(out);
  return out;
}

HeaderList ParseHeaders(std::string_view raw_headers) {
  HeaderList headers;
  while (!raw_headers.empty()) {
    std::size_t end = raw_headers.find('\n');
    std::string_view line = raw_headers.substr(0, end);
    raw_headers.remove_prefix(end == std::string_view::npos ? raw_headers.size() : end + 1);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto& header = headers.emplace_back(std::piecewise_construct,
                                        std::forward_as_tuple(Trim(line.substr(0, colon))),
                                        std::forward_as_tuple(Trim(line.substr(colon + 1))));
    CanonicalizeInPlace(header.first);
  }
  return headers;
}

// Bodies up to this size go out with the request's headers (curl's limit for that).
constexpr std::size_t kBodyWithHeadersMax = 64 * 1024;

struct HttpClient::Impl {
  Impl(Loop* l, HttpClientOptions o) : loop(l), loop_impl(l->impl()), options(std::move(o)) {
    EnsureCurlGlobalInit();
    // The client's own connection cache (k6 keeps one pool per VU). An easy handle with this
    // share takes connections from it instead of the multi handle's cache, while the transfers
    // are still driven by the loop's multi handle. No lock callbacks: the share is only touched
    // from the loop's thread (its fibers and its curl callbacks), and with none set curl does
    // not lock at all. DNS stays in the multi handle, shared by the loop's clients, as k6's
    // resolver cache is shared by all VUs. TLS sessions are not resumed at all (see below).
    // The share also holds the client's cookie jar (k6's per-VU jar): Set-Cookie of any
    // response, redirect hops included, goes out again on later requests of this client.
    share = curl_share_init();
    if (share == nullptr ||
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) != CURLSHE_OK) {
      LoopInvariantFailed("curl share with a connection cache could not be created");
    }
    // curl takes the first CONNECT_TO line that matches; k6 looks up "name:port" before
    // "name", so the lines with a port go first.
    for (bool with_port : {true, false}) {
      for (const auto& [name, target] : options.hosts) {
        if (HasPort(name) != with_port) continue;
        connect_to = curl_slist_append(connect_to, ConnectToLine(name, target).c_str());
      }
    }
    // Headers curl would add by itself but Go's client (hence k6) does not send.
    static const char* const kSuppressed[] = {"Expect:", "Accept:", "Content-Type:"};
    for (std::size_t i = 0; i < std::size(kSuppressed); ++i) {
      suppressed[i].data = const_cast<char*>(kSuppressed[i]);
      suppressed[i].next = i + 1 < std::size(kSuppressed) ? &suppressed[i + 1] : nullptr;
    }
    // User-Agent and Accept-Encoding go out as prebuilt custom header lines rather than through
    // CURLOPT_USERAGENT / the Accept-Encoding line of CURLOPT_ACCEPT_ENCODING, which curl
    // formats anew for every request (about a third of its per-request work on a small GET).
    // CURLOPT_ACCEPT_ENCODING stays set: it is what turns decoding on.
    accept_encoding_line = "Accept-Encoding: gzip, deflate, br";
    accept_encoding.data = accept_encoding_line.data();
    accept_encoding.next = &suppressed[0];
    if (!options.user_agent.empty()) {
      user_agent_line = "User-Agent: " + options.user_agent;
      user_agent_then_encoding.data = user_agent_line.data();
      user_agent_then_encoding.next = &accept_encoding;
      user_agent_alone.data = user_agent_line.data();
      user_agent_alone.next = &suppressed[0];
    }
  }

  // The fixed part of the header list, given which of the defaults the request overrides.
  curl_slist* FixedHeaders(bool own_user_agent, bool own_accept_encoding) {
    bool add_user_agent = !own_user_agent && !options.user_agent.empty();
    if (add_user_agent) return own_accept_encoding ? &user_agent_alone : &user_agent_then_encoding;
    return own_accept_encoding ? &suppressed[0] : &accept_encoding;
  }

  ~Impl() {
    for (auto& slot : slots) {
      if (slot->in_multi) loop_impl->RemoveEasy(slot->easy);
      curl_easy_cleanup(slot->easy);
    }
    if (jar_easy != nullptr) curl_easy_cleanup(jar_easy);
    // Last, once no easy handle refers to it (curl refuses while one does): closes the
    // client's idle connections. Their sockets already left the loop's epoll set when their
    // last transfer was removed from the multi handle.
    if (curl_share_cleanup(share) != CURLSHE_OK) {
      LoopInvariantFailed("curl share still in use when its HttpClient went away");
    }
    curl_slist_free_all(connect_to);
  }

  Slot* AcquireSlot(Batch* batch);
  // An easy handle on the client's share that is never in the multi handle, for the jar calls.
  CURL* JarHandle();
  std::vector<JarCookie> JarCookies();
  // k6 sends a request's own cookies before the jar's cookies of the same name (and with
  // `replace`, instead of them), while curl always writes the jar's first. So for the length of
  // the hop the jar's cookies with a request cookie's name leave the jar: `replace` ones stay
  // out, the others go out after the request's cookie in slot->cookie_line.
  // TODO(cookies): a concurrent request of the same http.batch to that URL misses them too.
  void HideJarCookies(Slot* slot);
  // Puts the hidden cookies back, except those the hop's response set or deleted itself.
  void RestoreHiddenCookies(Slot* slot, std::string_view response_headers);
  void StartHop(Slot* slot);
  // Reads a finished hop into its response. Returns true when a redirect hop was started.
  bool FinishHop(Slot* slot);
  void Execute(const HttpRequest* requests, std::size_t n, HttpResponse* responses);

  Loop* loop;
  Loop::Impl* loop_impl;
  HttpClientOptions options;
  CURLSH* share = nullptr;  // this client's connection cache; outlives every slot's easy handle
  std::vector<std::unique_ptr<Slot>> slots;
  curl_slist* connect_to = nullptr;
  curl_slist suppressed[3];
  std::string accept_encoding_line;
  std::string user_agent_line;
  curl_slist accept_encoding{};
  curl_slist user_agent_then_encoding{};
  curl_slist user_agent_alone{};
  CURL* jar_easy = nullptr;
};

Slot* HttpClient::Impl::AcquireSlot(Batch* batch) {
  Slot* slot = nullptr;
  for (auto& s : slots) {
    if (!s->in_use) {
      slot = s.get();
      break;
    }
  }
  if (slot == nullptr) {
    auto fresh = std::make_unique<Slot>();
    slot = fresh.get();
    slot->on_done = &OnTransferDone;
    slot->loop = loop;
    CURL* e = curl_easy_init();
    if (e == nullptr) LoopInvariantFailed("curl_easy_init failed");
    slot->easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, static_cast<CurlWaiter*>(slot));
    curl_easy_setopt(e, CURLOPT_SHARE, share);
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");  // the cookie engine on, no file
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, slot->error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, slot);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &WriteHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, slot);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &ConnectionReady);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, slot);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(e, CURLOPT_READDATA, slot);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &SeekBody);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, slot);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl can decode
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // k6 resumes no TLS sessions (its VUs' tls.Config has no session cache): every new
    // connection does a full handshake, and http_req_tls_handshaking shows it.
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    if (options.insecure_skip_tls_verify) {
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (connect_to != nullptr) curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to);
    if (options.no_connection_reuse) {
      curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (!ProxyFromEnvironment()) {
      // No proxy variables: say so once, or curl looks each of them up again for every
      // transfer (a walk over the environment per name).
      curl_easy_setopt(e, CURLOPT_PROXY, "");
      curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    slots.push_back(std::move(fresh));
  }
  slot->in_use = true;
  slot->batch = batch;
  return slot;
}

CURL* HttpClient::Impl::JarHandle() {
  if (jar_easy == nullptr) {
    jar_easy = curl_easy_init();
    if (jar_easy == nullptr) LoopInvariantFailed("curl_easy_init failed");
    curl_easy_setopt(jar_easy, CURLOPT_SHARE, share);
  }
  return jar_easy;
}

std::vector<JarCookie> HttpClient::Impl::JarCookies() {
  std::vector<JarCookie> cookies;
  curl_slist* lines = nullptr;
  if (curl_easy_getinfo(JarHandle(), CURLINFO_COOKIELIST, &lines) != CURLE_OK) return cookies;
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  for (curl_slist* l = lines; l != nullptr; l = l->next) {
    std::optional<JarCookie> c = ParseNetscapeLine(l->data);
    // curl drops expired cookies lazily; a deleted one may still be listed.
    if (c && (c->expires_s == 0 || c->expires_s > now)) cookies.push_back(std::move(*c));
  }
  curl_slist_free_all(lines);
  return cookies;
}

void HttpClient::Impl::HideJarCookies(Slot* slot) {
  const HttpRequest& req = *slot->request;
  for (JarCookie& c : JarCookies()) {
    auto own = std::find_if(req.cookies.begin(), req.cookies.end(),
                            [&](const RequestCookie& rc) { return rc.name == c.name; });
    if (own == req.cookies.end() || !CookieMatchesUrl(c, slot->url)) continue;
    if (!own->replace) {
      slot->cookie_line.append("; ").append(c.name).append("=").append(c.value);
    }
    JarCookie gone = c;
    gone.expires_s = 1;
    curl_easy_setopt(JarHandle(), CURLOPT_COOKIELIST, NetscapeLine(gone).c_str());
    slot->hidden_cookies.push_back(std::move(c));
  }
}

void HttpClient::Impl::RestoreHiddenCookies(Slot* slot, std::string_view response_headers) {
  if (slot->hidden_cookies.empty()) return;
  std::vector<std::string> set_by_response;
  for (const auto& [name, value] : ParseHeaders(response_headers)) {
    if (name != "Set-Cookie") continue;
    if (std::optional<loop::SetCookie> c = ParseSetCookie(value))
      set_by_response.push_back(c->name);
  }
  for (const JarCookie& c : slot->hidden_cookies) {
    if (std::find(set_by_response.begin(), set_by_response.end(), c.name) !=
        set_by_response.end()) {
      continue;
    }
    curl_easy_setopt(JarHandle(), CURLOPT_COOKIELIST, NetscapeLine(c).c_str());
  }
  slot->hidden_cookies.clear();
}

void HttpClient::Impl::StartHop(Slot* slot) {
  CURL* e = slot->easy;
  const HttpRequest& req = *slot->request;
  slot->error[0] = '\0';
  slot->body_pos = 0;
  slot->body_done = false;
  slot->body_with_headers = false;
  slot->saw_body = false;
  slot->tls_version.clear();
  slot->https =
      slot->url.size() > 5 && EqualsIgnoreCase(std::string_view(slot->url).substr(0, 6), "https:");

  curl_easy_setopt(e, CURLOPT_URL, slot->url.c_str());
  if (slot->method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, nullptr);
  } else if (slot->send_body) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    // A small body goes out with the headers, in one write (curl does so for POSTFIELDS up to
    // 64 KB); through the read callback it would wait for the next loop turn, which k6's
    // http_req_sending does not count. Larger bodies stream through ReadBody.
    const bool with_headers = req.body.size() <= kBodyWithHeadersMax;
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, with_headers ? req.body.data() : nullptr);
    slot->body_with_headers = with_headers;
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     slot->method == "POST" ? nullptr : slot->method.c_str());
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     slot->method == "GET" ? nullptr : slot->method.c_str());
  }
  long timeout_ms = req.timeout_s > 0 ? static_cast<long>(req.timeout_s * 1000.0 + 0.5) : 0L;
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  // Wait for a connection being set up to the same host rather than opening another one, so
  // concurrent HTTP/2 requests share a connection. Only TLS can negotiate HTTP/2 here.
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, slot->https ? 1L : 0L);

  // Headers: the request's own, adjusted for the hop, followed by the fixed suppressions.
  std::size_t n = 0;
  auto next_line = [&]() -> std::string& {
    if (slot->header_lines.size() <= n) slot->header_lines.emplace_back();
    std::string& line = slot->header_lines[n++];
    line.clear();
    return line;
  };
  bool own_user_agent = false, own_accept_encoding = false;
  slot->cookie_line.clear();
  for (const auto& [name, value] : req.headers) {
    if (EqualsIgnoreCase(name, "Content-Length")) continue;  // curl computes it
    if (EqualsIgnoreCase(name, "Cookie")) {
      // As its own header line it would go out next to curl's Cookie header from the jar.
      if (slot->hops == 0 && !value.empty()) {
        if (!slot->cookie_line.empty()) slot->cookie_line.append("; ");
        slot->cookie_line.append(value);
      }
      continue;
    }
    own_user_agent = own_user_agent || EqualsIgnoreCase(name, "User-Agent");
    own_accept_encoding = own_accept_encoding || EqualsIgnoreCase(name, "Accept-Encoding");
    if (slot->drop_content_headers && EqualsIgnoreCase(name, "Content-Type")) continue;
    if (slot->drop_sensitive_headers &&
        (EqualsIgnoreCase(name, "Authorization") || EqualsIgnoreCase(name, "Cookie") ||
         EqualsIgnoreCase(name, "Cookie2") || EqualsIgnoreCase(name, "Www-Authenticate"))) {
      continue;
    }
    if (!slot->referer.empty() && EqualsIgnoreCase(name, "Referer")) continue;
    std::string& line = next_line();
    line.append(name);
    if (value.empty()) {
      line.append(";");  // curl's spelling of "send this header with an empty value"
    } else {
      line.append(": ").append(value);
    }
  }
  if (!slot->referer.empty()) next_line().append("Referer: ").append(slot->referer);
  curl_slist* fixed = FixedHeaders(own_user_agent, own_accept_encoding);
  slot->header_nodes.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    slot->header_nodes[i].data = slot->header_lines[i].data();
    slot->header_nodes[i].next = i + 1 < n ? &slot->header_nodes[i + 1] : fixed;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, n > 0 ? &slot->header_nodes[0] : fixed);

  // Cookies beyond the jar's. Requests without any leave CURLOPT_COOKIE alone.
  if (!req.cookies.empty()) {
    for (const RequestCookie& c : req.cookies) {
      if (!slot->cookie_line.empty()) slot->cookie_line.append("; ");
      slot->cookie_line.append(CookiePair(c.name, c.value));
    }
    HideJarCookies(slot);
  }
  if (!slot->cookie_line.empty()) {
    curl_easy_setopt(e, CURLOPT_COOKIE, slot->cookie_line.c_str());
    slot->cookie_opt_set = true;
  } else if (slot->cookie_opt_set) {
    curl_easy_setopt(e, CURLOPT_COOKIE, nullptr);
    slot->cookie_opt_set = false;
  }

  slot->in_multi = true;
  slot->conn_ready_at = slot->first_header_at = slot->last_data_at = Clock::time_point{};
  slot->added_at = Clock::now();
  loop_impl->AddEasy(e);
}

bool HttpClient::Impl::FinishHop(Slot* slot) {
  CURL* e = slot->easy;
  HttpResponse& r = *slot->out;
  RestoreHiddenCookies(slot, r.raw_headers);
  r.url = slot->url;
  r.tls_version = slot->tls_version;

  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  long version = 0;
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
  switch (version) {
    case CURL_HTTP_VERSION_1_0:
      r.proto = "HTTP/1.0";
      break;
    case CURL_HTTP_VERSION_1_1:
      r.proto = "HTTP/1.1";
      break;
    case CURL_HTTP_VERSION_2_0:
      r.proto = "HTTP/2.0";
      break;
    case CURL_HTTP_VERSION_3:
      r.proto = "HTTP/3.0";
      break;
    default:
      r.proto.clear();
  }
  char* ip = nullptr;
  curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip);
  if (ip != nullptr) r.remote_ip = ip;
  long port = 0;
  curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port);
  r.remote_port = static_cast<int>(port);

  // Bytes on the wire (TLS framing aside).
  long request_size = 0, header_size = 0;
  curl_off_t uploaded = 0, downloaded = 0;
  curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &uploaded);
  curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &header_size);
  curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &downloaded);
  r.bytes_sent = static_cast<std::uint64_t>(request_size + uploaded);
  r.bytes_received = static_cast<std::uint64_t>(header_size + downloaded);

  // Timings, as k6's phases: blocked until a connection is in hand (DNS, connect and TLS
  // included for a new one), connecting and tls_handshaking for new connections only, sending
  // until the request is written, waiting until the first response byte, receiving until the
  // last. The points are taken on the loop's clock in curl's callbacks: curl's own
  // PRETRANSFER_TIME is sometimes recorded only once the response is in (seen with 7.88 on
  // reused connections), which moved the server's time from waiting into blocked. curl's
  // offsets still give the connect and TLS spans, which are differences of its own points.
  curl_off_t connect_us = 0, namelookup_us = 0, appconnect_us = 0;
  long new_connections = 0;
  curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &namelookup_us);
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &appconnect_us);
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &new_connections);
  HttpTimings& t = r.timings;
  t = HttpTimings{};
  if (new_connections > 0 && connect_us > 0) {
    t.connecting = UsToMs(std::max<curl_off_t>(0, connect_us - namelookup_us));
    if (appconnect_us > connect_us) t.tls_handshaking = UsToMs(appconnect_us - connect_us);
  }
  const Clock::time_point none{};
  if (slot->conn_ready_at != none) {
    auto ms = [](Clock::duration d) {
      return std::max(0.0, std::chrono::duration<double, std::milli>(d).count());
    };
    const Clock::time_point ready = slot->conn_ready_at;
    // A transfer cut before any response (timeout, reset) waits until it ended.
    const Clock::time_point first =
        slot->first_header_at != none ? slot->first_header_at : slot->finished_at;
    const Clock::time_point last = slot->last_data_at != none && slot->last_data_at > first
                                       ? slot->last_data_at
                                       : first;
    t.blocked = ms(ready - slot->added_at);
    // curl has no "request written" point; the last body byte handed to it is the closest. A
    // body sent with the headers is written as the request leaves.
    if (slot->body_done && !slot->body_with_headers) {
      t.sending = ms(std::clamp(slot->body_done_at, ready, first) - ready);
    }
    t.waiting = ms(first - ready) - t.sending;
    t.receiving = ms(last - first);
    t.duration = t.sending + t.waiting + t.receiving;
  }

  if (slot->result != CURLE_OK) {
    r.status = 0;
    r.body.clear();
    SetTransportError(slot, &r);
    return false;
  }
  r.status = static_cast<int>(status);
  r.error_code = status >= 400 ? static_cast<int>(1000 + status) : 0;
  r.error.clear();

  if (!IsRedirectStatus(status)) return false;
  char* location = nullptr;
  curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &location);
  if (location == nullptr) return false;  // a 3xx without Location is a final response
  if (slot->hops >= slot->request->max_redirects) {
    static std::atomic<int> stopped{0};
    if (stopped.fetch_add(1) == 0) {
      Log("http")->warn(
          "stopped after {} redirects and returned the redirect response; raise the request's "
          "redirects option (or maxRedirects) to follow more (logged once)",
          slot->request->max_redirects);
    }
    return false;
  }

  // Follow: this hop becomes history, the response object starts over for the next one.
  std::string next_url = location;
  HttpResponse hop = std::move(r);
  r = HttpResponse{};
  r.redirects = std::move(hop.redirects);
  hop.redirects.clear();
  r.redirects.push_back(std::move(hop));

  if (status == 301 || status == 302 || status == 303) {
    if (slot->method != "GET" && slot->method != "HEAD") {
      slot->method = "GET";
      slot->drop_content_headers = true;
    }
    slot->send_body = false;
  }
  UrlParts from = SplitUrl(slot->url);
  UrlParts to = SplitUrl(next_url);
  UrlParts origin = SplitUrl(slot->request->url);
  std::string to_host = LowerCopy(to.host);
  std::string origin_host = LowerCopy(origin.host);
  bool same_or_sub = to_host == origin_host ||
                     (to_host.size() > origin_host.size() && to_host.ends_with(origin_host) &&
                      to_host[to_host.size() - origin_host.size() - 1] == '.');
  slot->drop_sensitive_headers = !same_or_sub;
  bool downgrade = EqualsIgnoreCase(from.scheme, "https") && EqualsIgnoreCase(to.scheme, "http");
  slot->referer = downgrade ? std::string() : slot->url.substr(0, slot->url.find('#'));
  slot->url = std::move(next_url);
  ++slot->hops;
  StartHop(slot);
  return true;
}

void HttpClient::Impl::Execute(const HttpRequest* requests, std::size_t n,
                               HttpResponse* responses) {
  Fiber* fiber = loop_impl->RequireFiber("HttpClient::Do");
  Batch batch;
  batch.fiber = fiber;

  // If the fiber is destroyed while parked here (loop shutdown), take the transfers back out of
  // the multi handle before their memory goes away.
  struct Cleanup {
    Impl* self;
    Batch* batch;
    ~Cleanup() {
      for (auto& s : self->slots) {
        if (s->batch != batch) continue;
        if (s->in_multi) self->loop_impl->RemoveEasy(s->easy);
        self->RestoreHiddenCookies(s.get(), {});
        s->in_multi = false;
        s->in_use = false;
        s->batch = nullptr;
      }
    }
  } cleanup{this, &batch};

  std::size_t max_active = n;
  if (options.batch > 0) max_active = std::min<std::size_t>(max_active, options.batch);
  int per_host = options.batch_per_host;
  std::vector<std::string> hosts;  // distinct hosts, only when limits apply
  std::vector<int> host_active;
  SmallVector<std::size_t> request_host(n, 0);
  if (n > 1 && per_host > 0) {
    for (std::size_t i = 0; i < n; ++i) {
      std::string key = LowerCopy(SplitUrl(requests[i].url).authority);
      auto it = std::find(hosts.begin(), hosts.end(), key);
      request_host[i] = it - hosts.begin();
      if (it == hosts.end()) hosts.push_back(std::move(key));
    }
    host_active.assign(hosts.size(), 0);
  }

  SmallVector<std::size_t> pending;
  pending.reserve(n);
  for (std::size_t i = 0; i < n; ++i) pending.push_back(i);
  std::size_t active = 0;
  SmallVector<Slot*> finished;

  while (true) {
    for (auto it = pending.begin(); it != pending.end() && active < max_active;) {
      std::size_t i = *it;
      if (!host_active.empty() && host_active[request_host[i]] >= per_host) {
        ++it;
        continue;
      }
      Slot* slot = AcquireSlot(&batch);
      slot->request = &requests[i];
      slot->out = &responses[i];
      slot->host_index = request_host[i];
      slot->method = requests[i].method.empty() ? "GET" : requests[i].method;
      slot->url = requests[i].url;
      slot->send_body = SendsBody(slot->method, requests[i].body);
      slot->drop_content_headers = false;
      slot->drop_sensitive_headers = false;
      slot->referer.clear();
      slot->hops = 0;
      StartHop(slot);
      ++active;
      if (!host_active.empty()) ++host_active[request_host[i]];
      it = pending.erase(it);
    }
    if (active == 0) break;

    while (batch.completed.empty()) {
      if (fiber->interrupted) {
        for (auto& s : slots) {
          if (s->batch != &batch || !s->in_multi) continue;
          loop_impl->RemoveEasy(s->easy);
          s->in_multi = false;
          s->out->error_code = 1000;
          s->out->error = "request interrupted";
        }
        for (std::size_t i : pending) {
          responses[i].error_code = 1000;
          responses[i].error = "request interrupted";
        }
        return;  // Cleanup releases the slots
      }
      loop->Park();
    }
    finished.swap(batch.completed);
    for (Slot* slot : finished) {
      if (FinishHop(slot)) continue;  // carries on with the redirect hop
      --active;
      if (!host_active.empty()) --host_active[slot->host_index];
      slot->in_use = false;
      slot->batch = nullptr;
      slot->request = nullptr;
      slot->out = nullptr;
    }
    finished.clear();
  }
}

HttpClient::HttpClient(Loop* loop, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

HttpClient::~HttpClient() = default;

void HttpClient::ResetCookies() {
  // With no easy handle made yet the jar is empty.
  if (!impl_->slots.empty() || impl_->jar_easy != nullptr) {
    curl_easy_setopt(impl_->JarHandle(), CURLOPT_COOKIELIST, "ALL");
  }
}

std::vector<JarCookie> HttpClient::Cookies() { return impl_->JarCookies(); }

std::vector<JarCookie> HttpClient::CookiesForUrl(std::string_view url) {
  std::vector<JarCookie> cookies = impl_->JarCookies();
  std::erase_if(cookies, [&](const JarCookie& c) { return !CookieMatchesUrl(c, url); });
  return cookies;
}

void HttpClient::SetCookie(const JarCookie& cookie) {
  curl_easy_setopt(impl_->JarHandle(), CURLOPT_COOKIELIST, NetscapeLine(cookie).c_str());
}

HttpResponse HttpClient::Do(const HttpRequest& request) {
  HttpResponse response;
  impl_->Execute(&request, 1, &response);
  return response;
}

std::vector<HttpResponse> HttpClient::DoBatch(const std::vector<HttpRequest>& requests) {
  std::vector<HttpResponse> responses(requests.size());
  if (!requests.empty()) impl_->Execute(requests.data(), requests.size(), responses.data());
  return responses;
}

}  // namespace volley::loop
