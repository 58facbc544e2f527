// A threshold that cannot hold: every check fails, and checks must all pass. k6 exits 99.
import { check } from 'k6';

export const options = {
  vus: 1,
  iterations: 3,
  thresholds: { checks: ['rate>0.99'] },
};

export default function () {
  check(1, { 'one is two': (v) => v === 2 });
}
