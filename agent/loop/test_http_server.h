// A small HTTP/1.1 server for the tests of agent/loop: Boost.Beast, blocking I/O, one thread per
// connection, bound to 127.0.0.1 on a free port. Test-only (header-only so that the folder's
// library glob does not pick it up). Routes:
//   /hello            200 "hello world" with a lower-case custom header
//   /echo             the request body back, X-Method and X-Content-Type describe the request
//   /headers          the request headers, one "name: value" per line
//   /redirect/N       302 to /redirect/N-1 (relative Location); /redirect/0 is 200 "done"
//   /moved /see-other /temporary /permanent   301/303/307/308 to /echo
//   /status/NNN       an empty response with that status
//   /sleep/MS         200 after MS milliseconds
//   /gzip             a gzip-encoded body when the client accepts gzip
//   /set-cookies      200 with three Set-Cookie headers carrying most attributes
#pragma once

#include <sys/socket.h>
#include <zlib.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace volley::loop::testing {

class TestHttpServer {
 public:
  TestHttpServer() : acceptor_(io_) {
    namespace ip = boost::asio::ip;
    ip::tcp::endpoint endpoint(ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestHttpServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    sleep_cv_.notify_all();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(connection_threads_);
    }
    for (auto& t : threads) t.join();
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections_accepted() const { return connections_.load(); }
  // Connections accepted and not yet closed by either side.
  int connections_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(open_fds_.size());
  }
  int max_in_flight() const { return max_in_flight_.load(); }
  std::uint64_t last_request_bytes() const { return last_request_bytes_.load(); }
  std::uint64_t last_response_bytes() const { return last_response_bytes_.load(); }

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void AcceptLoop() {
    while (true) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (ec || stopping_) return;
      connections_.fetch_add(1);
      open_fds_.push_back(socket.native_handle());
      connection_threads_.emplace_back(
          [this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(boost::asio::ip::tcp::socket socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    while (true) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      std::size_t read = http::read(socket, buffer, parser, ec);
      if (ec) break;
      Request request = parser.release();
      int now = in_flight_.fetch_add(1) + 1;
      int peak = max_in_flight_.load();
      while (now > peak && !max_in_flight_.compare_exchange_weak(peak, now)) {
      }
      Response response = Handle(request);
      in_flight_.fetch_sub(1);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      // Serialize first so the counts are recorded before the client can see the response.
      std::ostringstream wire_stream;
      wire_stream << response;
      std::string wire = wire_stream.str();
      last_request_bytes_.store(read);
      last_response_bytes_.store(wire.size());
      boost::asio::write(socket, boost::asio::buffer(wire), ec);
      if (ec || !response.keep_alive()) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(open_fds_, socket.native_handle());
    boost::system::error_code ignored;
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  }

  Response Handle(const Request& request) {
    namespace http = boost::beast::http;
    std::string target(request.target());
    Response response{http::status::ok, request.version()};
    response.set(http::field::content_type, "text/plain");
    auto redirect = [&](unsigned status, const std::string& location) {
      response.result(status);
      response.set(http::field::location, location);
    };

    if (target == "/hello") {
      response.set("x-custom-header", "abc");
      response.body() = "hello world";
    } else if (target == "/echo") {
      response.set("X-Method", std::string(request.method_string()));
      auto content_type = request.find(http::field::content_type);
      response.set("X-Content-Type", content_type == request.end()
                                         ? std::string("<none>")
                                         : std::string(content_type->value()));
      response.body() = request.body();
    } else if (target == "/headers") {
      for (const auto& field : request) {
        response.body() +=
            std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
      }
    } else if (target.rfind("/redirect/", 0) == 0) {
      int n = std::stoi(target.substr(10));
      if (n > 0) {
        redirect(302, "/redirect/" + std::to_string(n - 1));
      } else {
        response.body() = "done";
      }
    } else if (target.rfind("/set-cookie/", 0) == 0) {  // /set-cookie/name=value, then /headers
      response.set(http::field::set_cookie, target.substr(12) + "; Path=/");
      redirect(302, "/headers");
    } else if (target == "/set-cookies") {
      response.insert(http::field::set_cookie,
                      "a=1; Domain=.example.com; Path=/p; HttpOnly; Secure; Max-Age=60");
      response.insert(http::field::set_cookie, "a=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
      response.insert(http::field::set_cookie, "b=\"q\"; Max-Age=0");
    } else if (target == "/moved") {
      redirect(301, "/echo");
    } else if (target == "/see-other") {
      redirect(303, "/echo");
    } else if (target == "/temporary") {
      redirect(307, "/echo");
    } else if (target == "/permanent") {
      redirect(308, "/echo");
    } else if (target.rfind("/status/", 0) == 0) {
      response.result(std::stoi(target.substr(8)));
    } else if (target.rfind("/sleep/", 0) == 0) {
      std::unique_lock<std::mutex> lock(mu_);
      sleep_cv_.wait_for(lock, std::chrono::milliseconds(std::stoi(target.substr(7))),
                         [this] { return stopping_; });
      response.body() = "slept";
    } else if (target == "/gzip") {
      std::string plain;
      for (int i = 0; i < 100; ++i) plain += "compressible text ";
      auto accept = request.find(http::field::accept_encoding);
      if (accept != request.end() && accept->value().find("gzip") != std::string::npos) {
        response.set(http::field::content_encoding, "gzip");
        response.body() = Gzip(plain);
      } else {
        response.body() = plain;
      }
    } else {
      response.result(http::status::not_found);
    }
    return response;
  }

  static std::string Gzip(const std::string& plain) {
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, plain.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    zs.avail_in = static_cast<uInt>(plain.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable sleep_cv_;
  bool stopping_ = false;
  std::vector<int> open_fds_;
  std::vector<std::thread> connection_threads_;
  std::atomic<int> connections_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::atomic<std::uint64_t> last_request_bytes_{0};
  std::atomic<std::uint64_t> last_response_bytes_{0};
};

// A loopback port with nothing listening on it: bound, then released.
inline int RefusedPort() {
  namespace ip = boost::asio::ip;
  boost::asio::io_context io;
  ip::tcp::acceptor acceptor(io, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  int port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

}  // namespace volley::loop::testing
