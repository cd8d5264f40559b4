/**
 * Where the memory log keeps one stream's entries: copied into pages of the stream's own, each entry a
 * view of its bytes. An entry in a buffer of its own costs more than twice its bytes again in objects
 * (the buffer, its backing store, the view: 194 B of heap and 652 B of RSS for a 75-byte entry, against
 * 106 and 297 as a view of a page, measured on Node 20), and an answer appends one token's chunk at a
 * time: on Node's memory log, with the young generation capped at 1 MB so that what is kept shows,
 * an answer in flight held 83 KiB before and 34 to 58 after (bench:answers, 100 answers, 1 reader).
 *
 * Pages belong to one stream, so that no stream's entries keep another's alive; they grow from
 * FIRST_PAGE_BYTES by doubling up to PAGE_BYTES, so that a stream of a few entries keeps a few
 * hundred bytes, not a page. A page lives as long as any entry in it: retention that drops a
 * stream's oldest entries frees their pages once it has dropped every entry in them.
 */

const FIRST_PAGE_BYTES = 256;
export const PAGE_BYTES = 16 * 1024;

export class EntryPages {
  private page = new Uint8Array(0);
  private used = 0;

  /** The entries as this stream keeps them: each one copied into a page, or as it came if that large. */
  keep(entries: readonly Uint8Array[]): Uint8Array[] {
    return entries.map((entry) => this.copy(entry));
  }

  private copy(entry: Uint8Array): Uint8Array {
    const size = entry.byteLength;
    // A large entry costs little more in a buffer of its own than its bytes.
    if (size >= PAGE_BYTES / 4) return entry;
    if (this.used + size > this.page.byteLength) {
      let pageBytes = Math.min(PAGE_BYTES, Math.max(FIRST_PAGE_BYTES, this.page.byteLength * 2));
      while (pageBytes < size) pageBytes *= 2;
      this.page = new Uint8Array(pageBytes);
      this.used = 0;
    }
    const kept = this.page.subarray(this.used, this.used + size);
    kept.set(entry);
    this.used += size;
    return kept;
  }
}
