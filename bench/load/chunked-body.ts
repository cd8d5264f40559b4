/**
 * HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoded as bytes arrive on a raw socket:
 * servers may cut chunks anywhere, even inside "data:" (workerd does). Hands each piece of body
 * on as a view of the socket's buffer, without copying it; the load clients stay cheap.
 */
export class ChunkedBody {
  private sizeLine = "";
  private chunkLeft = 0;
  private skip = 0;

  constructor(private readonly onBody: (piece: Buffer) => void) {}

  feed(buffer: Buffer): void {
    let i = 0;
    while (i < buffer.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buffer.length - i);
        this.skip -= n;
        i += n;
      } else if (this.chunkLeft > 0) {
        const n = Math.min(this.chunkLeft, buffer.length - i);
        this.onBody(buffer.subarray(i, i + n));
        this.chunkLeft -= n;
        i += n;
        if (this.chunkLeft === 0) this.skip = 2; // the CRLF after the chunk
      } else {
        const lineEnd = buffer.indexOf(10, i);
        if (lineEnd < 0) {
          this.sizeLine += buffer.toString("latin1", i);
          return;
        }
        this.sizeLine += buffer.toString("latin1", i, lineEnd);
        this.chunkLeft = Number.parseInt(this.sizeLine, 16);
        this.sizeLine = "";
        i = lineEnd + 1;
        if (!(this.chunkLeft > 0)) return; // the last chunk: the stream ended
      }
    }
  }
}
