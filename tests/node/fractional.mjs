// Reads JSON cases on stdin ([a, b] or [a, b, n], one a line) and prints, one a line, what
// the npm package fractional-indexing answers: {"key": ...}, {"keys": [...]} or {"error": true}.
import { generateKeyBetween, generateNKeysBetween } from "fractional-indexing";
import { createInterface } from "node:readline";

const lines = createInterface({ input: process.stdin });
const out = [];
for await (const line of lines) {
  if (!line.trim()) continue;
  const [a, b, n] = JSON.parse(line);
  try {
    out.push(JSON.stringify(n == null ? { key: generateKeyBetween(a, b) } : { keys: generateNKeysBetween(a, b, n) }));
  } catch {
    out.push(JSON.stringify({ error: true }));
  }
}
process.stdout.write(out.join("\n") + "\n");
