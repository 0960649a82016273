/**
 * Failed sign-ins, limited per account (the email typed, known or not, so the limit says nothing
 * about which emails exist) and per client address: ACCOUNT_FAILURES failures of one email, or
 * ADDRESS_FAILURES from one address, within WINDOW_MS lock that email or address out until the
 * oldest failure leaves the window. Kept in this process's memory: each instance of a cluster
 * counts on its own, and a restart forgets (both said in the README).
 */
export const WINDOW_MS = 15 * 60_000;
export const ACCOUNT_FAILURES = 5;
export const ADDRESS_FAILURES = 20;
/** Keys kept at most; the oldest are dropped beyond (a flood of made-up emails must not grow memory without bound). */
const MAX_KEYS = 50_000;

export class FailedSignIns {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: () => number) {}

  /** Seconds until a sign-in for this account from this address may be tried, or 0 when it may now. */
  retryAfter(account: string, address: string): number {
    const now = this.clock();
    const wait = (key: string, max: number) => {
      const recent = this.recent(key, now);
      return recent.length >= max ? Math.ceil((recent[recent.length - max]! + WINDOW_MS - now) / 1000) : 0;
    };
    return Math.max(wait(`a:${account}`, ACCOUNT_FAILURES), wait(`ip:${address}`, ADDRESS_FAILURES), 0);
  }

  /** Count one failure against the account and the address. */
  fail(account: string, address: string): void {
    const now = this.clock();
    for (const key of [`a:${account}`, `ip:${address}`]) {
      const recent = this.recent(key, now);
      recent.push(now);
      this.failures.delete(key);
      this.failures.set(key, recent);
    }
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** A successful sign-in clears the account's failures (not the address's). */
  succeed(account: string): void {
    this.failures.delete(`a:${account}`);
  }

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }
}
