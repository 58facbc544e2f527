// Tests of k6/http: scripts in a Vu against agent/loop's Beast test server on 127.0.0.1:0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>

#include <functional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/js/js_test_util.h"
#include "agent/loop/test_http_server.h"

namespace volley::js {
namespace {

using ::testing::HasSubstr;

class HttpTest : public testing::VuFixture {
 protected:
  void SetUp() override {
    VuFixture::SetUp();
    test_.env["BASE"] = server_.Url("");
  }

  // Runs setup() of `script` (with `files` to open()) and returns its JSON (or the error text).
  std::string SetupResult(const std::string& script,
                          std::map<std::string, std::string> files = {}) {
    auto vu = MustCreate(script, std::move(files));
    if (vu == nullptr) return "<no vu>";
    absl::StatusOr<std::string> r = Setup(vu.get());
    return r.ok() ? *r : std::string(r.status().message());
  }

  // Runs one iteration of `script`; fails the test when it throws.
  void IterateOnce(const std::string& script, IterationInfo info = {}) {
    auto vu = MustCreate(script);
    ASSERT_NE(vu, nullptr);
    ScriptError error;
    absl::StatusOr<bool> r = Iterate(vu.get(), info, &error);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(*r) << error.ToString();
  }

  loop::testing::TestHttpServer server_;
};

TEST_F(HttpTest, GetReadsResponseFields) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.get(__ENV.BASE + '/hello');
      return {
        status: r.status, body: r.body, custom: r.headers['X-Custom-Header'], proto: r.proto,
        url: r.url, method: r.request.method, ip: r.remote_ip, error: r.error,
        error_code: r.error_code, timed: r.timings.duration > 0 && r.timings.waiting > 0,
        status_text: r.status_text,
      };
    }
    export default function () {}
  )");
  EXPECT_EQ(json, absl::StrCat(R"({"status":200,"body":"hello world","custom":"abc",)",
                               R"("proto":"HTTP/1.1","url":")", server_.Url("/hello"),
                               R"(","method":"GET","ip":"127.0.0.1","error":"","error_code":0,)",
                               R"("timed":true,"status_text":"200 OK"})"));
}

TEST_F(HttpTest, PostFormEncodesObjectsWithRepeatedKeys) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.post(__ENV.BASE + '/echo',
                          { name: 'Test Name', topping: ['onion', 'bacon'], email: 'a@b.c' });
      return [r.body, r.headers['X-Content-Type'], r.headers['X-Method']];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"(["email=a%40b.c&name=Test+Name&topping=onion&topping=bacon",)"
                  R"("application/x-www-form-urlencoded","POST"])");
}

TEST_F(HttpTest, JsonBodyAndSelectors) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const body = JSON.stringify({ key: 'value', a: { b: [1, 2, 3] } });
      const r = http.put(__ENV.BASE + '/echo', body,
                         { headers: { 'Content-Type': 'application/json' } });
      return [r.json().key, r.json('a.b.1'), r.json('a.b.#'), r.json('nope'), r.json() === r.json(),
              r.headers['X-Content-Type'], r.headers['X-Method'], r.request.body];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"(["value",2,3,null,true,"application/json","PUT",)"
                  R"("{\"key\":\"value\",\"a\":{\"b\":[1,2,3]}}"])");
}

TEST_F(HttpTest, VerbsSendTheirMethod) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const u = __ENV.BASE + '/echo';
      return [http.patch(u, 'x').headers['X-Method'], http.del(u).headers['X-Method'],
              http.options(u).headers['X-Method'], http.request('post', u, 'b').headers['X-Method'],
              http.head(u).status];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"(["PATCH","DELETE","OPTIONS","POST",200])");
}

