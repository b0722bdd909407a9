// When to reconnect: one small pure function, so that the server's load tests
// can replay exactly what every open tab will do after a deploy.
//
// nextDelay(attempt, code, random) -> milliseconds, or null (do not retry)
//
//   attempt  failed attempts since the last state frame (0 for the first
//            retry; the connection resets it to 0 when a state frame arrives)
//   code     the close code of the socket that just closed (1006 when it never
//            opened)
//   random   a number in [0, 1), Math.random() in the browser
//
//   normal(a)   = FLOOR + random * (min(CAP, FIRST * 2 ** a) - FLOOR)
//                 with FLOOR = 250, FIRST = 3000, CAP = 30000: full jitter from
//                 the first retry: 0.25-3 s, then 0.25-6 s, 0.25-12 s,
//                 0.25-24 s, then 0.25-30 s for ever
//   4401        null: not logged in (or the session was revoked): never retry
//   4408        attempt 0: 250 + random * 1000 (fell behind: back soon, then
//               recover over HTTP); later attempts: normal(attempt)
//   4409        45000 + random * 30000: too many sockets for this user on the
//               server: wait about a minute (the tab polls over HTTP meanwhile)
//   4429        normal(attempt + 1): rate limited: the same curve, one step on
//   4503        normal(attempt): the server cannot deliver live right now (polls
//               meanwhile)
//   any other   normal(attempt) (1000, 1001, 1006, 1011, 1012, 4000 heartbeat
//               timeout, 4440 session gone: the browser's cookie may log in
//               under a new session key; if not, that handshake gets 4401, ...)
//
// In Python: floor + random * (min(30000, 3000 * 2 ** attempt) - floor).
// There is never a retry without a delay of at least 250 ms, so a server that
// closes every socket at once is never hit by a tight loop.

export const FLOOR_MS = 250;
export const FIRST_MS = 3000;
export const CAP_MS = 30000;

/** Close codes after which the tab also polls over HTTP while it waits. */
export const POLL_WHILE_WAITING = new Set([4409, 4503]);

export function normalDelay(attempt, random) {
  const ceiling = Math.min(CAP_MS, FIRST_MS * 2 ** Math.min(Math.max(attempt, 0), 16));
  return FLOOR_MS + random * (ceiling - FLOOR_MS);
}

export function nextDelay(attempt, code, random) {
  switch (code) {
    case 4401:
      return null;
    case 4408:
      return attempt === 0 ? 250 + random * 1000 : normalDelay(attempt, random);
    case 4409:
      return 45000 + random * 30000;
    case 4429:
      return normalDelay(attempt + 1, random);
    default:
      return normalDelay(attempt, random);
  }
}
