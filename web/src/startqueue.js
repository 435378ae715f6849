// Starting a lab may wait in the server's admission queue: the start API
// answers 202 {queued, position, message} instead of hanging, and asking
// again keeps the learner's place (the server holds each ask a few
// seconds, so asking again at once does not spin).

/**
 * Starts a lab session, asking again while the server queues the start.
 * @param {() => Promise<any>} post sends one start request
 * @param {(q: {position: number, message: string}) => void} onQueued
 * @param {{maxAsks?: number, pauseMs?: number}} [opts]
 * @returns {Promise<any>} the session
 */
export async function startWithQueue(post, onQueued, opts = {}) {
  const maxAsks = opts.maxAsks ?? 2000; // hours at the server's hold time
  const pauseMs = opts.pauseMs ?? 250;
  for (let i = 0; i < maxAsks; i++) {
    const res = await post();
    if (!res || res.queued !== true) return res;
    const position = Number.isInteger(res.position) && res.position > 0 ? res.position : 0;
    onQueued({ position, message: queueMessage(position) });
    // A short pause guards against a server that answers at once.
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error('The lab did not start: the queue did not move.');
}

/** What the learner reads while waiting. */
export function queueMessage(position) {
  if (position <= 0) return 'waiting for a free place to start your lab…';
  if (position === 1) return 'you are next in line to start your lab…';
  return `you are number ${position} in line to start your lab…`;
}