TEST_F(HttpTest, RequestMetricsCarryK6Tags) {
  IterationInfo info;
  info.scenario = "sc";
  IterateOnce(R"(
    import http from 'k6/http';
    import { group } from 'k6';
    export default function () {
      group('g', () => { http.get(__ENV.BASE + '/hello', { tags: { my_tag: 'x' } }); });
    }
  )",
              info);
  TakeBatch();
  std::string url = server_.Url("/hello");
  EXPECT_EQ(TagsOf("http_reqs"), (std::map<std::string, std::string>{
                                     {"expected_response", "true"},
                                     {"group", "::g"},
                                     {"method", "GET"},
                                     {"my_tag", "x"},
                                     {"name", url},
                                     {"proto", "HTTP/1.1"},
                                     {"scenario", "sc"},
                                     {"status", "200"},
                                     {"url", url},
                                 }));
  EXPECT_EQ(Sum("http_reqs"), 1);
  for (const char* m :
       {"http_req_duration", "http_req_blocked", "http_req_connecting", "http_req_tls_handshaking",
        "http_req_sending", "http_req_waiting", "http_req_receiving", "http_req_failed"}) {
    SCOPED_TRACE(m);
    EXPECT_EQ(Count(m, {{"my_tag", "x"}}), 1u);
  }
  EXPECT_EQ(Nonzero("http_req_failed"), 0u);
  EXPECT_GT(Sum("data_sent", {{"scenario", "sc"}, {"group", ""}}), 50);
  EXPECT_GT(Sum("data_received"), 50);
}

TEST_F(HttpTest, NameTagOverridesUrl) {
  IterateOnce(R"(
    import http from 'k6/http';
    export default function () {
      http.get(__ENV.BASE + '/hello', { tags: { name: 'hello-page' } });
      http.get(http.url`${__ENV.BASE}/hello`);
    }
  )");
  TakeBatch();
  EXPECT_EQ(Sum("http_reqs", {{"name", "hello-page"}, {"url", server_.Url("/hello")}}), 1);
  EXPECT_EQ(Sum("http_reqs", {{"name", "${}/hello"}}), 1);
}

TEST_F(HttpTest, NotFoundIsAFailedRequestWithErrorCode) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.get(__ENV.BASE + '/status/404');
      return [r.status, r.error_code, r.error];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"([404,1404,""])");
  TakeBatch();
  EXPECT_EQ(Nonzero("http_req_failed",
                    {{"status", "404"}, {"expected_response", "false"}, {"error_code", "1404"}}),
            1u);
}

TEST_F(HttpTest, ResponseCallbackChangesExpectedStatuses) {
  IterateOnce(R"(
    import http from 'k6/http';
    http.setResponseCallback(http.expectedStatuses(404, { min: 200, max: 204 }));
    export default function () {
      http.get(__ENV.BASE + '/status/404');
      http.get(__ENV.BASE + '/status/500', { responseCallback: http.expectedStatuses(500) });
      http.get(__ENV.BASE + '/status/201', { responseCallback: null });
    }
  )");
  TakeBatch();
  EXPECT_EQ(Count("http_req_failed", {{"status", "404"}}), 1u);
  EXPECT_EQ(Nonzero("http_req_failed", {{"status", "404"}, {"expected_response", "true"}}), 0u);
  EXPECT_EQ(Nonzero("http_req_failed", {{"status", "500"}}), 0u);
  EXPECT_EQ(Count("http_req_failed", {{"status", "201"}}), 0u);
  EXPECT_EQ(Sum("http_reqs"), 3);
}

TEST_F(HttpTest, MaxRedirectsOptionIsTheDefaultAndParamsOverrideIt) {
  test_.http.max_redirects = 1;  // options.maxRedirects
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const capped = http.get(__ENV.BASE + '/redirect/2');
      const allowed = http.get(__ENV.BASE + '/redirect/2', { redirects: 5 });
      return [capped.status, allowed.status];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, "[302,200]");
}

TEST_F(HttpTest, CookieJarPerVuFreshEachIterationUnlessNoCookiesReset) {
  // Iteration 0 gets a cookie (on a redirect hop) and sends it back; iteration 1 starts with an
  // empty jar, as in k6, or keeps it with noCookiesReset.
  const std::string script = R"(
    import http from 'k6/http';
    export default function () {
      if (__ITER === 0) {
        const r = http.get(__ENV.BASE + '/set-cookie/session=abc');
        if (r.body.indexOf('Cookie: session=abc') < 0) throw new Error('not sent: ' + r.body);
      } else {
        const r = http.get(__ENV.BASE + '/headers');
        const sent = r.body.indexOf('Cookie: session=abc') >= 0;
        if (sent !== (__ENV.KEEP === '1')) throw new Error('sent=' + sent + ': ' + r.body);
      }
    }
  )";
  for (bool keep : {false, true}) {
    SCOPED_TRACE(keep ? "noCookiesReset" : "reset");
    test_.no_cookies_reset = keep;
    test_.env["KEEP"] = keep ? "1" : "0";
    auto vu = MustCreate(script);
    ASSERT_NE(vu, nullptr);
    for (int it = 0; it < 2; ++it) {
      IterationInfo info;
      info.iteration_in_instance = it;
      ScriptError error;
      absl::StatusOr<bool> r = Iterate(vu.get(), info, &error);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(*r) << error.ToString();
    }
  }
}

