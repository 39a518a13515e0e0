/**
 * The widget's message schema: what a front end may send, and the messages a bad one gets.
 */
import { describe, expect, it } from "vitest";
import {
  ACTION_TYPES,
  ActionError,
  FRONTEND_WRITABLE,
  parseAction,
  parseActionMessage,
  parseSlice,
  windowRange,
} from "../widgets/segment-canvas/common/state.js";

const bounds = { width: 100, height: 50, depth: 4 };

describe("parseAction", () => {
  it("accepts every action type with its fields", () => {
    expect(parseAction({ type: "add_point", x: 0, y: 49, z: 3, positive: false }, bounds)).toEqual({
      type: "add_point",
      x: 0,
      y: 49,
      z: 3,
      positive: false,
    });
    expect(parseAction({ type: "add_point", x: 99, y: 12.5, z: 0, positive: true }, bounds)).toMatchObject({ x: 99, y: 12.5 });
    expect(parseAction({ type: "set_box", x0: 1, y0: 2, x1: 1, y1: 40, z: 1 }, bounds)).toMatchObject({ x1: 1, y1: 40 });
    expect(parseAction({ type: "remove_prompt", id: 7 }, bounds)).toEqual({ type: "remove_prompt", id: 7 });
    expect(parseAction({ type: "remove_object", label: 3 }, bounds)).toEqual({ type: "remove_object", label: 3 });
    for (const type of ["remove_last", "clear", "commit", "undo", "redo", "segment", "propagate"]) {
      expect(parseAction({ type }, bounds)).toEqual({ type });
    }
    expect(parseAction({ type: "segment_everything", z: 3 }, bounds)).toEqual({ type: "segment_everything", z: 3 });
    expect(parseAction({ type: "accept_proposal", id: 2 }, bounds)).toEqual({ type: "accept_proposal", id: 2 });
    expect(parseAction({ type: "drop_proposal", id: 0 }, bounds)).toEqual({ type: "drop_proposal", id: 0 });
    expect(parseAction({ type: "clear_proposals" }, bounds)).toEqual({ type: "clear_proposals" });
    // + stroke, rename_object, relabel_object: tests/widget-edit.test.ts; pick_candidate: tests/widget-candidates.test.ts;
    // repropagate: tests/widget-propagation.test.ts; the proposals' four: above and tests/widget-proposals-kernel.test.ts
    expect(ACTION_TYPES).toHaveLength(20);
  });

  it("checks segment everything's actions: the slice in range, proposal ids whole numbers, no extra fields", () => {
    expect(() => parseAction({ type: "segment_everything", z: 4 }, bounds)).toThrow(/'z' = 4 is outside 0..3/);
    expect(() => parseAction({ type: "segment_everything" }, bounds)).toThrow(/'z' must be an integer/);
    expect(() => parseAction({ type: "accept_proposal", id: 1.5 }, bounds)).toThrow(/'id' must be an integer/);
    expect(() => parseAction({ type: "drop_proposal", id: -1 }, bounds)).toThrow(/outside 0/);
    expect(() => parseAction({ type: "clear_proposals", id: 1 }, bounds)).toThrow(/unexpected field\(s\) id/);
  });

  it("rejects coordinates off the image instead of clipping them", () => {
    expect(() => parseAction({ type: "add_point", x: 100, y: 0, z: 0, positive: true }, bounds)).toThrow(
      /x=100 is outside the image \(x runs 0..99/,
    );
    expect(() => parseAction({ type: "add_point", x: 3, y: -0.5, z: 0, positive: true }, bounds)).toThrow(/y=-0.5 is outside/);
    expect(() => parseAction({ type: "add_point", x: 3, y: 3, z: 4, positive: true }, bounds)).toThrow(/'z' = 4 is outside 0..3/);
    expect(() => parseAction({ type: "set_box", x0: 5, y0: 2, x1: 4, y1: 40, z: 0 }, bounds)).toThrow(/x0 <= x1/);
    expect(() => parseAction({ type: "set_box", x0: 0, y0: 0, x1: 10, y1: 50, z: 0 }, bounds)).toThrow(/y1=50 is outside/);
  });

  it("rejects malformed payloads with what was expected", () => {
    const cases: [unknown, RegExp][] = [
      [null, /must be an object, got null/],
      [[1, 2], /must be an object, got a list/],
      [{ type: "explode" }, /unknown action type "explode"; expected one of add_point/],
      [{}, /unknown action type nothing/],
      [{ type: "add_point", x: "3", y: 1, z: 0, positive: true }, /'x' must be a finite number, got "3"/],
      [{ type: "add_point", x: NaN, y: 1, z: 0, positive: true }, /'x' must be a finite number, got NaN/],
      [{ type: "add_point", x: 1, y: 1, z: 0.5, positive: true }, /'z' must be an integer, got 0.5/],
      [{ type: "add_point", x: 1, y: 1, z: 0, positive: 1 }, /'positive' must be true or false, got 1/],
      [{ type: "add_point", x: 1, y: 1, z: 0 }, /'positive' must be true or false, got nothing/],
      [{ type: "commit", label: 2 }, /commit: unexpected field\(s\) label \(expected none\)/],
      [{ type: "remove_object", label: 0 }, /'label' = 0 is outside 1../],
      [{ type: "remove_prompt", id: -1 }, /'id' = -1 is outside/],
    ];
    for (const [raw, message] of cases) {
      expect(() => parseAction(raw, bounds), JSON.stringify(raw)).toThrow(message);
      expect(() => parseAction(raw, bounds)).toThrow(ActionError);
    }
  });
});

describe("parseActionMessage", () => {
  it("checks the envelope, then the action", () => {
    const ok = parseActionMessage({ kind: "action", client: "c1", seq: 0, action: { type: "undo" } }, bounds);
    expect(ok).toEqual({ kind: "action", client: "c1", seq: 0, action: { type: "undo" } });
    expect(() => parseActionMessage({ kind: "hello" }, bounds)).toThrow(/unknown message kind "hello"/);
    expect(() => parseActionMessage({ kind: "action", client: "", seq: 0, action: {} }, bounds)).toThrow(/'client' must be a string/);
    expect(() => parseActionMessage({ kind: "action", client: "x".repeat(65), seq: 0, action: {} }, bounds)).toThrow(/1..64/);
    expect(() => parseActionMessage({ kind: "action", client: "c", seq: 1.5, action: {} }, bounds)).toThrow(/'seq' must be/);
    expect(() => parseActionMessage({ kind: "action", client: "c", seq: 1, action: { type: "nope" } }, bounds)).toThrow(/unknown action type/);
    expect(() => parseActionMessage("action", bounds)).toThrow(/must be an object, got "action"/);
  });
});

describe("state helpers", () => {
  it("only lets a front end write the slice", () => {
    expect(FRONTEND_WRITABLE).toEqual(["slice"]);
    expect(parseSlice(3, 4)).toBe(3);
    expect(() => parseSlice(4, 4)).toThrow(/integer in 0..3, got 4/);
    expect(() => parseSlice("2", 4)).toThrow(/got "2"/);
  });

  it("maps a window to 0..255 the way a CT viewer does", () => {
    // abdomen window: level 40, width 400 -> [-160, 240]
    const { low, scale } = windowRange({ level: 40, width: 400 });
    expect(low).toBe(-160);
    expect((240 - low) * scale).toBeCloseTo(255, 10);
    expect((40 - low) * scale).toBeCloseTo(127.5, 10);
  });
});
