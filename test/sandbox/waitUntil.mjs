// The polling wait of the .mjs test helpers (the TypeScript tests have sandboxHost.ts `waitFor`).

/** Polls `check` every `intervalMs` until it holds; fails naming `what` after `timeoutMs` (a bound, not a timing assertion). */
export async function waitUntil(what, check, timeoutMs, intervalMs = 500) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