// The Cookie header lines a request sent, from /headers' echo (as a JSON array).
const char kCookieLines[] = R"(
    import http from 'k6/http';
    function cookieLines(r) {
      return r.body.split('\n').filter((l) => l.startsWith('Cookie:')).map((l) => l.substring(8));
    }
  )";

struct CookieCase {
  const char* name;
  const char* calls;  // JS; `B` is the server's base URL, returns a response of /headers
  const char* want;   // the Cookie lines of that response
};

// Runs each case in a fresh VU (an empty jar) and compares the Cookie lines it sent.
void ExpectCookieLines(const std::vector<CookieCase>& cases,
                       const std::function<std::string(const std::string&)>& setup_result) {
  for (const CookieCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(setup_result(absl::StrCat(kCookieLines, R"(
      export function setup() {
        const B = __ENV.BASE;
        const r = (() => { )",
                                        c.calls, R"( })();
        return cookieLines(r);
      }
      export default function () {}
    )")),
              c.want);
  }
}

TEST_F(HttpTest, CookieHeaderGoesOutMergedWithTheJar) {
  ExpectCookieLines(
      {
          {"header alone", "return http.get(B + '/headers', {headers: {Cookie: 'x=1'}});",
           R"(["x=1"])"},
          {"header and jar cookie",
           "http.get(B + '/set-cookie/h=4');"
           "return http.get(B + '/headers', {headers: {Cookie: 'x=1'}});",
           R"(["h=4; x=1"])"},
          {"jar alone", "return http.get(B + '/set-cookie/h=4');", R"(["h=4"])"},
          // k6 drops the script's Cookie header on redirects; the jar still applies.
          {"header not on redirect hops",
           "return http.get(B + '/set-cookie/h=4', {headers: {Cookie: 'x=1'}});", R"(["h=4"])"},
          {"no cookies", "return http.get(B + '/headers');", "[]"},
      },
      [this](const std::string& s) { return SetupResult(s); });
}

TEST_F(HttpTest, RequestCookiesGoWithTheirRequestOnly) {
  ExpectCookieLines(
      {
          {"request cookie", "return http.get(B + '/headers', {cookies: {a: '1'}});", R"(["a=1"])"},
          {"object form", "return http.get(B + '/headers', {cookies: {a: {value: '1'}}});",
           R"(["a=1"])"},
          {"quoted like Go", "return http.get(B + '/headers', {cookies: {a: 'hello world'}});",
           R"(["a=\"hello world\""])"},
          {"after the Cookie header",
           "return http.get(B + '/headers', {headers: {Cookie: 'x=1'}, cookies: {a: '1'}});",
           R"(["x=1; a=1"])"},
          {"next to jar cookies",
           "http.get(B + '/set-cookie/h=4');"
           "return http.get(B + '/headers', {cookies: {a: '1'}});",
           R"(["h=4; a=1"])"},
          // Without replace both go, the request's first (k6's order), so servers that take the
          // first of a name see the request's.
          {"same name without replace",
           "http.get(B + '/set-cookie/h=4');"
           "return http.get(B + '/headers', {cookies: {h: '5'}});",
           R"(["h=5; h=4"])"},
          {"same name with replace",
           "http.get(B + '/set-cookie/h=4');"
           "return http.get(B + '/headers', {cookies: {h: {value: '5', replace: true}}});",
           R"(["h=5"])"},
          {"jar cookie back after replace",
           "http.get(B + '/set-cookie/h=4');"
           "http.get(B + '/headers', {cookies: {h: {value: '5', replace: true}}});"
           "return http.get(B + '/headers');",
           R"(["h=4"])"},
          {"not stored",
           "http.get(B + '/headers', {cookies: {a: '1'}});"
           "return http.get(B + '/headers');",
           "[]"},
          {"on every redirect hop", "return http.get(B + '/set-cookie/h=4', {cookies: {a: '1'}});",
           R"(["h=4; a=1"])"},
      },
      [this](const std::string& s) { return SetupResult(s); });
}

TEST_F(HttpTest, ResponseCookiesComeFromSetCookie) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.get(__ENV.BASE + '/set-cookies');
      const after_redirect = http.get(__ENV.BASE + '/set-cookie/h=4');
      return [r.cookies, r.cookies === r.cookies, after_redirect.cookies,
              http.get(__ENV.BASE + '/hello').cookies];
    }
    export default function () {}
  )");
  EXPECT_EQ(json,
            R"([{"a":[{"name":"a","value":"1","domain":".example.com","path":"/p",)"
            R"("http_only":true,"secure":true,"max_age":60,"expires":-6795364578871},)"
            R"({"name":"a","value":"2","domain":"","path":"","http_only":false,"secure":false,)"
            R"("max_age":0,"expires":1445412480000}],)"
            R"("b":[{"name":"b","value":"q","domain":"","path":"","http_only":false,)"
            R"("secure":false,"max_age":-1,"expires":-6795364578871}]},true,{},{}])");
}

