// k6's multipart upload (its "Data Uploads" example, made checkable): a form with a text field,
// a binary file read with open(path, 'b') and a text file, posted to httpbin's /post, which
// echoes the fields it parsed as `form` and the files as `files` (a file that is not UTF-8 as a
// data: URL of its Content-Type). BASE_URL is httpbin; bytes.bin sits next to this script.
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';

const binFile = open('./bytes.bin', 'b');

export const options = {
  scenarios: {
    upload: { executor: 'per-vu-iterations', vus: 2, iterations: 3, maxDuration: '60s' },
  },
};

export default function () {
  const res = http.post(`${__ENV.BASE_URL}/post`, {
    field: 'this is a standard form field',
    file: http.file(binFile, 'bytes.bin'),
    note: http.file('plain text', 'note.txt', 'text/plain'),
  });
  const body = res.status === 200 ? res.json() : { form: {}, files: {}, headers: {} };
  check(res, {
    'status is 200': (r) => r.status === 200,
    'sent as multipart/form-data': () =>
      /^multipart\/form-data; boundary=[0-9a-f]{60}$/.test(body.headers['Content-Type']),
    'httpbin saw the form field': () => body.form.field === 'this is a standard form field',
    'httpbin saw the binary file byte for byte': () =>
      body.files.file === `data:application/octet-stream;base64,${encoding.b64encode(binFile)}`,
    'httpbin saw the text file': () => body.files.note === 'plain text',
  });
}
