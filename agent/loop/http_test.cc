#include "agent/loop/http.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/loop/loop.h"
#include "agent/loop/test_http_server.h"

namespace volley::loop {
namespace {

using std::chrono::milliseconds;
using testing::RefusedPort;
using testing::TestHttpServer;

// Runs `body` on a fiber of a fresh loop with a fresh client, until it returns.
void OnFiber(const HttpClientOptions& options, std::function<void(Loop&, HttpClient&)> body) {
  Loop loop;
  HttpClient client(&loop, options);
  loop.Spawn([&] { body(loop, client); });
  loop.Run(true);
}

void OnFiber(std::function<void(Loop&, HttpClient&)> body) { OnFiber({}, std::move(body)); }

HttpRequest Get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  return r;
}

std::string HeaderValue(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : ParseHeaders(r.raw_headers)) {
    if (k == name) return v;
  }
  return "<missing>";
}

TEST(ParseHeaders, CanonicalNamesTrimmedValuesInOrder) {
  HeaderList h = ParseHeaders(
      "content-type: text/plain\r\nX-TWO:  a b \r\nno colon here\r\nset-cookie: x=1\r\n"
      "Set-Cookie: y=2\nlast:v");
  HeaderList want = {{"Content-Type", "text/plain"},
                     {"X-Two", "a b"},
                     {"Set-Cookie", "x=1"},
                     {"Set-Cookie", "y=2"},
                     {"Last", "v"}};
  EXPECT_EQ(h, want);
  EXPECT_TRUE(ParseHeaders("").empty());
}

TEST(CanonicalHeaderKey, MatchesGoCanonicalForm) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"content-type", "Content-Type"},
      {"CONTENT-LENGTH", "Content-Length"},
      {"x-custom-header", "X-Custom-Header"},
      {"etag", "Etag"},
      {"www-authenticate", "Www-Authenticate"},
      {"a--b", "A--B"},
      {"bad header", "bad header"},  // not a token: left alone
      {"", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(CanonicalHeaderKey(c.in), c.out);
  }
}

TEST(HttpClient, GetReturnsStatusBodyHeadersAndMetadata) {
  TestHttpServer server;
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) { r = client.Do(Get(server.Url("/hello"))); });

  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.proto, "HTTP/1.1");
  EXPECT_EQ(r.url, server.Url("/hello"));
  EXPECT_EQ(HeaderValue(r, "X-Custom-Header"), "abc");
  EXPECT_EQ(HeaderValue(r, "Content-Type"), "text/plain");
  EXPECT_EQ(r.remote_ip, "127.0.0.1");
  EXPECT_EQ(r.remote_port, server.port());
  EXPECT_EQ(r.tls_version, "");
  EXPECT_TRUE(r.redirects.empty());
  EXPECT_EQ(r.bytes_sent, server.last_request_bytes());
  EXPECT_EQ(r.bytes_received, server.last_response_bytes());

  const HttpTimings& t = r.timings;
  EXPECT_GT(t.connecting, 0);  // a new connection
  EXPECT_EQ(t.tls_handshaking, 0);
  EXPECT_GE(t.blocked, t.connecting);  // as in k6, blocked lasts until the connection is ready
  EXPECT_GT(t.waiting, 0);
  EXPECT_GE(t.receiving, 0);
  EXPECT_DOUBLE_EQ(t.duration, t.sending + t.waiting + t.receiving);
  EXPECT_LT(t.duration, 1000);
}

