// The next code line has a syntax error at line 4.
export default function () {
  const a = 1;
  const b = a +* 2;
}
