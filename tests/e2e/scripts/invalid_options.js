// Negative VUs: k6 rejects the options before running anything and exits 104.
export const options = { vus: -1, duration: '1s' };

export default function () {}
