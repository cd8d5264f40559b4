/**
 * Reading a `/metrics` answer in tests: Debian's promtool checks it (exit 1: it cannot parse it,
 * 3: lint problems), and single samples are read by name and labels.
 */
import { spawnSync } from "node:child_process";

export const PROMTOOL_PATH = "/usr/bin/promtool";

/** What `promtool check metrics` says of an exposition: its exit code and everything it printed. */
export function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL_PATH, ["check", "metrics"], { input: exposition, encoding: "utf8" });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The value of the sample `name{labels}` (labels as written, e.g. `kind="feed"`), or undefined. */
export function sample(exposition: string, name: string, labels = ""): number | undefined {
  const series = labels === "" ? name : `${name}{${labels}}`;
  for (const line of exposition.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
