/**
 * Global setup of the `package` project: packs edge-sse once per run (`npm pack`, which builds it
 * with `prepack`), and installs the tarball, with hono and @hono/node-server as its peers, into a
 * fresh project outside this repository, as a user would. Offline: the consumer's lockfile is made
 * from this repository's (same versions, same integrity), so `npm ci --offline` takes everything
 * from npm's cache; the tarball's own entry is `file:` with its sha512. A second project installs
 * the tarball alone, to show the core needs no peer.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");

declare module "vitest" {
  export interface ProvidedContext {
    /** The packed tarball. */
    tarball: string;
    /** A project with the tarball, its peers, and the consumer files of test/package/consumer. */
    consumer: string;
    /** A project with the tarball and nothing else. */
    bare: string;
  }
}

interface LockEntry {
  dependencies?: Record<string, string>;
  [field: string]: unknown;
}

/** The lockfile entries of `names` and everything they depend on, as this repository resolved them. */
function lockEntries(lock: Record<string, LockEntry>, names: string[]): Record<string, LockEntry> {
  const entries: Record<string, LockEntry> = {};
  const todo = [...names];
  for (let name = todo.pop(); name !== undefined; name = todo.pop()) {
    const key = `node_modules/${name}`;
    if (entries[key] !== undefined) continue;
    const entry = lock[key];
    if (entry === undefined) throw new Error(`${name} is not in package-lock.json`);
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    entries[key] = kept;
    todo.push(...Object.keys(entry.dependencies ?? {}));
  }
  return entries;
}

async function installProject(
  dir: string,
  tarball: string,
  peers: string[],
  lock: Record<string, LockEntry>,
): Promise<void> {
  const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
  const bytes = await readFile(tarball);
  const integrity = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
  const spec = `file:${tarball}`;
  const dependencies: Record<string, string> = { "edge-sse": spec };
  for (const peer of peers) dependencies[peer] = String(lock[`node_modules/${peer}`]?.version);
  const packages = {
    "": { name: "consumer", dependencies },
    "node_modules/edge-sse": {
      version: manifest.version,
      resolved: spec,
      integrity,
      license: manifest.license,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies,
      peerDependenciesMeta: manifest.peerDependenciesMeta,
      engines: manifest.engines,
    },
    ...lockEntries(lock, [...peers, ...Object.keys(manifest.dependencies)]),
  };
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module", dependencies }, null, 2),
  );
  await writeFile(
    join(dir, "package-lock.json"),
    JSON.stringify({ name: "consumer", lockfileVersion: 3, requires: true, packages }, null, 2),
  );
  await run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], { cwd: dir });
}

export default async function setup(project: TestProject) {
  const work = await mkdtemp(join(tmpdir(), "edge-sse-package-"));
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  // npm prints the prepack script's output first, then the JSON.
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as { filename: string }[];
  if (packed === undefined) throw new Error(`npm pack printed no tarball:\n${stdout}`);
  const { filename } = packed;
  const tarball = join(work, filename);
  const lock = JSON.parse(await readFile(join(ROOT, "package-lock.json"), "utf8")).packages;

  const consumer = join(work, "consumer");
  const bare = join(work, "bare");
  await cp(join(ROOT, "test/package/consumer"), consumer, { recursive: true });
  await mkdir(bare);
  await Promise.all([
    installProject(
      consumer,
      tarball,
      ["hono", "@hono/node-server", "redis", "@types/node", "@cloudflare/workers-types"],
      lock,
    ),
    installProject(bare, tarball, [], lock),
  ]);
  project.provide("tarball", tarball);
  project.provide("consumer", consumer);
  project.provide("bare", bare);
  return async () => {
    await rm(work, { recursive: true, force: true });
  };
}