TEST_F(HttpTest, CookieJarSetsListsAndRemoves) {
  std::string json = SetupResult(absl::StrCat(kCookieLines, R"(
    // {name: [values]} with names sorted, so curl's order does not matter.
    function sorted(o) {
      const out = {};
      for (const k of Object.keys(o).sort()) out[k] = o[k];
      return out;
    }
    export function setup() {
      const B = __ENV.BASE;
      const jar = http.cookieJar();
      const steps = [jar === http.cookieJar()];
      http.get(B + '/set-cookie/s=9');
      jar.set(B + '/headers', 'a', '1');  // the default path: "/"
      jar.set(B + '/x', 'b', '2', {path: '/headers'});
      jar.set(B + '/', 'c', '3', {path: '/other'});
      jar.set(B + '/', 'd', '4', {domain: 'example.com'});  // not this host's: ignored
      // https only, in cookiesForURL; curl sends it to loopback over http all the same.
      jar.set(B + '/', 'e', '5', {secure: true});
      jar.set(B + '/', 'f', '6', {max_age: 60, http_only: true});
      jar.set(B + '/', 'g', '7', {expires: 'Wed, 21 Oct 2015 07:28:00 GMT'});  // past
      steps.push(sorted(jar.cookiesForURL(B + '/headers')));
      steps.push(cookieLines(http.get(B + '/headers'))[0].split('; ').sort());
      steps.push(sorted(jar.cookiesForURL(B + '/other/page')));
      jar.set(B + '/', 'f', '', {max_age: -1});
      jar.delete(B + '/headers', 'a');
      steps.push(sorted(jar.cookiesForURL(B + '/headers')));
      jar.clear(B + '/headers');
      steps.push(jar.cookiesForURL(B + '/headers'), jar.cookiesForURL(B + '/other'));
      return steps;
    }
    export default function () {}
  )"));
  EXPECT_EQ(json, R"([true,{"a":["1"],"b":["2"],"f":["6"],"s":["9"]},)"
                  R"(["a=1","b=2","e=5","f=6","s=9"],{"a":["1"],"c":["3"],"f":["6"],"s":["9"]},)"
                  R"({"b":["2"],"s":["9"]},{},{"c":["3"]}])");
}

TEST_F(HttpTest, CookieJarIsNotForTheInitContext) {
  SetScript("import http from 'k6/http'; http.cookieJar(); export default function () {}");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("init context"));
}

TEST_F(HttpTest, RedirectsCountEveryHop) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.get(__ENV.BASE + '/redirect/2');
      const stopped = http.get(__ENV.BASE + '/redirect/2', { redirects: 0 });
      return [r.status, r.body, r.url, stopped.status];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, absl::StrCat(R"([200,"done",")", server_.Url("/redirect/0"), R"(",302])"));
  TakeBatch();
  EXPECT_EQ(Sum("http_reqs"), 4);
  EXPECT_EQ(Sum("http_reqs", {{"url", server_.Url("/redirect/2")}, {"status", "302"}}), 2);
  EXPECT_EQ(Sum("http_reqs", {{"url", server_.Url("/redirect/1")}, {"status", "302"}}), 1);
  EXPECT_EQ(Sum("http_reqs", {{"url", server_.Url("/redirect/0")}, {"status", "200"}}), 1);
}

