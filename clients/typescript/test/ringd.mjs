// Starts real ringd processes for the tests: the binary built from this
// repository (or RINGD_BIN), on a free loopback port, with a data
// directory of its own that is removed when it stops.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
let binary = process.env.RINGD_BIN;

/** The ringd binary: RINGD_BIN, or built once with go build. */
export function ringdBinary() {
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), "ringd-ts-bin-"));
    binary = join(dir, "ringd");
    execFileSync("go", ["build", "-o", binary, "./cmd/ringd"], { cwd: repo, stdio: "inherit" });
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return binary;
}

/**
 * Starts ringd with args; resolves to { url, stop } once it serves.
 * @param {string[]} args
 */
export function startRingd(args = []) {
  const data = mkdtempSync(join(tmpdir(), "ringd-ts-data-"));
  const proc = spawn(ringdBinary(), ["-listen", "127.0.0.1:0", "-data", data, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error("ringd did not start:\n" + log)), 60000);
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /msg="ringd serving" addr=(\S+)/.exec(log);
      if (m && timer) {
        clearTimeout(timer);
        const stop = () =>
          new Promise((done) => {
            proc.once("exit", () => {
              rmSync(data, { recursive: true, force: true });
              done();
            });
            proc.kill("SIGTERM");
          });
        resolvePromise({ url: `http://${m[1]}/`, stop, log: () => log });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`ringd exited (${code}) before serving:\n${log}`));
    });
  });
}