TEST(HttpClient, PostSendsBodyWithMethodAndCountsBytes) {
  TestHttpServer server;
  std::string body(100000, 'x');  // large enough to need several writes
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) {
    HttpRequest req = Get(server.Url("/echo"));
    req.method = "POST";
    req.body = body;
    req.headers = {{"Content-Type", "application/octet-stream"}};
    r = client.Do(req);
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(HeaderValue(r, "X-Method"), "POST");
  EXPECT_EQ(HeaderValue(r, "X-Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.bytes_sent, server.last_request_bytes());
  EXPECT_EQ(r.bytes_received, server.last_response_bytes());
  EXPECT_DOUBLE_EQ(r.timings.duration, r.timings.sending + r.timings.waiting + r.timings.receiving);
}

TEST(HttpClient, ServerTimeIsWaitingForEveryMethodAndBodySize) {
  // The server sleeps 50 ms before it answers: that is http_req_waiting, not blocked or
  // receiving, whatever the method and body, on a new and on a reused connection.
  TestHttpServer server;
  struct Case {
    const char* name;
    const char* method;
    std::size_t body_bytes;
  } cases[] = {{"GET", "GET", 0},
               {"POST, small body (sent with the headers)", "POST", 100},
               {"PUT, 200 KB body (streamed)", "PUT", 200 * 1024}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<HttpResponse> responses;
    OnFiber([&](Loop&, HttpClient& client) {
      for (int i = 0; i < 2; ++i) {  // the second reuses the connection
        HttpRequest request = Get(server.Url("/sleep/50"));
        request.method = c.method;
        request.body.assign(c.body_bytes, 'x');
        responses.push_back(client.Do(request));
      }
    });
    for (const HttpResponse& r : responses) {
      const HttpTimings& t = r.timings;
      EXPECT_EQ(r.status, 200) << r.error;
      EXPECT_GE(t.waiting, 45) << "waiting " << t.waiting;
      EXPECT_LT(t.blocked, 40) << "blocked " << t.blocked;
      EXPECT_LT(t.receiving, 40) << "receiving " << t.receiving;
      EXPECT_LT(t.sending, 40) << "sending " << t.sending;
      EXPECT_DOUBLE_EQ(t.duration, t.sending + t.waiting + t.receiving);
    }
  }
}

TEST(HttpClient, MethodsAndBodiesReachTheServer) {
  TestHttpServer server;
  struct Case {
    const char* method;
    const char* body;
    const char* content_type;  // as the server saw it
  } cases[] = {
      {"GET", "", "<none>"},         {"POST", "a=1", "<none>"},  // curl's form default is off
      {"PUT", "put-body", "<none>"}, {"PATCH", "", "<none>"},
      {"DELETE", "", "<none>"},      {"OPTIONS", "", "<none>"},
  };
  OnFiber([&](Loop&, HttpClient& client) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.method);
      HttpRequest req = Get(server.Url("/echo"));
      req.method = c.method;
      req.body = c.body;
      HttpResponse r = client.Do(req);
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(HeaderValue(r, "X-Method"), c.method);
      EXPECT_EQ(HeaderValue(r, "X-Content-Type"), c.content_type);
      EXPECT_EQ(r.body, c.body);
    }
    HttpRequest head = Get(server.Url("/hello"));
    head.method = "HEAD";
    HttpResponse r = client.Do(head);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");
    // The handle is reused: a GET after a HEAD must have a body again.
    EXPECT_EQ(client.Do(Get(server.Url("/hello"))).body, "hello world");
  });
}

TEST(HttpClient, FollowsRedirectChainCountingEachHop) {
  TestHttpServer server;
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) { r = client.Do(Get(server.Url("/redirect/3"))); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(r.url, server.Url("/redirect/0"));
  ASSERT_EQ(r.redirects.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const HttpResponse& hop = r.redirects[i];
    EXPECT_EQ(hop.status, 302);
    EXPECT_EQ(hop.url, server.Url("/redirect/" + std::to_string(3 - i)));
    EXPECT_EQ(HeaderValue(hop, "Location"), "/redirect/" + std::to_string(2 - i));
    EXPECT_GT(hop.bytes_received, 0u);
    EXPECT_TRUE(hop.redirects.empty());
  }
  EXPECT_GT(r.redirects[0].timings.connecting, 0);
  EXPECT_EQ(r.redirects[1].timings.connecting, 0);  // same keep-alive connection
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(HttpClient, StopsAtMaxRedirectsAndReturnsTheRedirect) {
  TestHttpServer server;
  struct Case {
    int max_redirects;
    int status;
    std::size_t hops;
  } cases[] = {{0, 302, 0}, {1, 302, 1}, {2, 302, 2}, {3, 200, 3}, {10, 200, 3}};
  OnFiber([&](Loop&, HttpClient& client) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.max_redirects);
      HttpRequest req = Get(server.Url("/redirect/3"));
      req.max_redirects = c.max_redirects;
      HttpResponse r = client.Do(req);
      EXPECT_EQ(r.status, c.status);
      EXPECT_EQ(r.redirects.size(), c.hops);
      EXPECT_EQ(r.error_code, 0);
    }
  });
}

