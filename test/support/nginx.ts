/**
 * Starts Debian's nginx (installed by npm test's setup step, scripts/setup.mjs) as a reverse proxy in front of a running server:
 * its own process with a generated config in a temporary directory, listening on a free loopback
 * port; stops it (master and workers) and removes the directory afterwards.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, spawnGroup, stopGroup, waitUntilServing } from "./process-group.ts";

export const NGINX_PATH = "/usr/sbin/nginx";

/**
 * The proxy as a user would write it, shown verbatim in docs/deploy.md. Nothing SSE-specific: no
 * `proxy_buffering off`, so nginx buffers by default and the app's `X-Accel-Buffering: no` header
 * is what turns that off for its streams.
 */
export function nginxLocation(readTimeoutSeconds = 60): string {
  return `location / {
    proxy_pass http://edge_sse;
    # HTTP/1.1 with an empty Connection header: chunked streaming, and upstream keep-alive.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    # Must be longer than KEEP_ALIVE_MS (5 s by default): a quiet stream stays open.
    proxy_read_timeout ${readTimeoutSeconds}s;
}`;
}

/** The location block with nginx's default 60 s read timeout, as docs/deploy.md shows it. */
export const NGINX_LOCATION = nginxLocation();

/** The upstream the location proxies to; `keepalive` reuses connections to the app. */
export function nginxUpstream(server = "127.0.0.1:8787"): string {
  return `upstream edge_sse {
    server ${server};
    keepalive 16;
}`;
}

/** The upstream block for the app's default address, as docs/deploy.md shows it. */
export const NGINX_UPSTREAM = nginxUpstream();

export interface NginxOptions {
  /** Listen here instead of on a free port: nginx started again where its clients left it. */
  port?: number;
  /** `proxy_read_timeout`: how long nginx waits for the next byte from the app before it gives up. */
  readTimeoutSeconds: number;
  /**
   * Adds `gzip on; gzip_types text/event-stream;` outside the location, as a "compress all text"
   * setup does. nginx's gzip holds output back until the app's data is flushed to it, which only
   * unbuffered responses are.
   */
  gzipEventStreams?: boolean;
  /**
   * Adds `proxy_ignore_headers X-Accel-Buffering;` outside the location: nginx then buffers the
   * streams as it would for an app without the header. Only for control tests.
   */
  ignoreAccelBuffering?: boolean;
}

export interface RunningNginx {
  url: string;
  /** The whole generated nginx.conf. */
  config: string;
  /** Everything nginx printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startNginx(upstreamUrl: string, options: NginxOptions): Promise<RunningNginx> {
  // Fail loudly: a skipped proxy test would look like a passing one.
  if (!existsSync(NGINX_PATH)) {
    throw new Error(
      `${NGINX_PATH} is missing: run npm test (its setup step installs it) or apt-get install -y nginx-light`,
    );
  }
  const host = "127.0.0.1";
  const port = await freePort(host, options.port);
  const upstream = new URL(upstreamUrl);
  const prefix = await mkdtemp(join(tmpdir(), "edge-sse-nginx-"));
  const config = nginxConfig(prefix, `${host}:${port}`, upstream.host, options);
  const configPath = join(prefix, "nginx.conf");
  await writeFile(configPath, config);

  // A process group of its own, so stop() reaches nginx's workers too.
  // -e: the error log before the config is read (Debian's default is stderr, but say so).
  const { child, output } = spawnGroup(NGINX_PATH, ["-p", prefix, "-c", configPath, "-e", join(prefix, "error.log")]);
  const url = `http://${host}:${port}`;
  const nginx: RunningNginx = {
    url,
    config,
    output,
    stop: async () => {
      await stopGroup(child);
      await rm(prefix, { recursive: true, force: true });
    },
  };
  try {
    // Through nginx to the app: ready means the whole path answers, not just the port.
    await waitUntilServing(`${url}/api/stats`, child, 15_000);
  } catch (error) {
    await nginx.stop();
    throw new Error(`nginx did not start: ${(error as Error).message}\n${output()}\n${config}`);
  }
  return nginx;
}

/** A complete nginx.conf that writes nothing outside `prefix` and runs fine as root or not. */
function nginxConfig(prefix: string, listen: string, upstream: string, options: NginxOptions): string {
  const path = (name: string) => join(prefix, name);
  // As root, workers would switch to `nobody`, who cannot use the private temp directory.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : "";
  const extra = [
    ...(options.gzipEventStreams ? ["gzip on;", "gzip_types text/event-stream;"] : []),
    ...(options.ignoreAccelBuffering ? ["proxy_ignore_headers X-Accel-Buffering;"] : []),
  ].map((line) => `        ${line}\n`);
  const indent = (block: string, spaces: string) => spaces + block.replaceAll("\n", `\n${spaces}`);
  return `${user}daemon off;
worker_processes 1;
pid ${path("nginx.pid")};
lock_file ${path("nginx.lock")};
error_log ${path("error.log")} warn;

events {
    worker_connections 256;
}

http {
    access_log ${path("access.log")};
    client_body_temp_path ${path("client_body_temp")};
    proxy_temp_path ${path("proxy_temp")};
    fastcgi_temp_path ${path("fastcgi_temp")};
    uwsgi_temp_path ${path("uwsgi_temp")};
    scgi_temp_path ${path("scgi_temp")};

${indent(nginxUpstream(upstream), "    ")}

    server {
        listen ${listen};
        server_name localhost;
${extra.join("")}${indent(nginxLocation(options.readTimeoutSeconds), "        ")}
    }
}
`;
}
