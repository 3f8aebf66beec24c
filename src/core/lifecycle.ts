/**
 * open/close safe to call twice and concurrently: the second caller gets the first call's promise.
 */
export abstract class Resource {
  private opening: Promise<void> | null = null;
  private closing: Promise<void> | null = null;

  ready(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.opening) await this.opening.catch(() => undefined);
      await this.shutdown();
    })();
    return this.closing;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  protected abstract open(): Promise<void>;
  protected abstract shutdown(): Promise<void>;
}
