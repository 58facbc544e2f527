// HTTP through libcurl's multi interface on a Loop. One HttpClient per VU: it owns the VU's curl
// easy handles, so keep-alive connections are reused across that VU's requests. Do() and
// DoBatch() yield the calling fiber until the transfers finish; other fibers run meanwhile.
// A traffic problem (refused, timeout, DNS, TLS) never throws: it comes back in
// HttpResponse::error / error_code with k6's error codes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/loop/cookies.h"

namespace volley::loop {

class Loop;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A cookie of k6's params.cookies: sent with one request (each of its hops) and never stored.
struct RequestCookie {
  std::string name;
  std::string value;
  bool replace = false;  // true: the jar's cookies of this name stay out of the request
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  // A "Cookie" header here goes out merged with the jar's cookies into one header, on the first
  // hop only (k6 drops it on redirects, where `cookies` and the jar still apply).
  HeaderList headers;
  std::vector<RequestCookie> cookies;  // after the Cookie header, before same-name jar cookies
  std::string body;
  double timeout_s = 60;      // k6 default timeout: 60s
  int max_redirects = 10;     // k6 default maxRedirects: 10
  bool discard_body = false;  // responseType "none" / discardResponseBodies
};

// Per-request phase durations in milliseconds, with k6's meaning.
struct HttpTimings {
  double blocked = 0;
  double connecting = 0;
  double tls_handshaking = 0;
  double sending = 0;
  double waiting = 0;
  double receiving = 0;
  double duration = 0;  // sending + waiting + receiving
};

struct HttpResponse {
  int status = 0;     // 0 when no response arrived
  std::string proto;  // "HTTP/1.1", "HTTP/2.0"
  std::string url;    // final URL after redirects
  // The final header block as received: its "Name: value" lines, each ending in "\r\n" (the
  // status line and the blank line left out). Kept raw because most scripts never read
  // headers; ParseHeaders() turns it into fields.
  std::string raw_headers;
  std::string body;
  HttpTimings timings;
  std::string remote_ip;
  int remote_port = 0;
  std::string tls_version;  // "tls1.3", "" for plain http
  // k6 error code, 0 on success. As in k6, a 4xx/5xx response also sets 1000 + status (1404 for
  // a 404) while `error` stays empty; transport errors set status 0 and both fields.
  int error_code = 0;
  std::string error;             // k6-style error text, "" on success
  std::uint64_t bytes_sent = 0;  // on the wire, headers included
  std::uint64_t bytes_received = 0;
  // Responses of earlier hops when redirects were followed, oldest first. k6 counts every hop
  // as its own request, so each one carries its own timings and byte counts.
  std::vector<HttpResponse> redirects;
};

// Settings shared by all of a VU's requests, from the test's options.
struct HttpClientOptions {
  std::map<std::string, std::string> hosts;  // k6 `hosts`: "name" or "name:port" -> "ip[:port]"
  bool insecure_skip_tls_verify = false;
  std::string user_agent = "volley/0.1 (https://k6.io/)";
  int batch_per_host = 6;  // k6 batchPerHost default
  int batch = 20;          // k6 batch default
  int max_redirects = 10;  // k6 maxRedirects: the default of a request without `redirects`
  bool no_connection_reuse = false;  // k6 noConnectionReuse: a new connection per request
};

// A header name in the canonical form Go (and so k6) uses: "content-type" -> "Content-Type".
// Names with characters outside the HTTP token set are returned unchanged.
std::string CanonicalHeaderKey(std::string_view name);

// The fields of HttpResponse::raw_headers with canonical names ("Content-Type"), values trimmed,
// in arrival order. Lines without a colon are skipped.
HeaderList ParseHeaders(std::string_view raw_headers);

// Connections: each HttpClient keeps its own keep-alive connections (a curl share handle holding
// a connection cache), as k6 keeps a pool per VU: a client's first request to a host connects,
// its later ones reuse that connection (HTTP/2 streams of a batch multiplex on it), and two
// clients never share one, although all their transfers run on the loop's one multi handle.
// The DNS cache is the loop's, shared by its clients (as k6's resolver cache is by all VUs).
//
// Lifetimes: the Loop outlives its HttpClients, and an HttpClient outlives every Do/DoBatch in
// progress on it: destroy it when none is (on a fiber of the loop, or after Run returned).
// ~HttpClient closes the client's connections. A fiber destroyed inside Do (loop shutdown) takes
// its transfers out of the loop while unwinding; an abandoned one (FiberOptions::
// unwind_on_destroy = false) leaves them to ~HttpClient, which must then run before the loop
// runs again. All of a client's calls, its destruction included, happen on the loop's thread or
// while the loop is not running.
class HttpClient {
 public:
  HttpClient(Loop* loop, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The cookie jar: the client's requests store the Set-Cookie of every response (redirect hops
  // included) in it and send its matching cookies. These calls run on the loop's thread and do
  // not yield; a request in flight sees a change from its next hop on.
  // Empties the jar (k6 gives each iteration a fresh one unless noCookiesReset).
  void ResetCookies();
  // Every unexpired cookie of the jar, in curl's order.
  std::vector<JarCookie> Cookies();
  // The cookies a request to `url` would carry.
  std::vector<JarCookie> CookiesForUrl(std::string_view url);
  // Adds `cookie`, replacing the one with its domain, path and name; an expiry in the past
  // (expires_s > 0) removes that one instead.
  void SetCookie(const JarCookie& cookie);

  // Fiber-only. Performs one request (following redirects as asked).
  HttpResponse Do(const HttpRequest& request);
  // Fiber-only. Performs the requests concurrently (at most options.batch at once, and
  // batch_per_host per host); responses come back in request order.
  std::vector<HttpResponse> DoBatch(const std::vector<HttpRequest>& requests);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::loop
