/**
 * Taking an instance group out of service (when its function is replaced
 * or deleted): once the drain begins nothing new starts, in-flight and
 * queued requests still finish, and the drain is done when nothing is left:
 * no instance alive, starting or being torn down, and no request waiting.
 * Whatever may have been the last to go calls check().
 */
export class GroupDrain {
  #active = false;
  #done: (() => void) | undefined;
  #promise: Promise<void> | undefined;

  constructor(
    /** What is left: live, starting and dying instances and waiting requests. */
    readonly left: () => number,
    /** Nothing is left: frees what the group still holds (its template). */
    readonly finished: () => void,
  ) {}

  /** True once the drain began (it never ends before the group does). */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Begins the drain (once: later calls get the same promise). stop: takes
   * the group out of service. Resolves when nothing is left.
   */
  begin(stop: () => void): Promise<void> {
    if (this.#promise) return this.#promise;
    this.#active = true;
    this.#promise = new Promise<void>((resolve) => (this.#done = resolve));
    stop();
    this.check();
    return this.#promise;
  }

  /** Resolves the drain if it began and nothing is left. */
  check(): void {
    if (!this.#active || !this.#done) return;
    if (this.left() === 0) {
      this.finished();
      const done = this.#done;
      this.#done = undefined;
      done();
    }
  }
}