TEST_F(HttpTest, TransportErrorIsAResponseOrThrowsWithThrowOption) {
  // A port that was just free: nothing listens there.
  std::string closed;
  {
    loop::testing::TestHttpServer gone;
    closed = gone.Url("/");
  }
  test_.env["CLOSED"] = closed;
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.get(__ENV.CLOSED);
      return [r.status, r.error_code > 0, r.error.length > 0, r.body];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"([0,true,true,null])");
  TakeBatch();
  EXPECT_EQ(Nonzero("http_req_failed", {{"status", "0"}, {"expected_response", "false"}}), 1u);

  test_.throw_on_error = true;
  auto vu = MustCreate(
      "import http from 'k6/http'; export default function () { http.get(__ENV.CLOSED); }");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_FALSE(error.message.empty());
}

TEST_F(HttpTest, TimeoutAcceptsDurationStrings) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const r = http.get(__ENV.BASE + '/sleep/2000', { timeout: '150ms' });
      const ok = http.get(__ENV.BASE + '/sleep/10', { timeout: 5000 });
      return [r.status, r.error_code, ok.status];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"([0,1050,200])");
}

TEST_F(HttpTest, BatchKeepsShapeAndOrder) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const b = __ENV.BASE;
      const list = http.batch([
        b + '/hello',
        ['POST', b + '/echo', 'one'],
        { method: 'PUT', url: b + '/echo', body: 'two', params: { tags: { t: 'x' } } },
      ]);
      const named = http.batch({ a: b + '/hello', e: ['GET', b + '/status/404'] });
      return [list.length, list[0].body, list[1].body, list[2].body, list[2].headers['X-Method'],
              named.a.status, named.e.status];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"([3,"hello world","one","two","PUT",200,404])");
  TakeBatch();
  EXPECT_EQ(Sum("http_reqs"), 5);
  EXPECT_EQ(Sum("http_reqs", {{"t", "x"}, {"method", "PUT"}}), 1);
}

TEST_F(HttpTest, ResponseTypes) {
  test_.discard_response_bodies = true;
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const u = __ENV.BASE + '/hello';
      const none = http.get(u);
      const text = http.get(u, { responseType: 'text' });
      const bin = http.get(u, { responseType: 'binary' });
      return [none.body, text.body, bin.body instanceof ArrayBuffer, bin.body.byteLength];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"([null,"hello world",true,11])");
}

// Bytes 0..255, the file the upload tests send.
std::string AllBytes() {
  std::string bytes(256, '\0');
  for (int i = 0; i < 256; ++i) bytes[i] = static_cast<char>(i);
  return bytes;
}

TEST_F(HttpTest, FileMakesFileDataFromEveryDataType) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    const bin = open('./bytes.bin', 'b');
    const bytes = (f) => Array.from(new Uint8Array(f.data));
    export function setup() {
      const fromOpen = http.file(bin, 'test.bin');
      const fromString = http.file('hé', 'a.txt', 'text/plain');
      const fromArray = http.file([104, 105, 256 + 33]);
      const fromView = http.file(new Uint8Array(bin, 254, 2), 'v.bin');
      const now = Date.now();
      let error = '';
      try { http.file({}); } catch (e) { error = `${e.name}: ${e.message}`; }
      return [
        fromOpen.data === bin, fromOpen.data.byteLength, fromOpen.filename,
        fromOpen.content_type, bytes(fromString), fromString.filename, fromString.content_type,
        bytes(fromArray), fromArray.content_type, /^[0-9]{19}$/.test(fromArray.filename),
        Math.abs(Number(fromArray.filename) / 1e6 - now) < 60000, bytes(fromView),
        Object.keys(fromOpen), error,
      ];
    }
    export default function () {}
  )",
                                 {{"/test/bytes.bin", AllBytes()}});
  EXPECT_EQ(json, R"([true,256,"test.bin","application/octet-stream",[104,195,169],"a.txt",)"
                  R"("text/plain",[104,105,33],"application/octet-stream",true,true,[254,255],)"
                  R"(["data","filename","content_type"],)"
                  R"("TypeError: http.file() data must be a string, an Array or an ArrayBuffer"])");
}

