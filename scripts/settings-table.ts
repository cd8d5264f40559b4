/**
 * README.md's configuration table, made from the settings' declarations in src/config.ts so that the
 * two cannot drift apart: `npm run docs:settings` writes it into README.md, and
 * test/app/settings.test.ts fails when README.md holds another.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LISTEN_SETTINGS, SETTINGS, type Setting } from "../src/config.ts";

export const TABLE_START = "<!-- settings: made from src/config.ts by `npm run docs:settings` -->";
export const TABLE_END = "<!-- /settings -->";

/** The table, padded as a Markdown formatter would leave it. */
export function settingsTable(): string {
  const settings: Setting<unknown>[] = [...Object.values(LISTEN_SETTINGS), ...Object.values(SETTINGS)];
  const rows = [
    ["variable", "default", "meaning"],
    ...settings.map((setting) => [`\`${setting.env}\``, setting.defaultDoc, setting.doc]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  const [header = [], ...body] = rows;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...body.map(line)].join("\n");
}

/** README.md's text with the table between its markers made anew. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end < start) throw new Error(`README.md has no ${TABLE_START} ... ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n\n${settingsTable()}\n\n${readme.slice(end)}`;
}

export const README = fileURLToPath(new URL("../README.md", import.meta.url));

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(README, withSettingsTable(readFileSync(README, "utf8")));
}
