// k6's cookie API against httpbin: the VU jar filled by Set-Cookie (redirect hops included), a
// Cookie header merged with it, params.cookies with and without replace, res.cookies and
// http.cookieJar(). Every check must pass.
import http from 'k6/http';
import { check } from 'k6';

export const options = { vus: 1, iterations: 1 };

const B = __ENV.BASE_URL;
const sent = (r) => r.json().cookies;

export default function () {
  let r = http.get(`${B}/cookies/set?one=1&two=2`);
  check(r, { 'jar keeps cookies of a redirect hop': (r) => sent(r).one === '1' && sent(r).two === '2' });

  r = http.get(`${B}/cookies/set?three=3`, { redirects: 0 });
  check(r, {
    'res.cookies lists Set-Cookie': (r) =>
      r.cookies.three.length === 1 && r.cookies.three[0].value === '3' &&
      r.cookies.three[0].path === '/',
  });

  r = http.get(`${B}/headers`, { headers: { Cookie: 'x=1' } });
  check(r, {
    'one Cookie header with the jar and the script cookie': (r) =>
      r.json().headers.Cookie.split('; ').sort().join('; ') === 'one=1; three=3; two=2; x=1',
  });

  r = http.get(`${B}/cookies`, { cookies: { one: { value: 'uno', replace: true }, four: 'hello world' } });
  check(r, {
    'replace: true wins over the jar': (r) => sent(r).one === 'uno',
    'request cookie sent': (r) => sent(r).four === 'hello world',
  });
  r = http.get(`${B}/cookies`);
  check(r, { 'request cookies stay out of the jar': (r) => sent(r).one === '1' && sent(r).four === undefined });

  const jar = http.cookieJar();
  jar.set(`${B}/cookies`, 'five', '5');
  check(jar.cookiesForURL(`${B}/cookies`), { 'cookiesForURL sees set()': (c) => c.five[0] === '5' && c.one[0] === '1' });
  check(http.get(`${B}/cookies`), { 'set() cookie sent': (r) => sent(r).five === '5' });
  jar.delete(`${B}/cookies`, 'one');
  check(http.get(`${B}/cookies`), { 'delete() removes one': (r) => sent(r).one === undefined && sent(r).two === '2' });
  jar.clear(`${B}/cookies`);
  check(http.get(`${B}/cookies`), { 'clear() empties': (r) => Object.keys(sent(r)).length === 0 });
}
