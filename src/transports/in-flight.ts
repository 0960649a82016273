/** Tool calls still running, so shutdown can let them answer before the transport closes. */
export class InFlightCalls {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** Count `call` until it settles; returns it unchanged. */
  track<T>(call: Promise<T>): Promise<T> {
    this.count++;
    const done = () => {
      this.count--;
      if (this.count > 0) return;
      // The SDK writes the response after the handler's promise settles: let it run first.
      setImmediate(() => {
        if (this.count > 0) return;
        for (const w of this.waiters.splice(0)) w();
      });
    };
    call.then(done, done);
    return call;
  }

  get size(): number {
    return this.count;
  }

  /** Resolves once no call is running (at once when none is). */
  drained(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