TEST(HttpClient, RedirectMethodRulesFollowK6) {
  TestHttpServer server;
  struct Case {
    const char* path;
    int hop_status;
    const char* method;  // seen by the final target
    const char* body;
  } cases[] = {
      {"/moved", 301, "GET", ""},
      {"/redirect/1", 302, "GET", ""},  // reaches /redirect/0, which answers "done"
      {"/see-other", 303, "GET", ""},
      {"/temporary", 307, "POST", "payload"},
      {"/permanent", 308, "POST", "payload"},
  };
  OnFiber([&](Loop&, HttpClient& client) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.path);
      HttpRequest req = Get(server.Url(c.path));
      req.method = "POST";
      req.body = "payload";
      req.headers = {{"Content-Type", "text/x-test"}};
      HttpResponse r = client.Do(req);
      ASSERT_EQ(r.redirects.size(), 1u);
      EXPECT_EQ(r.redirects[0].status, c.hop_status);
      EXPECT_EQ(r.status, 200);
      if (std::string(c.path) == "/redirect/1") continue;
      EXPECT_EQ(HeaderValue(r, "X-Method"), c.method);
      EXPECT_EQ(r.body, c.body);
      // A body-less GET does not carry the original Content-Type.
      EXPECT_EQ(HeaderValue(r, "X-Content-Type"), *c.body ? "text/x-test" : "<none>");
    }
  });
}

TEST(HttpClient, RefusedConnectionIsError1212) {
  int port = RefusedPort();
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) {
    r = client.Do(Get("http://127.0.0.1:" + std::to_string(port) + "/"));
  });
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1212);
  EXPECT_EQ(r.error, "dial: connection refused");
  EXPECT_EQ(r.timings.duration, 0);
}

TEST(HttpClient, SlowResponseTimesOutWith1050) {
  TestHttpServer server;
  HttpResponse r;
  Clock::duration took{};
  OnFiber([&](Loop&, HttpClient& client) {
    HttpRequest req = Get(server.Url("/sleep/3000"));
    req.timeout_s = 0.2;
    auto start = Clock::now();
    r = client.Do(req);
    took = Clock::now() - start;
  });
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1050);
  EXPECT_EQ(r.error, "request timeout");
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_GT(r.timings.waiting, 150);  // the wait for the first byte is what timed out
}

TEST(HttpClient, ErrorStatusGetsK6ErrorCodeWithoutErrorText) {
  TestHttpServer server;
  OnFiber([&](Loop&, HttpClient& client) {
    for (int status : {200, 204, 404, 418, 500, 503}) {
      SCOPED_TRACE(status);
      HttpResponse r = client.Do(Get(server.Url("/status/" + std::to_string(status))));
      EXPECT_EQ(r.status, status);
      EXPECT_EQ(r.error_code, status >= 400 ? 1000 + status : 0);
      EXPECT_EQ(r.error, "");
    }
  });
}

TEST(HttpClient, InvalidUrlIsError1020) {
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) { r = client.Do(Get("notascheme://x")); });
  EXPECT_EQ(r.error_code, 1020);
}

TEST(HttpClient, KeepAliveReusesTheConnection) {
  TestHttpServer server;
  HttpResponse first, second;
  OnFiber([&](Loop& loop, HttpClient& client) {
    first = client.Do(Get(server.Url("/hello")));
    loop.Sleep(milliseconds(20));  // idle between requests, like a VU sleeping
    second = client.Do(Get(server.Url("/hello")));
  });
  EXPECT_GT(first.timings.connecting, 0);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.timings.connecting, 0);
  EXPECT_EQ(second.timings.tls_handshaking, 0);
  EXPECT_EQ(server.connections_accepted(), 1);
}

