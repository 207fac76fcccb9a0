// dist/ is committed, so that ringd's web pages and a plain checkout use
// the client with no Node.js step. This test fails when dist/ is not what
// tsc makes of src/ now: run `npm run build` and commit dist/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(pkg, "node_modules", ".bin", "tsc");

test("dist/ is what tsc makes of src/", (t) => {
  if (!existsSync(tsc)) {
    if (process.env.CI === "true") assert.fail("tsc is not installed: run npm ci in clients/typescript");
    t.skip("tsc is not installed: run npm ci in clients/typescript to check dist/");
    return;
  }
  const out = mkdtempSync(join(tmpdir(), "ringd-ts-dist-"));
  try {
    execFileSync(tsc, ["-p", pkg, "--outDir", out], { stdio: "inherit" });
    const want = readdirSync(out).sort();
    assert.deepEqual(readdirSync(join(pkg, "dist")).sort(), want, "files in dist/");
    for (const f of want) {
      assert.equal(readFileSync(join(pkg, "dist", f), "utf8"), readFileSync(join(out, f), "utf8"), `dist/${f} is stale: npm run build`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// The library runs in browsers and React Native too: it names no Node.js
// module or global. (It also compiles with no Node types: tsconfig types [].)
test("dist/ uses no Node.js API", () => {
  for (const f of readdirSync(join(pkg, "dist")).filter((f) => f.endsWith(".js"))) {
    const src = readFileSync(join(pkg, "dist", f), "utf8");
    for (const bad of [/from "node:/, /require\(/, /\bprocess\./, /\bBuffer\b/, /__dirname/]) {
      assert.doesNotMatch(src, bad, `dist/${f}`);
    }
  }
});
