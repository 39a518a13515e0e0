/**
 * `npm run demo` as a new user runs it: the compiled CLI on the shipped volume and model,
 * writing a label map, pictures, a Dice table and an offline HTML report.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openVolume } from "../kernel/io/volume-open.js";

const out = mkdtempSync(join(tmpdir(), "medicosam-demo-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("medicosam demo", () => {
  it("writes the label map, overlays, Dice table and an offline report that names the model", async () => {
    const r = spawnSync(process.execPath, ["bin/medicosam.js", "demo", "--out", out], { encoding: "utf8", timeout: 240_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    // Whatever model ran, the outputs say what it is (the demo and test models are not MedicoSAM).
    if (results.model !== "medicosam") expect(r.stdout).toMatch(/not MedicoSAM/);
    expect(results.rows.map((row: { step: string }) => row.step)).toEqual(["box", "click", "click + 1 correction", "3D propagation"]);
    for (const row of results.rows) expect(row.dice).toBeGreaterThan(0.3); // a real overlap, whatever the model
    const report = readFileSync(join(out, "report.html"), "utf8");
    expect(report).not.toMatch(/(src|href)="https?:/); // opens without a network
    expect(report.match(/data:image\/png;base64,/g)?.length).toBe(4);
    if (results.notice) expect(report).toContain(results.notice);
    const csv = readFileSync(join(out, "dice.csv"), "utf8").trim().split("\n");
    expect(csv).toHaveLength(1 + results.rows.length);
    // The label map lands in the source's world: same dims and affine as the shipped volume.
    const labels = await openVolume(join(out, "labels.nii.gz"));
    const source = await openVolume("data/samples/ct-phantom.nii.gz");
    expect(labels.dims).toEqual(source.dims);
    expect(labels.affine).toEqual(source.affine);
    const ids = new Set(labels.data);
    expect([...ids].sort()).toEqual([0, 1, 2]);
  });
});