// k6 keeps a connection pool per VU: a VU never gets another VU's connection, even when it
// is idle and on the same worker.
TEST(HttpClient, ClientsOnOneLoopNeverShareAConnection) {
  TestHttpServer server;
  Loop loop;
  HttpClient a(&loop, {});
  HttpClient b(&loop, {});
  std::vector<HttpResponse> from_a, from_b;
  // One fiber, so every request starts after the one before it finished: a's connection is
  // idle whenever b asks for one.
  loop.Spawn([&] {
    for (int i = 0; i < 2; ++i) from_a.push_back(a.Do(Get(server.Url("/hello"))));
    for (int i = 0; i < 2; ++i) from_b.push_back(b.Do(Get(server.Url("/hello"))));
  });
  loop.Run(true);

  ASSERT_EQ(from_a.size(), 2u);
  ASSERT_EQ(from_b.size(), 2u);
  for (const auto* responses : {&from_a, &from_b}) {
    EXPECT_EQ((*responses)[0].status, 200);
    EXPECT_EQ((*responses)[1].status, 200);
    EXPECT_GT((*responses)[0].timings.connecting, 0);  // each client's first request connects
    EXPECT_EQ((*responses)[1].timings.connecting, 0);  // and its second reuses that connection
  }
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(HttpClient, ClientReusesItsOwnConnectionForSequentialRequests) {
  TestHttpServer server;
  constexpr int kRequests = 5;
  std::vector<HttpResponse> responses;
  OnFiber([&](Loop& loop, HttpClient& client) {
    for (int i = 0; i < kRequests; ++i) {
      responses.push_back(client.Do(Get(server.Url(i % 2 == 0 ? "/hello" : "/echo"))));
      loop.Sleep(milliseconds(5));
    }
  });
  ASSERT_EQ(responses.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(responses[i].status, 200);
    EXPECT_EQ(responses[i].timings.connecting > 0, i == 0);
  }
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(HttpClient, DestroyingAClientClosesItsConnections) {
  TestHttpServer server;
  Loop loop;
  auto gone = std::make_unique<HttpClient>(&loop, HttpClientOptions{});
  HttpClient stays(&loop, {});
  int status_gone = 0, status_stays = 0;
  loop.Spawn([&] {
    status_gone = gone->Do(Get(server.Url("/hello"))).status;
    status_stays = stays.Do(Get(server.Url("/hello"))).status;
    gone.reset();  // a VU renewed or retired on its fiber
  });
  loop.Run(true);
  EXPECT_EQ(status_gone, 200);
  EXPECT_EQ(status_stays, 200);

  // The server sees the departed client's connection close; the other one stays open.
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (server.connections_open() > 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(server.connections_accepted(), 2);
  EXPECT_EQ(server.connections_open(), 1);

  // The loop and the remaining client carry on.
  HttpResponse again;
  loop.Spawn([&] { again = stays.Do(Get(server.Url("/hello"))); });
  loop.Run(true);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.timings.connecting, 0);
  EXPECT_EQ(server.connections_accepted(), 2);
}

// A VU fiber is abandoned (not unwound) at shutdown with its request in flight: ~HttpClient
// takes the transfer out of the loop and closes the connection, and the loop stays usable.
TEST(HttpClient, DestroyingAClientAfterItsFiberWasAbandonedClosesTheConnection) {
  TestHttpServer server;
  Loop loop;
  auto client = std::make_unique<HttpClient>(&loop, HttpClientOptions{});
  FiberOptions abandon;
  abandon.unwind_on_destroy = false;
  loop.Spawn([&] { client->Do(Get(server.Url("/sleep/300"))); }, abandon);
  loop.Spawn([&] {
    loop.Sleep(milliseconds(50));
    loop.Stop();
  });
  loop.Run(false);
  EXPECT_EQ(loop.FiberCount(), 0u);
  client.reset();

  // Kept open, the connection would outlive the 300 ms response; closed, the server drops it.
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (server.connections_open() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(server.connections_open(), 0);

  HttpClient next(&loop, {});
  HttpResponse r;
  loop.Spawn([&] { r = next.Do(Get(server.Url("/hello"))); });
  loop.Run(true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(HttpClient, DecodesGzip) {
  TestHttpServer server;
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) { r = client.Do(Get(server.Url("/gzip"))); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderValue(r, "Content-Encoding"), "gzip");
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "compressible text ";
  EXPECT_EQ(r.body, expected);
  // Bytes received count the compressed body.
  EXPECT_EQ(r.bytes_received, server.last_response_bytes());
  EXPECT_LT(r.bytes_received, expected.size());
}

TEST(HttpClient, DiscardBodyKeepsByteCounts) {
  TestHttpServer server;
  HttpResponse r;
  OnFiber([&](Loop&, HttpClient& client) {
    HttpRequest req = Get(server.Url("/hello"));
    req.discard_body = true;
    r = client.Do(req);
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.bytes_received, server.last_response_bytes());
}

TEST(HttpClient, DefaultHeadersGiveWayToTheRequestsOwn) {
  TestHttpServer server;
  HttpClientOptions options;
  options.user_agent = "volley-test/1";
  OnFiber(options, [&](Loop&, HttpClient& client) {
    HttpResponse r = client.Do(Get(server.Url("/headers")));
    EXPECT_NE(r.body.find("User-Agent: volley-test/1\n"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("Accept:"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("Expect:"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("Accept-Encoding: gzip, deflate, br\n"), std::string::npos) << r.body;

    HttpRequest req = Get(server.Url("/headers"));
    req.headers = {{"User-Agent", "custom/2"}, {"X-Empty", ""}, {"Accept-Encoding", "identity"}};
    r = client.Do(req);
    EXPECT_NE(r.body.find("User-Agent: custom/2\n"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("Accept-Encoding: identity\n"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("gzip"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("volley-test"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("X-Empty: \n"), std::string::npos) << r.body;
  });
}

TEST(HttpClient, BatchReturnsResponsesInRequestOrderAndRunsConcurrently) {
  TestHttpServer server;
  std::vector<HttpResponse> responses;
  Clock::duration took{};
  OnFiber([&](Loop&, HttpClient& client) {
    std::vector<HttpRequest> requests = {
        Get(server.Url("/sleep/300")), Get(server.Url("/hello")), Get(server.Url("/sleep/150")),
        Get(server.Url("/redirect/2")), Get(server.Url("/status/404"))};
    auto start = Clock::now();
    responses = client.DoBatch(requests);
    took = Clock::now() - start;
  });
  ASSERT_EQ(responses.size(), 5u);
  EXPECT_EQ(responses[0].body, "slept");
  EXPECT_EQ(responses[1].body, "hello world");
  EXPECT_EQ(responses[2].body, "slept");
  EXPECT_EQ(responses[3].body, "done");
  EXPECT_EQ(responses[3].redirects.size(), 2u);
  EXPECT_EQ(responses[4].status, 404);
  EXPECT_LT(took, milliseconds(440));  // concurrent: about the longest, not the sum (450)
}

TEST(HttpClient, BatchRespectsBatchPerHost) {
  TestHttpServer server;
  HttpClientOptions options;
  options.batch_per_host = 2;
  Clock::duration took{};
  OnFiber(options, [&](Loop&, HttpClient& client) {
    std::vector<HttpRequest> requests(4, Get(server.Url("/sleep/100")));
    auto start = Clock::now();
    auto responses = client.DoBatch(requests);
    took = Clock::now() - start;
    for (const auto& r : responses) EXPECT_EQ(r.status, 200);
  });
  EXPECT_EQ(server.max_in_flight(), 2);
  EXPECT_GE(took, milliseconds(200));
}

TEST(HttpClient, BatchRespectsBatchLimit) {
  TestHttpServer server;
  HttpClientOptions options;
  options.batch = 3;
  OnFiber(options, [&](Loop&, HttpClient& client) {
    std::vector<HttpRequest> requests(9, Get(server.Url("/sleep/50")));
    auto responses = client.DoBatch(requests);
    for (const auto& r : responses) EXPECT_EQ(r.status, 200);
  });
  EXPECT_EQ(server.max_in_flight(), 3);
}

TEST(HttpClient, HostsEntryWithThePortWinsOverTheBareName) {
  TestHttpServer server;
  std::string port = std::to_string(server.port());
  HttpClientOptions options;
  // "a.test" (any port) sorts before "a.test:PORT"; k6 looks up name:port first.
  options.hosts["a.test"] = "127.0.0.1:1";
  options.hosts["a.test:" + port] = "127.0.0.1:" + port;
  HttpResponse with_port, other_port;
  OnFiber(options, [&](Loop&, HttpClient& client) {
    with_port = client.Do(Get("http://a.test:" + port + "/headers"));
    other_port = client.Do(Get("http://a.test:8/headers"));
  });
  EXPECT_EQ(with_port.status, 200) << with_port.error;
  EXPECT_EQ(other_port.status, 0);  // the bare name's target, port 1: refused
  EXPECT_EQ(other_port.error_code, 1212) << other_port.error;
}

TEST(HttpClient, HostsMappingKeepsTheHostHeader) {
  TestHttpServer server;
  std::string port = std::to_string(server.port());
  struct Case {
    std::string name, target;
  } cases[] = {
      {"example.test", "127.0.0.1"},
      {"example.test:" + port, "127.0.0.1:" + port},
      {"example.test", "127.0.0.1:" + port},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " -> " + c.target);
    HttpClientOptions options;
    options.hosts[c.name] = c.target;
    HttpResponse r;
    OnFiber(options, [&](Loop&, HttpClient& client) {
      // With the "ip:port" target the URL's port does not matter.
      std::string url_port =
          c.name == "example.test" && c.target.find(':') != std::string::npos ? "1" : port;
      r = client.Do(Get("http://example.test:" + url_port + "/headers"));
    });
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.remote_ip, "127.0.0.1");
    EXPECT_NE(r.body.find("Host: example.test:"), std::string::npos) << r.body;
  }
}

TEST(HttpClient, ManyFibersShareTheLoop) {
  TestHttpServer server;
  constexpr int kFibers = 20, kRequests = 25;
  int ok = 0;
  Loop loop;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kFibers; ++i) {
    clients.push_back(std::make_unique<HttpClient>(&loop, HttpClientOptions{}));
    HttpClient* client = clients.back().get();
    loop.Spawn([&, client] {
      for (int j = 0; j < kRequests; ++j) {
        HttpResponse r = client->Do(Get(server.Url(j % 5 == 0 ? "/echo" : "/hello")));
        if (r.status == 200) ok++;
        if (j % 7 == 0) loop.Sleep(milliseconds(1));
      }
    });
  }
  loop.Run(true);
  EXPECT_EQ(ok, kFibers * kRequests);
  EXPECT_EQ(server.connections_accepted(), kFibers);  // one per client, kept alive and reused
}

TEST(HttpClient, InterruptAbortsAnInFlightRequest) {
  TestHttpServer server;
  HttpResponse r;
  Clock::duration took{};
  Loop loop;
  HttpClient client(&loop, {});
  Fiber* vu = loop.Spawn([&] {
    auto start = Clock::now();
    r = client.Do(Get(server.Url("/sleep/3000")));
    took = Clock::now() - start;
  });
  loop.Spawn([&] {
    loop.Sleep(milliseconds(50));
    loop.Interrupt(vu);
  });
  loop.Run(true);
  EXPECT_LT(took, milliseconds(1000));
  EXPECT_EQ(r.error_code, 1000);
  EXPECT_EQ(r.status, 0);
}

TEST(HttpClient, StoppingTheLoopWithARequestInFlightCleansUp) {
  TestHttpServer server;
  Loop loop;
  HttpClient client(&loop, {});
  loop.Spawn([&] { client.Do(Get(server.Url("/sleep/3000"))); });
  loop.Spawn([&] {
    loop.Sleep(milliseconds(50));
    loop.Stop();
  });
  loop.Run(false);
  EXPECT_EQ(loop.FiberCount(), 0u);
  // The client is usable again on a new fiber.
  HttpResponse r;
  loop.Spawn([&] { r = client.Do(Get(server.Url("/hello"))); });
  loop.Run(true);
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace volley::loop
