/**
 * A raw-socket subscriber that never reads: what a stuck or malicious client looks like to the
 * server, for the backpressure and drop-logging tests.
 */
import { connect, type Socket } from "node:net";

/** A subscriber that sends its request, waits for the response headers, then never reads again. */
export function silentSubscriber(url: URL): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
      socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    let head = "";
    socket.on("error", () => undefined); // the server resets it when it drops the client
    socket.on("data", function onData(chunk: Buffer) {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      socket.pause();
      if (head.startsWith("HTTP/1.1 200")) resolve(socket);
      else reject(new Error(`the stream answered ${head.split("\r\n")[0]}`));
    });
  });
}
