/** An SVG line chart of delivered events/s against N: one panel per runtime, one line per stack. */
import type { Measurement } from "./run.ts";
import { EDGE_SSE, EDGE_SSE_REDIS, EDGE_SSE_REDIS_TWO } from "./targets.ts";

const PANEL = { width: 300, height: 240, left: 58, right: 12, top: 28, bottom: 36 };
const RUNTIMES = [
  ["node", "Node"],
  ["bun", "Bun"],
  ["deno", "Deno"],
] as const;
// Colour-blind-safe (Okabe-Ito); edge-sse gets the strongest and a thicker line.
const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];
// edge-sse on Redis: edge-sse's colour, dashed, so the peers keep their colours.
const DASHES: Record<string, string> = { [EDGE_SSE_REDIS]: "7 4", [EDGE_SSE_REDIS_TWO]: "2 3" };

interface LineStyle {
  colour: string;
  width: number;
  /** The stroke's attributes for a polyline or a legend line. */
  stroke: string;
}

/** The line's look: edge-sse's variants in its colour, the peers in the others. */
function lineStyle(stack: string, peers: string[]): LineStyle {
  const dashes = DASHES[stack];
  const ours = stack === EDGE_SSE || dashes !== undefined;
  const colour = ours ? COLOURS[0] : COLOURS[1 + (peers.indexOf(stack) % (COLOURS.length - 1))];
  const width = stack === EDGE_SSE ? 3.5 : ours ? 2.5 : 1.8;
  const dash = dashes === undefined ? "" : ` stroke-dasharray="${dashes}"`;
  return { colour: colour as string, width, stroke: `stroke="${colour}" stroke-width="${width}"${dash}` };
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A round upper bound for the axis: 1, 2 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1)));
  return ([1, 2, 5, 10].find((step) => step * power >= value) ?? 10) * power;
}

export function throughputChart(results: Measurement[]): string {
  const comparable = results.filter((m) => m.comparable);
  const stacks = [EDGE_SSE, ...new Set(comparable.map((m) => m.stack).filter((stack) => stack !== EDGE_SSE))];
  const peers = stacks.filter((stack) => stack !== EDGE_SSE && DASHES[stack] === undefined);
  const style = (stack: string) => lineStyle(stack, peers);
  const sizes = [...new Set(comparable.map((m) => m.n))].sort((a, b) => a - b);
  const legendHeight = 20 * Math.ceil(stacks.length / 3) + 10;
  const width = PANEL.width * RUNTIMES.length;
  const height = PANEL.height + legendHeight;
  const parts: string[] = [];

  RUNTIMES.forEach(([runtime, name], index) => {
    const rows = comparable.filter((m) => m.runtime === runtime);
    const x0 = index * PANEL.width + PANEL.left;
    const plotWidth = PANEL.width - PANEL.left - PANEL.right;
    const plotHeight = PANEL.height - PANEL.top - PANEL.bottom;
    const yMax = niceCeiling(Math.max(1, ...rows.map((m) => m.burstEventsPerSecond)));
    const x = (n: number) =>
      x0 + (sizes.length < 2 ? plotWidth / 2 : (sizes.indexOf(n) / (sizes.length - 1)) * plotWidth);
    const y = (value: number) => PANEL.top + plotHeight - (value / yMax) * plotHeight;

    parts.push(`<text x="${x0 + plotWidth / 2}" y="18" text-anchor="middle" font-weight="bold">${name}</text>`);
    for (let i = 0; i <= 4; i++) {
      const value = (yMax * i) / 4;
      parts.push(
        `<line x1="${x0}" x2="${x0 + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#8884"/>`,
        `<text x="${x0 - 6}" y="${y(value) + 4}" text-anchor="end">${value >= 1000 ? `${Math.round(value / 1000)}k` : value}</text>`,
      );
    }
    for (const n of sizes) {
      parts.push(
        `<text x="${x(n)}" y="${PANEL.top + plotHeight + 16}" text-anchor="middle">${n.toLocaleString("en")}</text>`,
      );
    }
    parts.push(`<text x="${x0 + plotWidth / 2}" y="${PANEL.height - 4}" text-anchor="middle">subscribers (N)</text>`);
    for (const stack of stacks) {
      const points = rows
        .filter((m) => m.stack === stack)
        .sort((a, b) => a.n - b.n)
        .map((m) => `${x(m.n).toFixed(1)},${y(m.burstEventsPerSecond).toFixed(1)}`);
      if (points.length === 0) continue;
      const { colour, width, stroke } = style(stack);
      parts.push(
        `<polyline points="${points.join(" ")}" fill="none" ${stroke}/>`,
        ...points.map((point) => {
          const [cx, cy] = point.split(",");
          return `<circle cx="${cx}" cy="${cy}" r="${width}" fill="${colour}"/>`;
        }),
      );
    }
  });

  stacks.forEach((stack, i) => {
    const lx = 20 + (i % 3) * (width / 3);
    const ly = PANEL.height + 14 + Math.floor(i / 3) * 20;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" ${style(stack).stroke}/>`,
      `<text x="${lx + 28}" y="${ly}">${escapeXml(stack)}</text>`,
    );
  });

  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">
<title>Delivered events per second against subscribers, burst fan-out</title>
<rect width="100%" height="100%" fill="white"/>
${parts.join("\n")}
</svg>
`;
}
