/** History in process memory: the last `limit` messages of one channel. */
import type { Message, NewMessage } from "./message.ts";
import type { MessageStore } from "./store.ts";

export class MemoryMessageStore implements MessageStore {
  // messages[head..] are retained; the dropped prefix is cut off in batches, not on every append.
  private messages: Message[] = [];
  private head = 0;
  private lastId: number;

  /**
   * @param firstId ids continue from here. The memory hub seeds it from the clock so that ids
   *   keep increasing across a restart, and a client resuming with an old Last-Event-ID gets
   *   everything published since.
   */
  constructor(
    private readonly limit: number,
    firstId = 1,
  ) {
    this.lastId = firstId - 1;
  }

  append(input: NewMessage, createdAt: string): Message {
    const message: Message = { id: ++this.lastId, text: input.text, author: input.author ?? null, createdAt };
    this.messages.push(message);
    if (this.messages.length - this.head > this.limit) this.head++;
    if (this.head >= Math.max(64, this.limit)) {
      this.messages = this.messages.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  after(after: number, limit: number): Message[] {
    const start = this.indexAfter(after);
    return this.messages.slice(start, start + limit);
  }

  oldestId(): number | undefined {
    return this.messages[this.head]?.id;
  }

  latestId(): number {
    return this.lastId;
  }

  /** Index of the first retained message with an id above `after` (ids are sorted: binary search). */
  private indexAfter(after: number): number {
    let low = this.head;
    let high = this.messages.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.messages[middle] as Message).id <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