// The echoed multipart body must be exactly what k6 (Go's multipart.Writer) sends: parts in the
// object's order, plain fields with a name only, files with name, filename and Content-Type.
TEST_F(HttpTest, BodyWithAFileIsMultipartLaidOutAsK6Does) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    import encoding from 'k6/encoding';
    const bin = open('./bytes.bin', 'b');
    export function setup() {
      const body = {
        field: 'a text field', bin: http.file(bin, 'bytes.bin'), n: 42,
        'quo"te': http.file('hello\r\n', 'dir\\a"b.txt', 'text/plain'), list: ['x', 'y'],
      };
      const r = http.post(__ENV.BASE + '/echo', body, { responseType: 'binary' });
      const again = http.post(__ENV.BASE + '/echo', body);
      return [encoding.b64encode(r.body), r.headers['X-Content-Type'],
              again.headers['X-Content-Type'] !== r.headers['X-Content-Type']];
    }
    export default function () {}
  )",
                                 {{"/test/bytes.bin", AllBytes()}});
  std::vector<std::string> parts = absl::StrSplit(json, '"');
  ASSERT_EQ(parts.size(), 5u) << json;
  EXPECT_EQ(parts[4], ",true]") << "a fresh boundary per request";
  const std::string& content_type = parts[3];
  ASSERT_TRUE(absl::StartsWith(content_type, "multipart/form-data; boundary=")) << content_type;
  std::string boundary = content_type.substr(content_type.find('=') + 1);
  EXPECT_EQ(boundary.size(), 60u);
  EXPECT_EQ(boundary.find_first_not_of("0123456789abcdef"), std::string::npos) << boundary;

  std::string body;
  ASSERT_TRUE(absl::Base64Unescape(parts[1], &body));
  // Each part's headers, blank line and content; the framing is "--boundary" CRLF before each
  // part, CRLF "--boundary" CRLF between parts and CRLF "--boundary--" CRLF at the end.
  const std::vector<std::string> want_parts = {
      "Content-Disposition: form-data; name=\"field\"\r\n\r\na text field",
      absl::StrCat("Content-Disposition: form-data; name=\"bin\"; filename=\"bytes.bin\"\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n",
                   AllBytes()),
      "Content-Disposition: form-data; name=\"n\"\r\n\r\n42",
      "Content-Disposition: form-data; name=\"quo\\\"te\"; filename=\"dir\\\\a\\\"b.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nhello\r\n",
      "Content-Disposition: form-data; name=\"list\"\r\n\r\n[x y]",
  };
  const std::string b = "--" + boundary;
  EXPECT_EQ(body, absl::StrCat(b, "\r\n", absl::StrJoin(want_parts, "\r\n" + b + "\r\n"), "\r\n", b,
                               "--\r\n"));
}

TEST_F(HttpTest, FormBodyTypeUnlessTheScriptSetsOne) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    export function setup() {
      const u = __ENV.BASE + '/echo';
      const own = http.post(u, { f: http.file('x') },
                            { headers: { 'content-type': 'multipart/form-data; boundary=mine' } });
      // Only http.file() makes a part a file: a look-alike object is a urlencoded value.
      const lookAlike = http.post(u, { f: { data: 'x', filename: 'a', content_type: 'b' } });
      return [own.headers['X-Content-Type'], lookAlike.headers['X-Content-Type'], lookAlike.body];
    }
    export default function () {}
  )");
  EXPECT_EQ(json, R"(["multipart/form-data; boundary=mine","application/x-www-form-urlencoded",)"
                  R"("f=%5Bobject+Object%5D"])");
}

