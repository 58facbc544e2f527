// Runs far longer than the test waits: the test sends SIGINT after a few seconds and expects
// k6's behaviour: a graceful stop, the summary, and exit code 105.
import http from 'k6/http';
import { sleep } from 'k6';

export const options = { vus: 2, duration: '60s' };

export default function () {
  http.get(`${__ENV.BASE_URL}/anything/${__ENV.RUN_ID}/tick`);
  sleep(0.1);
}
