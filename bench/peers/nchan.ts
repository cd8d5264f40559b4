/**
 * nchan (https://nchan.io), the pub/sub module for nginx, as a peer: C inside nginx, the figure the
 * in-memory hub's CPU per delivered event is held against. Debian's `libnginx-mod-nchan` provides the
 * module (npm test's setup step installs it: scripts/setup.mjs).
 *
 * One nginx process (no master, one worker) serves bench/peers/README.md's contract: `POST /publish`
 * (`nchan_publisher`), `GET /stream` (`nchan_subscriber eventsource`: it opens with `: hi` and sends
 * `id:` + `data:` per message) and `GET /stats` (`nchan_stub_status`, whose `subscribers:` line
 * counts them; the channel's own info answers 404 while it has no subscriber). Its buffer
 * keeps the last 1,000 messages, as edge-sse's HISTORY_LIMIT in the benchmark.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NCHAN_MODULE_PATH = "/usr/lib/nginx/modules/ngx_nchan_module.so";
const NGINX = "/usr/sbin/nginx";

/** The command line of an nginx serving nchan on 127.0.0.1:`port`, its config in a new temp folder. */
export function nchanCommand(port: number): { cmd: string; args: string[] } {
  const prefix = mkdtempSync(join(tmpdir(), "edge-sse-nchan-"));
  mkdirSync(join(prefix, "logs"));
  const config = join(prefix, "nginx.conf");
  writeFileSync(
    config,
    `load_module ${NCHAN_MODULE_PATH};
worker_processes 1;
worker_rlimit_nofile 40000;
error_log stderr error;
pid ${join(prefix, "nginx.pid")};
events { worker_connections 30000; }
http {
  access_log off;
  client_body_temp_path ${join(prefix, "body")};
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /publish { nchan_publisher; nchan_channel_id bench; nchan_message_buffer_length 1000; }
    location = /stats { nchan_stub_status; }
    location = /stream { nchan_subscriber eventsource; nchan_channel_id bench; }
  }
}
`,
  );
  // In the foreground and in one process, so the benchmark's CPU and memory readings are nginx's own.
  return { cmd: NGINX, args: ["-p", prefix, "-c", config, "-g", "daemon off; master_process off;"] };
}
