// The scenario scripts/bench.sh gives Volley: one GET and one check per iteration, no sleep,
// BENCH_VUS VUs for BENCH_SECONDS seconds (and never more than 5 million iterations).
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  scenarios: {
    bench: {
      executor: 'shared-iterations',
      vus: Number(__ENV.BENCH_VUS || 50),
      iterations: 5000000,
      maxDuration: `${__ENV.BENCH_SECONDS || 10}s`,
    },
  },
};

export default function () {
  const res = http.get(__ENV.BENCH_URL);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
