// setup() throws: k6 exits 107 and no iteration runs.
import http from 'k6/http';

export const options = { vus: 1, iterations: 3 };

export function setup() {
  throw new Error('volley-e2e setup exploded');
}

export default function () {
  http.get(`${__ENV.BASE_URL}/anything/${__ENV.RUN_ID}/default`);
}
