/**
 * Skips that CI turns into failures. A test that needs a system package calls
 * `skipUnless(available, reason)`: locally it skips with the reason printed; with
 * MEDICOSAM_REQUIRE_ALL_TESTS=1 (set by .ci/run) it fails with the same reason.
 */
export const requireAll = process.env.MEDICOSAM_REQUIRE_ALL_TESTS === "1";

/** Returns true when the test should run; throws in CI when it cannot. */
export function canRun(available: boolean, reason: string): boolean {
  if (available) return true;
  if (requireAll) throw new Error(`required test cannot run: ${reason}`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}
