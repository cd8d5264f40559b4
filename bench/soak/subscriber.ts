/**
 * One soak subscriber on a raw socket: it follows a feed stream, keeps what it needs to prove that
 * it saw every message id exactly once and in order (across its reconnections), and can be dropped
 * and resumed with `Last-Event-ID` as a browser's EventSource would. Thousands of these share one
 * process, so it keeps a few numbers, not the ids: the first and last id, how many, and their sum
 * (checked against the published ids at the end), plus every resume point.
 *
 * Parsing stays cheap: events are cut at their blank line, and only `id:` and `event:` lines are
 * looked at (the data is one line of message JSON, whose `"id":` never starts a line).
 */
import { connect, type Socket } from "node:net";
import { ChunkedBody } from "../load/chunked-body.ts";

const EVENT_END = Buffer.from("\n\n");
const ID_LINE = Buffer.from("\nid:");
const EVENT_LINE = Buffer.from("\nevent:");

export interface StreamAddress {
  host: string;
  port: number;
  path: string;
}

/** A resumption: the last id seen before the drop, and the first id seen after it. */
export interface Resume {
  after: number;
  first: number | undefined;
}

export class SoakSubscriber {
  /** Ids are counted as offsets from `base` (an id published before anyone subscribed), so sums stay exact. */
  first: number | undefined;
  last: number | undefined;
  count = 0;
  offsetSum = 0;
  /** Ids that were not above the previous one: repeated, or out of order. */
  notIncreasing = 0;
  /** Events with an `event:` field (the feed sends `history-truncated` when a replay lost messages). */
  namedEvents = 0;
  /** Streams the server ended or refused (not our own drops). */
  serverCloses = 0;
  failedOpens = 0;
  readonly resumes: Resume[] = [];
  connected = false;
  /** Still due to come back: a drop we made, or a close by the server, waiting for its reconnection. */
  away = false;

  private socket: Socket | undefined;
  private headersDone = false;
  private head = "";
  // Set when the response uses chunked transfer coding.
  private chunked: ChunkedBody | undefined;
  private partial: Buffer = Buffer.alloc(0);
  private resume: Resume | undefined;

  constructor(
    /** Where the next open() connects: a soak over several processes moves a subscriber between them. */
    public address: StreamAddress,
    private readonly base: number,
    private readonly onServerClose: (subscriber: SoakSubscriber) => void,
  ) {}

  /** Connects (resuming after the last id seen, if any) and resolves with the response headers. */
  open(): Promise<void> {
    const { host, port, path } = this.address;
    this.headersDone = false;
    this.head = "";
    this.chunked = undefined;
    this.partial = Buffer.alloc(0);
    const resumeHeader = this.last === undefined ? "" : `Last-Event-ID: ${this.last}\r\n`;
    if (this.last !== undefined) {
      this.resume = { after: this.last, first: undefined };
      this.resumes.push(this.resume);
    }
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n${resumeHeader}\r\n`,
        );
      });
      this.socket = socket;
      socket.setNoDelay(true);
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        if (error) {
          this.failedOpens++;
          reject(error);
        } else {
          this.connected = true;
          this.away = false;
          resolve();
        }
      };
      socket.on("data", (chunk: Buffer) => {
        if (this.headersDone) return this.onData(chunk);
        this.head += chunk.toString("latin1");
        const end = this.head.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!this.head.startsWith("HTTP/1.1 200")) return settle(new Error(this.head.split("\r\n")[0]));
        const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(this.head.slice(0, end));
        this.chunked = chunked ? new ChunkedBody((piece) => this.onBody(piece)) : undefined;
        this.headersDone = true;
        const rest = Buffer.from(this.head.slice(end + 4), "latin1");
        this.head = "";
        settle();
        if (rest.length > 0) this.onData(rest);
      });
      socket.on("error", (error) => settle(error));
      socket.on("close", () => {
        settle(new Error("closed before its headers"));
        if (this.socket !== socket) return;
        this.socket = undefined;
        const wasConnected = this.connected;
        this.connected = false;
        if (wasConnected && !this.away) {
          this.serverCloses++;
          this.away = true;
          this.onServerClose(this);
        }
      });
    });
  }

  /** Drops the connection as a client that goes away (it comes back with `open()`). */
  drop(): void {
    this.away = true;
    this.connected = false;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.chunked) this.chunked.feed(chunk);
    else this.onBody(chunk);
  }

  /** Handles every whole event in `piece` (and what was left of the previous one). */
  private onBody(piece: Buffer): void {
    // A leading LF makes every field line, the first included, follow a "\n".
    const text = this.partial.length > 0 ? Buffer.concat([this.partial, piece]) : Buffer.concat([EVENT_END, piece]);
    const end = text.lastIndexOf(EVENT_END);
    if (end < 2) {
      this.partial = text;
      return;
    }
    // Keep the unfinished event, behind the LF that ends the last whole one.
    this.partial = Buffer.from(text.subarray(end + 1));
    const whole = text.subarray(0, end + 2);
    for (let at = whole.indexOf(ID_LINE); at >= 0; at = whole.indexOf(ID_LINE, at + ID_LINE.length)) {
      this.onId(readNumber(whole, at + ID_LINE.length));
    }
    for (let at = whole.indexOf(EVENT_LINE); at >= 0; at = whole.indexOf(EVENT_LINE, at + EVENT_LINE.length)) {
      this.namedEvents++;
    }
  }

  private onId(id: number): void {
    if (this.resume !== undefined) {
      this.resume.first = id;
      this.resume = undefined;
    }
    if (this.last !== undefined && id <= this.last) {
      this.notIncreasing++;
      return;
    }
    this.first ??= id;
    this.last = id;
    this.count++;
    this.offsetSum += id - this.base;
  }
}

/** The whole number after an optional space at `at`, up to the end of the line. */
function readNumber(buffer: Buffer, at: number): number {
  let i = buffer[at] === 32 ? at + 1 : at;
  let value = 0;
  for (; i < buffer.length; i++) {
    const digit = (buffer[i] as number) - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return value;
}
