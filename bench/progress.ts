/**
 * A one-line progress bar on stderr (redrawn in place on a terminal, one line per
 * update otherwise, so logs stay readable).
 * @module
 */

/**
 * Progress of a fixed number of steps.
 *
 * @example
 * ```ts
 * const bar = new Progress(4);
 * bar.step("resnet14 ORT f32");
 * bar.done();
 * ```
 */
export class Progress {
  #done = 0;
  #tty: boolean;
  #enc = new TextEncoder();

  constructor(private total: number, private enabled = true) {
    this.#tty = Deno.stderr.isTerminal();
  }

  /** Marks one step finished (and says what comes next). */
  step(label: string): void {
    this.#done = Math.min(this.total, this.#done + 1);
    this.#draw(label);
  }

  /** Shows what is running without advancing. */
  note(label: string): void {
    this.#draw(label);
  }

  /** Ends the bar (newline on a terminal). */
  done(): void {
    if (this.enabled && this.#tty) Deno.stderr.writeSync(this.#enc.encode("\n"));
  }

  #draw(label: string) {
    if (!this.enabled) return;
    const w = 24, f = this.total ? Math.round((w * this.#done) / this.total) : w;
    const line = `[${"#".repeat(f)}${"-".repeat(w - f)}] ${this.#done}/${this.total} ${label}`;
    Deno.stderr.writeSync(
      this.#enc.encode(this.#tty ? `\r\x1b[2K${line.slice(0, 120)}` : `${line}\n`),
    );
  }
}
