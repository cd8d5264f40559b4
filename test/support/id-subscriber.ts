/**
 * An `eventsource` client (a real EventSource) that records the ids of the messages it receives,
 * and can be dropped and resumed after the last one, where it was or at another server.
 */
import { EventSource } from "eventsource";

export class IdSubscriber {
  readonly ids: number[] = [];
  opened!: Promise<void>;
  private source!: EventSource;

  constructor(private url: string) {
    this.connect(url);
  }

  /** Drops the connection and opens a new one at `url` that resumes after the last id seen. */
  resume(url = this.url) {
    this.source.close();
    this.url = url;
    const last = this.ids.at(-1);
    this.connect(last === undefined ? url : `${url}?lastEventId=${last}`);
  }

  close() {
    this.source.close();
  }

  private connect(url: string) {
    const source = new EventSource(url);
    this.source = source;
    this.opened = new Promise((resolve) => {
      source.onopen = () => resolve();
    });
    source.onmessage = (event) => this.ids.push(Number(event.lastEventId));
  }
}
