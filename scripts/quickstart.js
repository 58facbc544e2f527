// The scenario scripts/quickstart.sh runs: a plain k6 script against a local httpbin
// (BASE_URL). Bounded both ways: at most 300 iterations and at most 20 seconds.
import http from 'k6/http';
import { check, group, sleep } from 'k6';

export const options = {
  scenarios: {
    quickstart: { executor: 'shared-iterations', vus: 10, iterations: 300, maxDuration: '20s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
    checks: ['rate>0.99'],
  },
};

const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export default function () {
  group('read', () => {
    const res = http.get(`${base}/get?vu=${__VU}&iter=${__ITER}`);
    check(res, {
      'status is 200': (r) => r.status === 200,
      'echoes the query': (r) => r.json().args.vu === String(__VU),
    });
  });
  group('write', () => {
    const res = http.post(`${base}/post`, JSON.stringify({ hello: 'volley' }), {
      headers: { 'Content-Type': 'application/json' },
    });
    check(res, { 'posted JSON comes back': (r) => r.json().json.hello === 'volley' });
  });
  sleep(0.2);
}
