/** One sample of where the fleet's bytes came from, summed over the followers' reports. */
export interface BytesSample {
  t: number;
  fromPublisher: number;
  fromPeers: number;
}

/** The last `max` samples, for the dashboard's chart. */
export class BytesHistory {
  private readonly samples: BytesSample[] = [];

  constructor(private readonly max: number) {}

  add(s: BytesSample): void {
    this.samples.push(s);
    if (this.samples.length > this.max) this.samples.shift();
  }

  list(): BytesSample[] {
    return [...this.samples];
  }
}