TEST_F(HttpTest, BinaryBodiesAreSentByteForByte) {
  std::string json = SetupResult(R"(
    import http from 'k6/http';
    import encoding from 'k6/encoding';
    const bin = open('./bytes.bin', 'b');
    export function setup() {
      const u = __ENV.BASE + '/echo';
      const p = { responseType: 'binary' };
      const whole = http.post(u, bin, p);
      const view = http.put(u, new Uint8Array(bin, 1, 3), p);
      return [encoding.b64encode(whole.body), Array.from(new Uint8Array(view.body)),
              whole.headers['X-Content-Type']];
    }
    export default function () {}
  )",
                                 {{"/test/bytes.bin", AllBytes()}});
  EXPECT_EQ(json, absl::StrCat(R"([")", absl::Base64Escape(AllBytes()), R"(",[1,2,3],"<none>"])"));
}

TEST_F(HttpTest, RequestsInInitContextThrow) {
  SetScript(
      "import http from 'k6/http'; http.get(__ENV.BASE + '/hello');"
      "export default function () {}");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("init context"));
}

TEST_F(HttpTest, ResponsesSurviveGarbageCollection) {
  IterateOnce(R"(
    import http from 'k6/http';
    const kept = [];
    export default function () {
      for (let i = 0; i < 300; i++) {
        const r = http.get(__ENV.BASE + '/hello');
        if (i % 100 === 0) kept.push(r);
        const garbage = new Array(1000).fill(i);  // makes the young generation collect
      }
      for (const r of kept) if (r.body !== 'hello world') throw new Error('lost body');
    }
  )");
}

// Not a pass/fail benchmark: the loop thread's CPU time per http.get + check (the hot path of
// most scripts) with VOLLEY_BENCH_VUS VUs on one loop, against the same requests made by bare
// HttpClients on as many fibers. The server runs on other threads and is not counted.
TEST_F(HttpTest, CpuPerRequestOfGetAndCheck) {
  const char* n_env = getenv("VOLLEY_BENCH_N");
  const char* vus_env = getenv("VOLLEY_BENCH_VUS");
  const int per_vu = n_env != nullptr ? atoi(n_env) : 200;
  const int n_vus = vus_env != nullptr ? atoi(vus_env) : 10;
  auto thread_cpu_s = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
  };
  loop::FiberOptions options;
  options.unwind_on_destroy = false;

  // Bare HttpClient fibers.
  double start = thread_cpu_s();
  for (int v = 0; v < n_vus; ++v) {
    loop_.Spawn([&] {
      loop::HttpClient client(&loop_, {});
      loop::HttpRequest request;
      request.url = server_.Url("/hello");
      for (int i = 0; i < per_vu; ++i) (void)client.Do(request);
    });
  }
  loop_.Run(true);
  double bare_us = (thread_cpu_s() - start) / (per_vu * n_vus) * 1e6;

  SetScript(R"(
    import http from 'k6/http';
    import { check } from 'k6';
    export default function () {
      const r = http.get(__ENV.BASE + '/hello');
      check(r, { 'status is 200': (r) => r.status === 200 });
    }
  )");
  std::vector<std::unique_ptr<Vu>> vus;
  for (int v = 0; v < n_vus; ++v) {
    auto vu = Create(v + 1);
    ASSERT_TRUE(vu.ok()) << vu.status();
    vus.push_back(std::move(*vu));
  }
  int failures = 0;
  start = thread_cpu_s();
  for (auto& vu : vus) {
    loop_.Spawn(
        [&, v = vu.get()] {
          IterationInfo info;
          ScriptError error;
          for (int i = 0; i < per_vu; ++i) {
            info.iteration_in_scenario = i;
            auto r = v->RunIteration(info, &error);
            if (!r.ok() || !*r) ++failures;
          }
        },
        options);
  }
  loop_.Run(true);
  double us = (thread_cpu_s() - start) / (per_vu * n_vus) * 1e6;
  EXPECT_EQ(failures, 0);
  TakeBatch();
  EXPECT_EQ(Nonzero("checks"), static_cast<std::uint64_t>(per_vu * n_vus));
  std::printf(
      "[ bench    ] %d VUs, http.get + check: %.1f us CPU per request on the loop thread "
      "(%.0f per CPU-second); bare HttpClient: %.1f us (%.0f per CPU-second)\n",
      n_vus, us, 1e6 / us, bare_us, 1e6 / bare_us);
  EXPECT_LT(us, 1000);
}

}  // namespace
}  // namespace volley::js
