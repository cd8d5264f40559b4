#!/usr/bin/env node
/**
 * What a fresh machine needs before `npm start` or `npm test`, run by npm itself (the `prestart` and
 * `pretest` scripts): the README's two commands are then all a new user types.
 *
 *   node scripts/setup.mjs start   node_modules, installed with `npm ci` when missing or stale
 *   node scripts/setup.mjs test    the same, then the Debian packages the tests drive
 *
 * It runs before node_modules exists, so it imports only Node's own modules. It does nothing when all
 * is in place, and when it may not install (not root, no `sudo -n`, no apt-get) it stops at once with
 * the one command to run, instead of letting the tests fail one by one.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const task = process.argv[2];
if (task !== "start" && task !== "test") {
  console.error("usage: node scripts/setup.mjs start|test");
  process.exit(2);
}

// Real parts the tests drive that npm cannot bring (see test/support/): the binary each test looks
// for, and the Debian package that provides it.
const SYSTEM_PACKAGES = [
  { binary: "/usr/bin/chromium", package: "chromium" }, // test/e2e/browser.test.ts (playwright-core)
  { binary: "nginx", package: "nginx-light" }, // test/e2e/nginx.test.ts
  { binary: "redis-server", package: "redis-server" }, // the Redis hub's tests
  { binary: "promtool", package: "prometheus" }, // the metrics tests: promtool check metrics
  // nchan, the benchmark's C peer (bench/peers/nchan.ts): a module, not a program, hence a file.
  { file: "/usr/lib/nginx/modules/ngx_nchan_module.so", package: "libnginx-mod-nchan" },
];

// The tests start servers with `npm start` (test/support/server.ts): inside a test run, whoever started
// it has set up already, and an `npm ci` there would pull node_modules from under the running tests.
if (process.env.VITEST) process.exit(0);

ensureNodeModules();
if (task === "test") ensureSystemPackages();

function ensureNodeModules() {
  const stale = staleReason();
  if (!stale) return;
  say(`node_modules ${stale}: running npm ci`);
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) fail("npm ci failed (see above); fix that, then run the command again");
}

/**
 * Why node_modules does not match package-lock.json, or undefined when it does. npm keeps what it
 * installed in node_modules/.package-lock.json; a package the lockfile marks optional may be absent
 * (another platform's binary), any other must be there at the locked version.
 */
function staleReason() {
  const installedPath = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(installedPath)) return "is missing";
  const locked = readPackages(join(root, "package-lock.json"));
  const installed = readPackages(installedPath);
  for (const [path, entry] of Object.entries(locked)) {
    if (path === "" || entry.link) continue;
    const have = installed[path];
    if (!have && !entry.optional) return `is out of date (${path.replace(/^.*node_modules\//, "")} is not installed)`;
    if (have && have.version !== entry.version) {
      return `is out of date (${path.replace(/^.*node_modules\//, "")} ${have.version}, locked ${entry.version})`;
    }
  }
  for (const path of Object.keys(installed)) {
    if (!(path in locked)) return `is out of date (${path.replace(/^.*node_modules\//, "")} is no longer locked)`;
  }
  return undefined;
}

function readPackages(path) {
  return JSON.parse(readFileSync(path, "utf8")).packages ?? {};
}

function ensureSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter((entry) => !isInstalled(entry)).map((entry) => entry.package);
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(" ")}`;
  if (!findBinary("apt-get")) {
    fail(`the tests need ${missing.join(", ")} (Debian package names); install them with your package manager`);
  }
  const asRoot = process.getuid?.() === 0;
  const sudo = !asRoot && findBinary("sudo") && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
  if (!asRoot && !sudo) fail(`the tests need ${missing.join(", ")}: run  sudo apt-get update && sudo ${command}`);

  say(`installing ${missing.join(", ")} with apt-get${sudo ? " (sudo)" : ""}`);
  const started = Date.now();
  // No questions (CI has no stdin), and wait for another apt-get to finish rather than fail.
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const options = ["-qq", "-o", "DPkg::Lock::Timeout=600", "-o", "Dpkg::Use-Pty=0"];
  const apt = (args) => {
    const argv = sudo ? ["sudo", "-n", "--preserve-env=DEBIAN_FRONTEND", "apt-get", ...args] : ["apt-get", ...args];
    const result = spawnSync(argv[0], argv.slice(1), { env, encoding: "utf8", maxBuffer: 64 << 20 });
    // Quiet when it works; everything apt-get said when it does not.
    if (result.status !== 0) {
      process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`);
      fail(`apt-get ${args.join(" ")} failed (see above); run  ${sudo ? "sudo " : ""}${command}`);
    }
  };
  apt([...options, "update"]);
  apt([...options, "install", "-y", ...missing]);
  const still = SYSTEM_PACKAGES.filter((entry) => !isInstalled(entry)).map((entry) => entry.binary ?? entry.file);
  if (still.length > 0) fail(`installed, yet ${still.join(", ")} still missing`);
  say(`installed ${missing.join(", ")} in ${Math.round((Date.now() - started) / 1000)} s`);
}

function isInstalled(entry) {
  return entry.file ? existsSync(entry.file) : findBinary(entry.binary);
}

/** An absolute path that is executable, or a name found on PATH (or in the sbin folders root has). */
function findBinary(name) {
  if (name.startsWith("/")) return isExecutable(name);
  const folders = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  return folders.some((folder) => folder && isExecutable(join(folder, name)));
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function say(line) {
  console.log(`setup: ${line}`);
}

function fail(line) {
  console.error(`setup: ${line}`);
  process.exit(1);
}
