/**
 * The time stamp of every log line parsl-ts writes (`parsl.log`, `database_manager.log`):
 * local time, like the monitoring database's timestamps so log lines and rows can be matched
 * by eye, with the UTC offset appended so the text is unambiguous
 * (`2026-12-01 21:15:54.123+01:00`).
 */
export function logTimestamp(d: Date = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  const off = -d.getTimezoneOffset(); // minutes east of UTC
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off);
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` +
    `.${p(d.getMilliseconds(), 3)}${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`
  );
}
