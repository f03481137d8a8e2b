/**
 * externalId → customers.id for the customers an import has already written events for, so later batches can
 * send the id instead of having the database look it up. Bounded: past `max` entries it starts over (an import
 * over tens of millions of customers keeps constant memory and merely looks some customers up again).
 */
export class CustomerIdCache {
  private readonly ids = new Map<string, number>();

  constructor(private readonly max = 1_000_000) {}

  get(externalId: string): number | undefined {
    return this.ids.get(externalId);
  }

  /** Only ids from committed transactions: a rolled-back batch's new customers do not exist. */
  set(externalId: string, id: number): void {
    if (this.ids.size >= this.max && !this.ids.has(externalId)) this.ids.clear();
    this.ids.set(externalId, Number(id));
  }

  get size(): number {
    return this.ids.size;
  }
}
