// @ts-check
/**
 * The linter, configured once (`npm run lint`, run by .ci/run): ESLint's and typescript-eslint's
 * recommended rules. Syntax-only on purpose: `npm run typecheck` already runs the compiler over
 * every file, and the type-aware rule sets would re-run it inside ESLint.
 * Globals follow where code runs: Node by default, the browser for the canvas's browser side,
 * the harness page and the JupyterLab host's sources; the host's webpack files are CommonJS.
 */
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "dist/**",
      "out/**",
      ".cache/**",
      "bench/.models/**",
      "bench/results/**",
      "test-artifacts/**",
      "widgets/labextension/lib/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a parameter or binding kept for its position (callbacks, destructuring).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["widgets/segment-canvas/browser/**", "widgets/harness/page/**", "widgets/labextension/src/**", "tests/e2e/lab-host/src/**"],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ["tests/e2e/lab-host/webpack.config.js", "tests/e2e/lab-host/build.js"],
    languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
