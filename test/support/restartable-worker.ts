/**
 * wrangler dev running test/workers/restartable-worker.ts (the Worker with routes that restart a
 * channel's or a stream's object), or another test entry: the project's wrangler.toml, copied to a
 * folder of its own and pointed at that Worker. Stopping the server removes the copy.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type RunningServer, type Settings, startServer } from "./server.ts";

const ROOT = resolve(import.meta.dirname, "../..");

export function startRestartableWorker(settings: Settings): Promise<RunningServer> {
  return startWorkerEntry("test/workers/restartable-worker.ts", settings);
}

/** wrangler dev running another entry (`main`, from the project's root) with the project's bindings. */
export async function startWorkerEntry(main: string, settings: Settings): Promise<RunningServer> {
  const config = await mkdtemp(join(tmpdir(), "edge-sse-worker-"));
  const removeConfig = () => rm(config, { recursive: true, force: true });
  try {
    const toml = (await readFile(join(ROOT, "wrangler.toml"), "utf8"))
      .replace(/^main = .*$/m, `main = "${join(ROOT, main)}"`)
      .replace(/^directory = .*$/m, `directory = "${join(ROOT, "static")}"`);
    await writeFile(join(config, "wrangler.toml"), toml);
    const server = await startServer("workerd", settings, { args: ["--config", join(config, "wrangler.toml")] });
    return {
      ...server,
      stop: async () => {
        await server.stop();
        await removeConfig();
      },
    };
  } catch (error) {
    await removeConfig();
    throw error;
  }
}
