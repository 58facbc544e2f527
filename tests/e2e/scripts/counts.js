// A known amount of work, to compare Volley's counts with the server's access log:
// setup 1 request, 3 VUs x 20 iterations x 2 requests, teardown 1 request.
// BASE_URL is the target (httpbin or the TLS front); RUN_ID marks this run's paths.
import http from 'k6/http';
import { check } from 'k6';

const base = `${__ENV.BASE_URL}/anything/${__ENV.RUN_ID}`;

export const options = {
  scenarios: {
    counts: { executor: 'per-vu-iterations', vus: 3, iterations: 20, maxDuration: '60s' },
  },
};

export function setup() {
  http.get(`${base}/setup`);
  return { marker: 'from-setup' };
}

export default function (data) {
  check(data, { 'setup data reached the VU': (d) => d && d.marker === 'from-setup' });
  http.get(`${base}/a?vu=${__VU}&iter=${__ITER}`);
  http.get(`${base}/b`);
}

export function teardown(data) {
  http.get(`${base}/teardown?marker=${data.marker}`);
}
